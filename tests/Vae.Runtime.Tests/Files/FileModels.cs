using Vae;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// The architecture of the PyTorch fixtures (TestData/Torch/make_fixtures.py builds the same module): their state
/// dicts load into it by name. Small enough that the checkpoint fuzzer writes thousands of files in a second.
/// </summary>
[VariationalAutoencoder(Input = 6, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(5, Activation.Relu)]
[Decoder(4, Activation.Tanh)]
public partial class TorchFixtureVae;

/// <summary>Same sizes, another decoder activation: a checkpoint of one must not load into the other.</summary>
[VariationalAutoencoder(Input = 6, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(5, Activation.Relu)]
[Decoder(4, Activation.Relu)]
public partial class TorchFixtureReluVae;

/// <summary>A wider encoder: its encoder.0 tensors have other shapes.</summary>
[VariationalAutoencoder(Input = 6, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(7, Activation.Relu)]
[Decoder(4, Activation.Tanh)]
public partial class TorchFixtureWideVae;
