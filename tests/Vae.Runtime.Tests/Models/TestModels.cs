using Vae;

namespace Vae.Runtime.Tests.Models;

// Architectures the parity tests run on: every activation, every likelihood, sizes 1, 3, 17 and 129,
// three hidden layers a side, no hidden layers at all, Beta != 1 and LatentSamples > 1.

/// <summary>The default Fashion-MNIST model.</summary>
[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class DefaultVae;

/// <summary>Every size is 1.</summary>
[VariationalAutoencoder(Input = 1, Latent = 1, Likelihood = Likelihood.Gaussian, Sigma = 0.5)]
[Encoder(1, Activation.Tanh)]
[Decoder(1, Activation.Sigmoid)]
public partial class TinyVae;

/// <summary>Three hidden layers a side, six activations, three samples per example.</summary>
[VariationalAutoencoder(Input = 17, Latent = 3, Likelihood = Likelihood.Bernoulli, Beta = 0.5, LatentSamples = 3)]
[Encoder(129, Activation.Gelu)]
[Encoder(17, Activation.Elu)]
[Encoder(3, Activation.Softplus)]
[Decoder(3, Activation.LeakyRelu)]
[Decoder(17, Activation.Tanh)]
[Decoder(129, Activation.Sigmoid)]
public partial class DeepVae;

/// <summary>Kingma and Welling's Gaussian MLP with a learned variance head.</summary>
[VariationalAutoencoder(Input = 129, Latent = 17, Likelihood = Likelihood.GaussianLearnedVariance, Beta = 2, LatentSamples = 2)]
[Encoder(129, Activation.Relu)]
[Decoder(17, Activation.Identity)]
public partial class LearnedVarianceVae;

/// <summary>No hidden layers: linear heads straight from the input, a linear decoder.</summary>
[VariationalAutoencoder(Input = 3, Latent = 1)]
public partial class LinearVae;

/// <summary>Identity and sigmoid layers, a fixed-variance Gaussian with sigma 2 and no KL weight.</summary>
[VariationalAutoencoder(Input = 33, Latent = 5, Likelihood = Likelihood.Gaussian, Sigma = 2, Beta = 0)]
[Encoder(64, Activation.Identity)]
[Encoder(31, Activation.Sigmoid)]
[Decoder(7, Activation.Gelu)]
public partial class MixedVae;

/// <summary>Three ReLU layers a side with widths that are not multiples of the vector tiles.</summary>
[VariationalAutoencoder(Input = 129, Latent = 17, Likelihood = Likelihood.Bernoulli, Beta = 1.5)]
[Encoder(65, Activation.Relu)]
[Encoder(33, Activation.LeakyRelu)]
[Encoder(19, Activation.Relu)]
[Decoder(19, Activation.Elu)]
[Decoder(33, Activation.Relu)]
[Decoder(65, Activation.Softplus)]
public partial class WideVae;

/// <summary>SiLU on both sides, the last activation added to the catalogue, with two samples per example.</summary>
[VariationalAutoencoder(Input = 19, Latent = 4, Likelihood = Likelihood.Bernoulli, LatentSamples = 2)]
[Encoder(33, Activation.Silu)]
[Decoder(17, Activation.Silu)]
public partial class SiluVae;

/// <summary>The importance-weighted bound over K = 4 samples, a fixed-sigma Gaussian and two activations.</summary>
[VariationalAutoencoder(Input = 11, Latent = 3, Likelihood = Likelihood.Gaussian, Sigma = 0.7, LatentSamples = 4, Objective = Objective.ImportanceWeighted)]
[Encoder(13, Activation.Tanh)]
[Decoder(9, Activation.Softplus)]
public partial class IwaeVae;

/// <summary>The importance-weighted bound with the DReG estimator, K = 3, Bernoulli pixels, two layers a side.</summary>
[VariationalAutoencoder(Input = 17, Latent = 5, LatentSamples = 3, Objective = Objective.ImportanceWeightedDReG)]
[Encoder(19, Activation.Gelu)]
[Encoder(7, Activation.Elu)]
[Decoder(8, Activation.Relu)]
[Decoder(15, Activation.Sigmoid)]
public partial class DregVae;

/// <summary>The ELBO with free bits (0.05 nats a dimension): some dimensions sit at the floor, some above it.</summary>
[VariationalAutoencoder(Input = 10, Latent = 6, Likelihood = Likelihood.GaussianLearnedVariance, Beta = 1.3, LatentSamples = 2, FreeBits = 0.05)]
[Encoder(12, Activation.LeakyRelu)]
[Decoder(12, Activation.Tanh)]
public partial class FreeBitsVae;

/// <summary>A conditional model: four classes appended to x and to each of two latent samples.</summary>
[VariationalAutoencoder(Input = 9, Latent = 3, LatentSamples = 2)]
[Conditional(Classes = 4)]
[Encoder(11, Activation.Tanh)]
[Decoder(10, Activation.Gelu)]
public partial class ConditionalVae;

/// <summary>Conditional with no hidden layers: the heads read [x | y] and the output layer reads [z | y]; the importance-weighted bound.</summary>
[VariationalAutoencoder(Input = 6, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance, LatentSamples = 3, Objective = Objective.ImportanceWeighted)]
[Conditional(Classes = 3)]
public partial class ConditionalLinearVae;

/// <summary>
/// Convolutions on both sides around dense layers, odd image sizes: 1x8x6 -> Conv2d(3, k3, s2, p1) 3x4x3 -> Conv2d(4, k2)
/// 4x3x2 -> 5 -> [2] -> 18 -> 3x3x2 -> ConvTranspose2d(2, k3, s2, output padding 1) 2x8x6 -> ConvTranspose2d(1, k1) 1x8x6.
/// </summary>
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 8, 6)]
[EncoderConv2d(3, 3, 2, 1, Activation.Relu)]
[EncoderConv2d(4, 2, 1, 0, Activation.Tanh)]
[Encoder(5, Activation.Elu)]
[Decoder(18, Activation.Relu)]
[DecoderReshape(3, 3, 2)]
[DecoderConvTranspose2d(2, 3, 2, 0, 1, Activation.Sigmoid)]
[DecoderConvTranspose2d(1, 1, 1, 0, 0, Activation.Identity)]
public partial class ConvVae;

