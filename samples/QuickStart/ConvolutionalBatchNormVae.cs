using Vae;

// The Keras example's model with PyTorch's usual Conv -> BatchNorm2d -> activation blocks on both sides.
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 3, 2, 1, Activation.Relu, BatchNorm = true)]   // Conv2d -> BatchNorm2d -> ReLU
[EncoderConv2d(64, 3, 2, 1, Activation.Relu, BatchNorm = true)]
[Encoder(16, Activation.Relu)]
[Decoder(3136, Activation.Relu)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu, BatchNorm = true)]
[DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu, BatchNorm = true)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]       // the output layer: no BatchNorm
public partial class ConvolutionalBatchNormVae;
