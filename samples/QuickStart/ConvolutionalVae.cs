using Vae;

// The Keras example's convolutional VAE, every shape computed when the project builds:
// 1x28x28-32x14x14-64x7x7-16-[2]-3136-64x7x7-64x14x14-32x28x28-1x28x28.
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
[Encoder(16, Activation.Relu)]
[Decoder(3136, Activation.Relu)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class ConvolutionalVae;
