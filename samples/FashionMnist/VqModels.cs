namespace Vae.Samples.Fashion;

// The VQ-VAE of --model vq: layer for layer the PyTorch peer ../shared/peers/torch_vqvae.py (van den Oord et al. 2017).
// Encoder 1x28x28 -> Conv2d(32, 4, s2, p1) ReLU -> Conv2d(64, 4, s2, p1) ReLU -> Conv2d(D, 1) = z_e, D x 7 x 7: each of
// the 49 positions is replaced by the nearest of K codes. Decoder D x 7 x 7 -> ConvTranspose2d(64, 4, s2, p1) ReLU ->
// ConvTranspose2d(32, 4, s2, p1) ReLU -> the peer's Conv2d(1, 3, p1), written as the stride-1 ConvTranspose2d(1, 3, p1)
// of the same family (docs/ARCHITECTURE.md). Loss: mean squared error per pixel + Commitment x mean squared distance
// of z_e to its codes (plus the codebook loss when Decay = 0, the peer's --no-ema).
//
// The sizes are compiled, so every choice of --codes, --dim, --decay and --restart-after is a class here: K in {128, 512},
// D in {16, 64}, Decay in {0.99, 0 (codebook trained by Adam)}, RestartAfter in {0 (none, the peer), 100 (the library's
// default)}, Commitment 0.25, in every combination. FashionVq128x16 is the peer's model with its defaults exactly.

/// <summary>The peer's model and the default of --model vq: K = 128, D = 16, EMA decay 0.99, no restarts.</summary>
[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0.99, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x16;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0.99, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x16Restart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x16Adam;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x16AdamRestart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 64, Commitment = 0.25, Decay = 0.99, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x64;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 64, Commitment = 0.25, Decay = 0.99, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x64Restart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 64, Commitment = 0.25, Decay = 0, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x64Adam;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 64, Commitment = 0.25, Decay = 0, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq128x64AdamRestart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 16, Commitment = 0.25, Decay = 0.99, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x16;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 16, Commitment = 0.25, Decay = 0.99, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x16Restart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 16, Commitment = 0.25, Decay = 0, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x16Adam;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 16, Commitment = 0.25, Decay = 0, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x16AdamRestart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 64, Commitment = 0.25, Decay = 0.99, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x64;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 64, Commitment = 0.25, Decay = 0.99, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x64Restart100;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 64, Commitment = 0.25, Decay = 0, RestartAfter = 0)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x64Adam;

[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 64, Commitment = 0.25, Decay = 0, RestartAfter = 100)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 1, 1, 0, Activation.Identity)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionVq512x64AdamRestart100;
