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

// The importance-weighted bound (Burda et al. 2016) over K samples, with the plain or the doubly reparameterised
// (DReG) encoder gradient: the default shape with 20 latent dimensions, K = 5 and K = 50.

[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli, LatentSamples = 5, Objective = Objective.ImportanceWeighted)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionIwae5;

[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli, LatentSamples = 5, Objective = Objective.ImportanceWeightedDReG)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionDreg5;

[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli, LatentSamples = 50, Objective = Objective.ImportanceWeighted)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionIwae50;

[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli, LatentSamples = 50, Objective = Objective.ImportanceWeightedDReG)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionDreg50;

/// <summary>The conditional model: the label (one of the ten classes) goes one-hot to the encoder and with every z to the decoder.</summary>
[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
[Conditional(Classes = 10)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionCvae;

/// <summary>Picks the compiled model for a latent size and objective, for new runs and for checkpoints.</summary>
internal static class Models
{
    /// <summary>Pixels per image (28 x 28): the input size of every model here.</summary>
    public const int ImagePixels = 784;

    public const int ImageSide = 28;

    /// <summary>Fashion-MNIST's classes (t-shirt/top ... ankle boot).</summary>
    public const int Classes = 10;

    private sealed record Entry(int Latent, Objective Objective, int Samples, Func<Device, ulong, VaeModel> Create, Func<Device, string, Optimizer?, VaeModel> Load, bool Conditional = false);

    // Ordered by size so the list in error messages reads naturally.
    private static readonly Entry[] Entries =
    [
        new(FashionVae2.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae2(d, s), FashionVae2.Load),
        new(FashionVae5.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae5(d, s), FashionVae5.Load),
        new(FashionVae10.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae10(d, s), FashionVae10.Load),
        new(FashionVae.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae(d, s), FashionVae.Load),
        new(FashionVae32.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae32(d, s), FashionVae32.Load),
        new(FashionVae64.LatentSize, Objective.Elbo, 1, (d, s) => new FashionVae64(d, s), FashionVae64.Load),
        new(FashionIwae5.LatentSize, Objective.ImportanceWeighted, 5, (d, s) => new FashionIwae5(d, s), FashionIwae5.Load),
        new(FashionDreg5.LatentSize, Objective.ImportanceWeightedDReG, 5, (d, s) => new FashionDreg5(d, s), FashionDreg5.Load),
        new(FashionIwae50.LatentSize, Objective.ImportanceWeighted, 50, (d, s) => new FashionIwae50(d, s), FashionIwae50.Load),
        new(FashionDreg50.LatentSize, Objective.ImportanceWeightedDReG, 50, (d, s) => new FashionDreg50(d, s), FashionDreg50.Load),
        new(FashionCvae.LatentSize, Objective.Elbo, 1, (d, s) => new FashionCvae(d, s), FashionCvae.Load, Conditional: true),
    ];

    /// <summary>The command-line names of the objectives: elbo, iwae, dreg.</summary>
    public static string NameOf(Objective objective) => objective switch
    {
        Objective.Elbo => "elbo",
        Objective.ImportanceWeighted => "iwae",
        Objective.ImportanceWeightedDReG => "dreg",
        _ => throw new ArgumentOutOfRangeException(nameof(objective), objective, null),
    };

    public static Objective? ObjectiveNamed(string name) =>
        Enum.GetValues<Objective>().Cast<Objective?>().FirstOrDefault(o => NameOf(o!.Value) == name);

    /// <summary>The importance samples K compiled for an objective at the default latent size (1 for the ELBO).</summary>
    public static IReadOnlyList<int> SamplesFor(Objective objective) =>
        Entries.Where(e => e.Objective == objective && e.Latent == Commands.TrainCommand.DefaultLatent).Select(e => e.Samples).Distinct().ToArray();

    public static bool IsCompiled(int latent, Objective objective, int samples, bool conditional = false) =>
        Entries.Any(e => e.Latent == latent && e.Objective == objective && e.Samples == samples && e.Conditional == conditional);

    public static string NotCompiledMessage(int latent, Objective objective, int samples, bool conditional = false) =>
        conditional
            ? "The conditional model is compiled for --latent 20 with the ELBO only (FashionCvae in samples/FashionMnist/Models.cs)."
            : objective == Objective.Elbo
            ? NotCompiledMessage(latent)
            : $"No {NameOf(objective)} model with --latent {latent} and --importance-samples {samples} is compiled into this sample; compiled: " +
              string.Join(", ", Entries.Where(e => e.Objective == objective).Select(e => $"--latent {e.Latent} --importance-samples {e.Samples}")) +
              ". The architecture is fixed at build time: declare another in samples/FashionMnist/Models.cs.";

    /// <summary>A fresh model of that shape and objective, with weights initialised from <paramref name="seed"/>.</summary>
    public static VaeModel Create(int latent, Objective objective, int samples, Device device, ulong seed, bool conditional = false) =>
        Find(latent, objective, samples, conditional).Create(device, seed);

    public static IReadOnlyList<int> LatentSizes { get; } = Entries.Where(e => e.Objective == Objective.Elbo && !e.Conditional).Select(e => e.Latent).ToArray();

    public static bool IsCompiled(int latent) => LatentSizes.Contains(latent);

    public static string NotCompiledMessage(int latent) =>
        $"No model with --latent {latent} is compiled into this sample; the compiled sizes are {string.Join(", ", LatentSizes)}. " +
        "The architecture is fixed at build time: declare another size in samples/FashionMnist/Models.cs.";

    /// <summary>A fresh ELBO model with weights initialised from <paramref name="seed"/>.</summary>
    public static VaeModel Create(int latent, Device device, ulong seed) => Create(latent, Objective.Elbo, 1, device, seed);

    /// <summary>
    /// Loads a checkpoint into the compiled model of its latent size (the generated Load then checks every other
    /// detail of the architecture). With an optimiser, its state and the step come back too; the noise seed always does.
    /// </summary>
    public static VaeModel Load(Device device, string path, Optimizer? optimizer = null)
    {
        int latent = LatentOf(path);
        var architecture = Checkpoint.ReadArchitecture(path)!;
        return Find(latent, architecture.Objective, architecture.LatentSamples, architecture.IsConditional).Load(device, path, optimizer);
    }

    /// <summary>The latent size recorded in a checkpoint's architecture.</summary>
    public static int LatentOf(string path)
    {
        var architecture = Checkpoint.ReadArchitecture(path)
            ?? throw new InvalidDataException($"Checkpoint '{path}' carries no architecture in its metadata, so no compiled model can be chosen for it.");
        if (architecture.Input != ImagePixels)
            throw new InvalidDataException($"Checkpoint '{path}' holds a model of {architecture.Input} inputs ({architecture}); this sample's models take {ImagePixels} pixels.");
        if (!IsCompiled(architecture.Latent, architecture.Objective, architecture.LatentSamples, architecture.IsConditional))
            throw new InvalidDataException($"Checkpoint '{path}' holds a model ({architecture}) that is not compiled into this sample: " +
                NotCompiledMessage(architecture.Latent, architecture.Objective, architecture.LatentSamples, architecture.IsConditional));
        return architecture.Latent;
    }

    private static Entry Find(int latent, Objective objective, int samples, bool conditional = false) =>
        Entries.FirstOrDefault(e => e.Latent == latent && e.Objective == objective && e.Samples == samples && e.Conditional == conditional)
        ?? throw new UsageException(NotCompiledMessage(latent, objective, samples, conditional));
}
