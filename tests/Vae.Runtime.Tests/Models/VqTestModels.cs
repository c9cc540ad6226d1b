namespace Vae.Runtime.Tests.Models;

/// <summary>The PyTorch peer's VQ-VAE (torch_vqvae.py) with K = 128, D = 16: 1x28x28 -> 16x7x7 codes -> 1x28x28, EMA, mean squared error.</summary>
[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0.99)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
[EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
[DecoderReshape(16, 7, 7)]
[DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class PeerVqVae;

/// <summary>Dense encoder cut into vectors of 2, the codebook trained by the optimiser (Decay 0), 5 codes.</summary>
[VariationalAutoencoder(Input = 12, Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 5, Dimension = 2, Commitment = 0.4, Decay = 0, RestartAfter = 2)]
[Encoder(10, Activation.Tanh)]
[Encoder(8, Activation.Identity)]
[Decoder(9, Activation.Relu)]
public partial class DenseVq;

/// <summary>A small convolutional VQ-VAE with EMA: 1x6x6 -> 3x3x3 (9 positions of D = 3, K = 7) -> 1x6x6.</summary>
[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 7, Dimension = 3, Commitment = 0.25, Decay = 0.9, RestartAfter = 3)]
[ImageInput(1, 6, 6)]
[EncoderConv2d(3, 3, 2, 1, Activation.Relu)]
[DecoderReshape(3, 3, 3)]
[DecoderConvTranspose2d(2, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class ConvVq;

/// <summary>The smallest codebook and code: K = 2, D = 1, Bernoulli pixels, EMA, no restarts.</summary>
[VariationalAutoencoder(Input = 7)]
[VectorQuantized(Codes = 2, Dimension = 1, Decay = 0.5, RestartAfter = 0)]
[Encoder(3, Activation.Identity)]
[Decoder(5, Activation.Elu)]
public partial class TinyVq;

/// <summary>A wide codebook of long codes: K = 512, D = 64, two vectors per example, EMA.</summary>
[VariationalAutoencoder(Input = 20, Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 512, Dimension = 64, Commitment = 0.1, Decay = 0.99)]
[Encoder(128, Activation.Identity)]
[Decoder(16, Activation.Tanh)]
public partial class WideVq;

/// <summary>
/// Colour and odd sizes with the codebook trained by the optimiser: 3x9x7 -> Conv2d(8, k3, s2, p1) 8x5x4 (20 positions
/// of D = 8, K = 64, Decay 0) -> ConvTranspose2d(6, k3, s2, p1) 6x9x7 -> ConvTranspose2d(3, k1), restarts after 1 step.
/// </summary>
[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
[VectorQuantized(Codes = 64, Dimension = 8, Commitment = 0.3, Decay = 0, RestartAfter = 1)]
[ImageInput(3, 9, 7)]
[EncoderConv2d(8, 3, 2, 1, Activation.Gelu)]
[DecoderReshape(8, 5, 4)]
[DecoderConvTranspose2d(6, 3, 2, 1, 0, Activation.Silu)]
[DecoderConvTranspose2d(3, 1, 1, 0, 0, Activation.Identity)]
public partial class ColourVq;