/// <summary>Convolutions only: two channels in, the heads straight after the convolution, z reshaped to 3x1x1, a Gaussian decoder.</summary>
[VariationalAutoencoder(Latent = 3, Likelihood = Likelihood.Gaussian, Sigma = 0.6, LatentSamples = 2)]
[ImageInput(2, 5, 5)]
[EncoderConv2d(3, 3, 1, 0, Activation.Gelu)]
[DecoderReshape(3, 1, 1)]
[DecoderConvTranspose2d(4, 3, 1, 0, 0, Activation.Softplus)]
[DecoderConvTranspose2d(2, 3, 1, 0, 0, Activation.Identity)]
public partial class ConvOnlyVae;

// More convolutional shapes for the parity tiers: three channels, odd sizes, kernels 1, 3, 4, 5, strides 1, 2, 3,
// paddings 0, 1, 2, output padding, dense layers before and after.

/// <summary>3x13x16 through a stride-3 kernel-5 convolution (2x5x6) and back from 2x4x5 with padding 1 and output padding 1.</summary>
[VariationalAutoencoder(Latent = 4, Likelihood = Likelihood.Gaussian, Sigma = 1.3)]
[ImageInput(3, 13, 16)]
[EncoderConv2d(2, 5, 3, 2, Activation.LeakyRelu)]
[Encoder(7, Activation.Tanh)]
[Decoder(40, Activation.Relu)]
[DecoderReshape(2, 4, 5)]
[DecoderConvTranspose2d(3, 5, 3, 1, 1, Activation.Identity)]
public partial class ConvStride3Vae;

