using Vae;

namespace Vae.Runtime.Tests.Models;

// Saturation models: together they put every activation directly in front of every likelihood (the decoder's last
// hidden layer feeds the output layer and its loss), for the parity tests to run with the seeded weights (seed 1)
// scaled x3 and x8. Sizes are small (input 8, hidden 16, latent 2) so the double-precision oracle stays quick.
//
// The encoders are bounded (sigmoid or tanh) so the encoder's logvar head, and with it exp(logvar) and z, stays
// finite: with an unbounded encoder, x8 drives that logvar to 40..95, past float's exp limit of 88.
// Ranges reached on the test's batch (TestData.Inputs seed 6, 8 examples; TestData.Noise seed 7), as
// SaturationParityTests prints them (it also asserts that x8 takes the activation under test past +-9, where float
// tanh is +-1):
//
// - Bernoulli, sigmoid encoder: encoder logvar within [-0.2, 4.0] at x8, |z| <= 6.2; the activation under test
//   sees pre-activations in [-8.5, 5.4] at x3 and [-53, 39] at x8; logits up to 330.
// - Gaussian, tanh encoder: encoder logvar within [-7.6, 12.4] at x8, |z| <= 292; pre-activations in [-22, 17] at x3
//   and [-1700, 1640] at x8, far past where tanh(u) rounds to +-1 (|u| > 9); means up to 1.5e4.
// - GaussianLearnedVariance, sigmoid encoder and a tanh layer that squashes z into [-1, 1] before the activation
//   under test (4 units): its pre-activations are in [-2.5, 3.6] at x3 and [-10.7, 12.7] at x8. One layer would take
//   them to +-67 at x8 and, through an unbounded activation, the decoder's logvar head to +-150, and exp(-logvar)
//   overflows float past 88. With the squash the decoder logvar stays within [-50, 49] at x8 ([-32, 44] for all but the
//   identity); even so the loss reaches 1e22 there, and float's rounding of a logvar of -50 is magnified by exp into
//   a relative error near 1e-5, a tenth of the parity tolerance.

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Identity)]
public partial class SaturatedIdentityBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Relu)]
public partial class SaturatedReluBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.LeakyRelu)]
public partial class SaturatedLeakyReluBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Elu)]
public partial class SaturatedEluBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
public partial class SaturatedTanhBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Sigmoid)]
public partial class SaturatedSigmoidBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Softplus)]
public partial class SaturatedSoftplusBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Gelu)]
public partial class SaturatedGeluBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Silu)]
public partial class SaturatedSiluBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Identity)]
public partial class SaturatedIdentityGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Relu)]
public partial class SaturatedReluGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.LeakyRelu)]
public partial class SaturatedLeakyReluGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Elu)]
public partial class SaturatedEluGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Tanh)]
public partial class SaturatedTanhGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Sigmoid)]
public partial class SaturatedSigmoidGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Softplus)]
public partial class SaturatedSoftplusGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Gelu)]
public partial class SaturatedGeluGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Silu)]
public partial class SaturatedSiluGaussian;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Identity)]
public partial class SaturatedIdentityLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Relu)]
public partial class SaturatedReluLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.LeakyRelu)]
public partial class SaturatedLeakyReluLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Elu)]
public partial class SaturatedEluLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Tanh)]
public partial class SaturatedTanhLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Sigmoid)]
public partial class SaturatedSigmoidLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Softplus)]
public partial class SaturatedSoftplusLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Gelu)]
public partial class SaturatedGeluLearnedVariance;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Tanh)]
[Decoder(4, Activation.Silu)]
public partial class SaturatedSiluLearnedVariance;

// The importance-weighted objectives saturated: at x8 the weights of an example are close to one-hot and the
// log-sum-exp runs over log weights hundreds of nats apart.

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli, LatentSamples = 4, Objective = Objective.ImportanceWeighted)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Gelu)]
public partial class SaturatedIwaeBernoulli;

[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Gaussian, LatentSamples = 3, Objective = Objective.ImportanceWeightedDReG)]
[Encoder(16, Activation.Tanh)]
[Decoder(16, Activation.Softplus)]
public partial class SaturatedDregGaussian;

// A conditional model saturated: the label columns feed saturated first layers on both sides.
[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = Likelihood.Bernoulli, LatentSamples = 2)]
[Conditional(Classes = 3)]
[Encoder(16, Activation.Sigmoid)]
[Decoder(16, Activation.Silu)]
public partial class SaturatedConditionalBernoulli;
