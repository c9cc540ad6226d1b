using Vae;

// The VQ-VAE of ../shared/peers/torch_vqvae.py: z_e is 16 x 7 x 7, each of its 49 positions replaced by the nearest of
// 128 codes; mean squared error per pixel plus 0.25 x the commitment term; the codebook follows moving averages.
[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0.99)]    // RestartAfter = 100 by default
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]  // the peer's Conv2d(32, 1, 3, padding 1), kernel flipped
public partial class VectorQuantizedVae;