/// <summary>Kernel 1 and kernel 4 with padding 2 on a 2x9x9 image, Bernoulli, two latent samples.</summary>
[VariationalAutoencoder(Latent = 3, LatentSamples = 2, Beta = 0.8)]
[ImageInput(2, 9, 9)]
[EncoderConv2d(3, 1, 1, 0, Activation.Softplus)]
[EncoderConv2d(4, 4, 2, 2, Activation.Silu)]
[Decoder(36, Activation.Sigmoid)]
[DecoderReshape(4, 3, 3)]
[DecoderConvTranspose2d(2, 4, 3, 1, 1, Activation.Gelu)]
[DecoderConvTranspose2d(2, 1, 1, 0, 0, Activation.Identity)]
public partial class ConvKernelsVae;

/// <summary>The importance-weighted bound on a small convolutional model (stride 2 with output padding 1).</summary>
[VariationalAutoencoder(Latent = 2, LatentSamples = 3, Objective = Objective.ImportanceWeighted)]
[ImageInput(1, 6, 6)]
[EncoderConv2d(2, 3, 2, 1, Activation.Relu)]
[DecoderReshape(2, 1, 1)]
[DecoderConvTranspose2d(3, 3, 1, 0, 0, Activation.Elu)]
[DecoderConvTranspose2d(1, 3, 2, 1, 1, Activation.Identity)]
public partial class ConvIwaeVae;

// BatchNorm2d after convolutions (Conv -> BatchNorm -> activation), for the BatchNorm parity tiers.

/// <summary>
/// BatchNorm on both sides, one channel in, dense layers before and after: 1x7x9 -> Conv2d(3, k3, s2, p1) + BatchNorm, Relu
/// 3x4x5 -> Conv2d(4, k3, p1) Tanh -> 6 -> [2] -> 24 -> 2x3x4 -> ConvTranspose2d(3, k3, s2, p1, op1) + BatchNorm, Silu
/// 3x6x8 -> ConvTranspose2d(1, k2) 1x7x9.
/// </summary>
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 7, 9)]
[EncoderConv2d(3, 3, 2, 1, Activation.Relu, BatchNorm = true)]
[EncoderConv2d(4, 3, 1, 1, Activation.Tanh)]
[Encoder(6, Activation.Elu)]
[Decoder(24, Activation.Relu)]
[DecoderReshape(2, 3, 4)]
[DecoderConvTranspose2d(3, 3, 2, 1, 1, Activation.Silu, BatchNorm = true)]
[DecoderConvTranspose2d(1, 2, 1, 0, 0, Activation.Identity)]
public partial class ConvBatchNormVae;

/// <summary>
/// Three channels, convolutions only, BatchNorm everywhere it can go (the last encoder one on a 1x1 image with the
/// identity after it, so a batch of one has a single value per channel there), a Gaussian decoder with two latent samples (the
/// decoder's BatchNorm normalises over examples times samples).
/// </summary>
[VariationalAutoencoder(Latent = 3, Likelihood = Likelihood.Gaussian, Sigma = 0.7, LatentSamples = 2)]
[ImageInput(3, 6, 6)]
[EncoderConv2d(4, 3, 2, 1, Activation.LeakyRelu, BatchNorm = true)]
[EncoderConv2d(2, 3, 1, 0, Activation.Identity, BatchNorm = true)]
[DecoderReshape(3, 1, 1)]
[DecoderConvTranspose2d(4, 3, 1, 0, 0, Activation.Gelu, BatchNorm = true)]
[DecoderConvTranspose2d(3, 4, 2, 1, 0, Activation.Identity)]
public partial class ConvBatchNormRgbVae;

/// <summary>BatchNorm on the decoder side only: 3x5x7, Bernoulli, a kernel-1 transposed convolution with BatchNorm and Sigmoid.</summary>
[VariationalAutoencoder(Latent = 2, Beta = 0.5)]
[ImageInput(3, 5, 7)]
[EncoderConv2d(2, 3, 1, 0, Activation.Softplus)]
[Encoder(5, Activation.Tanh)]
[Decoder(30, Activation.Relu)]
[DecoderReshape(2, 3, 5)]
[DecoderConvTranspose2d(4, 1, 1, 0, 0, Activation.Sigmoid, BatchNorm = true)]
[DecoderConvTranspose2d(3, 3, 1, 0, 0, Activation.Identity)]
public partial class ConvBatchNormDecoderVae;
