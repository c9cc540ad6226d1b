using Vae.Files;

namespace Vae.Samples.Fashion;

// The architecture is fixed at compile time: the generator emits kernels for exactly these sizes, so every latent
// size --latent may choose must be declared here. All share the 784-400-J-400-784 ReLU shape with a Bernoulli
// decoder; the compiled Beta stays 1 and --beta changes the runtime KL weight instead.

/// <summary>The default model: 20 latent dimensions.</summary>
[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae;

/// <summary>Two latent dimensions: small enough to draw the whole latent space (the manifold picture).</summary>
[VariationalAutoencoder(Input = 784, Latent = 2, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae2;

[VariationalAutoencoder(Input = 784, Latent = 5, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae5;

[VariationalAutoencoder(Input = 784, Latent = 10, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae10;

[VariationalAutoencoder(Input = 784, Latent = 32, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae32;

[VariationalAutoencoder(Input = 784, Latent = 64, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae64;

/// <summary>Picks the compiled model for a latent size, for new runs and for checkpoints.</summary>
internal static class Models
{
    /// <summary>Pixels per image (28 x 28): the input size of every model here.</summary>
    public const int ImagePixels = 784;

    public const int ImageSide = 28;

    private sealed record Entry(int Latent, Func<Device, ulong, VaeModel> Create, Func<Device, string, Optimizer?, VaeModel> Load);

    // Ordered by size so the list in error messages reads naturally.
    private static readonly Entry[] Entries =
    [
        new(FashionVae2.LatentSize, (d, s) => new FashionVae2(d, s), FashionVae2.Load),
        new(FashionVae5.LatentSize, (d, s) => new FashionVae5(d, s), FashionVae5.Load),
        new(FashionVae10.LatentSize, (d, s) => new FashionVae10(d, s), FashionVae10.Load),
        new(FashionVae.LatentSize, (d, s) => new FashionVae(d, s), FashionVae.Load),
        new(FashionVae32.LatentSize, (d, s) => new FashionVae32(d, s), FashionVae32.Load),
        new(FashionVae64.LatentSize, (d, s) => new FashionVae64(d, s), FashionVae64.Load),
    ];

    public static IReadOnlyList<int> LatentSizes { get; } = Entries.Select(e => e.Latent).ToArray();

    public static bool IsCompiled(int latent) => Entries.Any(e => e.Latent == latent);

    public static string NotCompiledMessage(int latent) =>
        $"No model with --latent {latent} is compiled into this sample; the compiled sizes are {string.Join(", ", LatentSizes)}. " +
        "The architecture is fixed at build time: declare another size in samples/FashionMnist/Models.cs.";

    /// <summary>A fresh model with weights initialised from <paramref name="seed"/>.</summary>
    public static VaeModel Create(int latent, Device device, ulong seed) => Find(latent).Create(device, seed);

    /// <summary>
    /// Loads a checkpoint into the compiled model of its latent size (the generated Load then checks every other
    /// detail of the architecture). With an optimiser, its state and the step come back too; the noise seed always does.
    /// </summary>
    public static VaeModel Load(Device device, string path, Optimizer? optimizer = null) =>
        Find(LatentOf(path)).Load(device, path, optimizer);

    /// <summary>The latent size recorded in a checkpoint's architecture.</summary>
    public static int LatentOf(string path)
    {
        var architecture = Checkpoint.ReadArchitecture(path)
            ?? throw new InvalidDataException($"Checkpoint '{path}' carries no architecture in its metadata, so no compiled model can be chosen for it.");
        if (architecture.Input != ImagePixels)
            throw new InvalidDataException($"Checkpoint '{path}' holds a model of {architecture.Input} inputs ({architecture}); this sample's models take {ImagePixels} pixels.");
        if (!IsCompiled(architecture.Latent))
            throw new InvalidDataException($"Checkpoint '{path}' holds a model with Latent = {architecture.Latent}, which is not compiled into this sample (compiled: {string.Join(", ", LatentSizes)}).");
        return architecture.Latent;
    }

    private static Entry Find(int latent) =>
        Entries.FirstOrDefault(e => e.Latent == latent) ?? throw new UsageException(NotCompiledMessage(latent));
}
