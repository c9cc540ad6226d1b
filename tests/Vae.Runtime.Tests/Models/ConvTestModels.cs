using Vae;

namespace Vae.Runtime.Tests.Models;

// Convolutional shapes the other parity models do not reach: an odd 13x17 image, kernel 5 with stride 3 on both sides,
// and channel counts past one register tile (32 or more) so the CPU's im2col products run their full tiles and
// deeper-than-one-block panels inside a whole model.

/// <summary>3x13x17 -> Conv2d(8, k3, s1, p1) 8x13x17 -> Conv2d(6, k4, s2, p2) 6x7x9 -> 10 -> [3] -> 378 -> 6x7x9 -> ConvTranspose2d(4, k3, s2, p1) 4x13x17 -> ConvTranspose2d(3, k1) 3x13x17.</summary>
[VariationalAutoencoder(Latent = 3, Likelihood = Likelihood.Gaussian, Sigma = 0.8)]
[ImageInput(3, 13, 17)]
[EncoderConv2d(8, 3, 1, 1, Activation.Relu)]
[EncoderConv2d(6, 4, 2, 2, Activation.Tanh)]
[Encoder(10, Activation.Gelu)]
[Decoder(378, Activation.Relu)]
[DecoderReshape(6, 7, 9)]
[DecoderConvTranspose2d(4, 3, 2, 1, 0, Activation.Elu)]
[DecoderConvTranspose2d(3, 1, 1, 0, 0, Activation.Identity)]
public partial class ConvOddVae;

/// <summary>1x11x11 -> Conv2d(5, k5, s1, p2) 5x11x11 -> Conv2d(7, k3, s3) 7x3x3 -> [2] -> 27 -> 3x3x3 -> ConvTranspose2d(4, k5, s3) 4x11x11 -> ConvTranspose2d(1, k3, s1, p1) 1x11x11, Bernoulli.</summary>
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 11, 11)]
[EncoderConv2d(5, 5, 1, 2, Activation.Elu)]
[EncoderConv2d(7, 3, 3, 0, Activation.Relu)]
[Decoder(27, Activation.Softplus)]
[DecoderReshape(3, 3, 3)]
[DecoderConvTranspose2d(4, 5, 3, 0, 0, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class ConvDeepVae;

/// <summary>3x8x8 -> Conv2d(40, k3, s1, p1) -> Conv2d(36, k4, s2, p1) 36x4x4 -> [4] -> 576 -> 36x4x4 -> ConvTranspose2d(33, k4, s2, p1) 33x8x8 -> ConvTranspose2d(3, k3, s1, p1), Bernoulli.</summary>
[VariationalAutoencoder(Latent = 4)]
[ImageInput(3, 8, 8)]
[EncoderConv2d(40, 3, 1, 1, Activation.Relu)]
[EncoderConv2d(36, 4, 2, 1, Activation.Silu)]
[Decoder(576, Activation.Relu)]
[DecoderReshape(36, 4, 4)]
[DecoderConvTranspose2d(33, 4, 2, 1, 0, Activation.Tanh)]
[DecoderConvTranspose2d(3, 3, 1, 1, 0, Activation.Identity)]
public partial class ConvWideVae;

/// <summary>
/// A learned variance from a transposed convolution: 2x9x11 -> Conv2d(6, k3, s2, p1) 6x5x6 -> 12 -> [3] -> 120 -> 4x5x6
/// -> ConvTranspose2d(5, k3, s2, p1) 5x9x11 -> ConvTranspose2d(4, k3, s1, p1) 4x9x11: two mean planes, then two
/// log-variance planes.
/// </summary>
[VariationalAutoencoder(Latent = 3, Likelihood = Likelihood.GaussianLearnedVariance)]
[ImageInput(2, 9, 11)]
[EncoderConv2d(6, 3, 2, 1, Activation.Relu)]
[Encoder(12, Activation.Tanh)]
[Decoder(120, Activation.Relu)]
[DecoderReshape(4, 5, 6)]
[DecoderConvTranspose2d(5, 3, 2, 1, 0, Activation.Elu)]
[DecoderConvTranspose2d(4, 3, 1, 1, 0, Activation.Identity)]
public partial class ConvLearnedVarianceVae;
