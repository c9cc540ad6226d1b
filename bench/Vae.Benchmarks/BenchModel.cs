using Vae;

namespace Vae.Benchmarks;

/// <summary>The default model of the performance issue: 784-400-20, ReLU, Bernoulli.</summary>
[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class BenchVae;
