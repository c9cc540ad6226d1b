using Vae;

namespace Vae.Runtime.Tests.Models;

// Conditional models with convolutions: the label joins the encoder after its convolutions (flattened), and z before
// the decoder's first dense layer, whatever follows it.

/// <summary>1x8x8 -> Conv2d(3, k3, s2, p1) 3x4x4 -> [48 | y4] -> 10 -> [2] -> [z | y4] -> 32 -> 2x4x4 -> ConvTranspose2d(1, k4, s2, p1) 1x8x8, Bernoulli.</summary>
[VariationalAutoencoder(Latent = 2)]
[Conditional(Classes = 4)]
[ImageInput(1, 8, 8)]
[EncoderConv2d(3, 3, 2, 1, Activation.Relu)]
[Encoder(10, Activation.Tanh)]
[Decoder(32, Activation.Relu)]
[DecoderReshape(2, 4, 4)]
[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]
public partial class ConvConditionalVae;

/// <summary>
/// The heads straight after the convolutions: 2x5x5 -> Conv2d(4, k3, s2, p1) 4x3x3 -> Conv2d(3, k2) 3x2x2 -> [12 | y3]
/// -> [3] x 2 samples -> [z | y3] -> 12 -> 50, Bernoulli.
/// </summary>
[VariationalAutoencoder(Latent = 3, LatentSamples = 2)]
[Conditional(Classes = 3)]
[ImageInput(2, 5, 5)]
[EncoderConv2d(4, 3, 2, 1, Activation.Elu)]
[EncoderConv2d(3, 2, 1, 0, Activation.Silu)]
[Decoder(12, Activation.Gelu)]
public partial class ConvConditionalHeadsVae;

/// <summary>A dense encoder on the image (the label joins x) and a transposed-convolution decoder: 1x6x6 | y5 -> 8 -> [3] -> [z | y5] -> 18 -> 2x3x3 -> ConvTranspose2d(1, k4, s2, p1) 1x6x6.</summary>
[VariationalAutoencoder(Latent = 3)]
[Conditional(Classes = 5)]
[ImageInput(1, 6, 6)]
[Encoder(8, Activation.Relu)]
[Decoder(18, Activation.Softplus)]
[DecoderReshape(2, 3, 3)]
[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]
public partial class ConvConditionalDecoderVae;

/// <summary>
/// BatchNorm before the label: 1x8x8 -> Conv2d(4, k3, s2, p1) + BatchNorm2d 4x4x4 -> [64 | y3] -> [2] -> [z | y3] -> 18
/// -> 2x3x3 -> ConvTranspose2d(3, k3, s2, p1) + BatchNorm2d 3x5x5 -> ConvTranspose2d(1, k4, s2, p2) 1x8x8.
/// </summary>
[VariationalAutoencoder(Latent = 2)]
[Conditional(Classes = 3)]
[ImageInput(1, 8, 8)]
[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = true)]
[Decoder(18, Activation.Tanh)]
[DecoderReshape(2, 3, 3)]
[DecoderConvTranspose2d(3, 3, 2, 1, 0, Activation.Relu, BatchNorm = true)]
[DecoderConvTranspose2d(1, 4, 2, 2, 0, Activation.Identity)]
public partial class ConvConditionalBatchNormVae;

/// <summary>
/// No dense decoder layer: z is reshaped straight into an image and the label joins as one plane per class (ones in its
/// own): 1x8x8 -> Conv2d(3, k3, s2, p1) 3x4x4 -> [48 | y3] -> [8] x 2 samples -> z as 2x2x2 | 3 label planes = 5x2x2
/// -> ConvTranspose2d(4, k3, s2, p1, op1) 4x4x4 -> ConvTranspose2d(1, k4, s2, p1) 1x8x8, Bernoulli.
/// </summary>
[VariationalAutoencoder(Latent = 8, LatentSamples = 2)]
[Conditional(Classes = 3)]
[ImageInput(1, 8, 8)]
[EncoderConv2d(3, 3, 2, 1, Activation.Relu)]
[DecoderReshape(2, 2, 2)]
[DecoderConvTranspose2d(4, 3, 2, 1, 1, Activation.Tanh)]
[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]
public partial class ConvConditionalPlanesVae;
