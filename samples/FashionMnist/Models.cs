using Vae.Files;

namespace Vae.Samples.Fashion;

// The architecture is fixed at compile time: the generator emits kernels for exactly these sizes, so every latent
// size --latent may choose must be declared here. All share the 784-400-J-400-784 ReLU shape with a Bernoulli
// decoder; the compiled Beta stays 1 and --beta changes the runtime KL weight instead. The convolutional models of
// --model conv are in ConvModels.cs; Models below lists every compiled model.

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

/// <summary>The network families of --model: the dense 784-400-J-400-784 models and the convolutional ones.</summary>
internal enum ModelKind
{
    Dense,
    Conv,
}

/// <summary>
/// Everything that picks one compiled model: the network, the latent size, the bound and its K (1 for the ELBO), and
/// whether it is conditional. A checkpoint's architecture carries all of them (<see cref="Of"/>).
/// </summary>
internal sealed record ModelKey(ModelKind Kind, int Latent, Objective Objective = Objective.Elbo, int Samples = 1, bool Conditional = false)
{
    public static ModelKey Of(ModelDescriptor architecture) =>
        new(architecture.Image is null ? ModelKind.Dense : ModelKind.Conv, architecture.Latent, architecture.Objective, architecture.LatentSamples, architecture.IsConditional);
}

/// <summary>Picks the compiled model for a network, latent size and objective, for new runs and for checkpoints.</summary>
internal static class Models
{
    /// <summary>Pixels per image (28 x 28): the input size of every model here.</summary>
    public const int ImagePixels = 784;

    public const int ImageSide = 28;

    /// <summary>Fashion-MNIST's classes (t-shirt/top ... ankle boot).</summary>
    public const int Classes = 10;

    private sealed record Entry(ModelKey Key, Func<Device, ulong, VaeModel> Create, Func<Device, string, Optimizer?, VaeModel> Load);

    // Ordered by network, then size, so the lists in messages read naturally.
    private static readonly Entry[] Entries =
    [
        new(new(ModelKind.Dense, FashionVae2.LatentSize), (d, s) => new FashionVae2(d, s), FashionVae2.Load),
        new(new(ModelKind.Dense, FashionVae5.LatentSize), (d, s) => new FashionVae5(d, s), FashionVae5.Load),
        new(new(ModelKind.Dense, FashionVae10.LatentSize), (d, s) => new FashionVae10(d, s), FashionVae10.Load),
        new(new(ModelKind.Dense, FashionVae.LatentSize), (d, s) => new FashionVae(d, s), FashionVae.Load),
        new(new(ModelKind.Dense, FashionVae32.LatentSize), (d, s) => new FashionVae32(d, s), FashionVae32.Load),
        new(new(ModelKind.Dense, FashionVae64.LatentSize), (d, s) => new FashionVae64(d, s), FashionVae64.Load),
        new(new(ModelKind.Dense, FashionIwae5.LatentSize, Objective.ImportanceWeighted, 5), (d, s) => new FashionIwae5(d, s), FashionIwae5.Load),
        new(new(ModelKind.Dense, FashionDreg5.LatentSize, Objective.ImportanceWeightedDReG, 5), (d, s) => new FashionDreg5(d, s), FashionDreg5.Load),
        new(new(ModelKind.Dense, FashionIwae50.LatentSize, Objective.ImportanceWeighted, 50), (d, s) => new FashionIwae50(d, s), FashionIwae50.Load),
        new(new(ModelKind.Dense, FashionDreg50.LatentSize, Objective.ImportanceWeightedDReG, 50), (d, s) => new FashionDreg50(d, s), FashionDreg50.Load),
        new(new(ModelKind.Dense, FashionCvae.LatentSize, Conditional: true), (d, s) => new FashionCvae(d, s), FashionCvae.Load),
        new(new(ModelKind.Conv, FashionConvVae2.LatentSize), (d, s) => new FashionConvVae2(d, s), FashionConvVae2.Load),
        new(new(ModelKind.Conv, FashionConvVae20.LatentSize), (d, s) => new FashionConvVae20(d, s), FashionConvVae20.Load),
    ];

    /// <summary>The command-line names of the networks: dense, conv.</summary>
    public static string NameOf(ModelKind kind) => kind switch
    {
        ModelKind.Dense => "dense",
        ModelKind.Conv => "conv",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static ModelKind? KindNamed(string name) =>
        Enum.GetValues<ModelKind>().Cast<ModelKind?>().FirstOrDefault(k => NameOf(k!.Value) == name);

    /// <summary>The latent size a new run of the network takes without --latent: 20 for dense, the Keras example's 2 for conv.</summary>
    public static int DefaultLatent(ModelKind kind) => kind == ModelKind.Conv ? FashionConvVae2.LatentSize : Commands.TrainCommand.DefaultLatent;

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

    public static bool IsCompiled(ModelKey key) => Entries.Any(e => e.Key == key);

    /// <summary>Why <paramref name="key"/> has no compiled model, naming what is compiled instead.</summary>
    public static string NotCompiledMessage(ModelKey key)
    {
        const string FixedAtBuild = "The architecture is fixed at build time: declare another in samples/FashionMnist/Models.cs.";
        if (key.Kind == ModelKind.Conv && key.Conditional)
            return "--conditional has no convolutional model: the conditional model is dense (--model dense, --latent 20, the ELBO only; FashionCvae in samples/FashionMnist/Models.cs).";
        if (key.Kind == ModelKind.Conv && key.Objective != Objective.Elbo)
            return $"--model conv trains the ELBO only; the {NameOf(key.Objective)} models are dense (--model dense --latent 20 --importance-samples " +
                   $"{string.Join(" or ", Entries.Where(e => e.Key.Objective == key.Objective).Select(e => e.Key.Samples))}).";
        if (key.Conditional)
            return "The conditional model is compiled for --latent 20 with the ELBO only (FashionCvae in samples/FashionMnist/Models.cs).";
        if (key.Objective != Objective.Elbo)
            return $"No {NameOf(key.Objective)} model with --latent {key.Latent} and --importance-samples {key.Samples} is compiled into this sample; compiled: " +
                   string.Join(", ", Entries.Where(e => e.Key.Objective == key.Objective).Select(e => $"--latent {e.Key.Latent} --importance-samples {e.Key.Samples}")) +
                   $". {FixedAtBuild}";
        return key.Kind == ModelKind.Conv
            ? $"No convolutional model with --latent {key.Latent} is compiled into this sample; --model conv is compiled for --latent {string.Join(" and ", LatentSizes(ModelKind.Conv))}. {FixedAtBuild}"
            : NotCompiledMessage(key.Latent);
    }

    /// <summary>A fresh model of that network, shape and objective, with weights initialised from <paramref name="seed"/>.</summary>
    public static VaeModel Create(ModelKey key, Device device, ulong seed) => Find(key).Create(device, seed);

    /// <summary>The latent sizes of a network's plain (ELBO, unconditional) models.</summary>
    public static IReadOnlyList<int> LatentSizes(ModelKind kind) =>
        Entries.Where(e => e.Key.Kind == kind && e.Key.Objective == Objective.Elbo && !e.Key.Conditional).Select(e => e.Key.Latent).ToArray();

    /// <summary>True when some network is compiled with this latent size (which network, <see cref="IsCompiled(ModelKey)"/> checks).</summary>
    public static bool IsCompiled(int latent) => Enum.GetValues<ModelKind>().Any(k => LatentSizes(k).Contains(latent));

    /// <summary>The compiled latent sizes of every network, as --latent's help and errors list them.</summary>
    public static string CompiledSizes() =>
        string.Join("; ", Enum.GetValues<ModelKind>().Select(k => $"{string.Join(", ", LatentSizes(k))} (--model {NameOf(k)})"));

    public static string NotCompiledMessage(int latent) =>
        $"No model with --latent {latent} is compiled into this sample; the compiled sizes are {CompiledSizes()}. " +
        "The architecture is fixed at build time: declare another size in samples/FashionMnist/Models.cs.";

    /// <summary>
    /// Loads a checkpoint into the compiled model of its network and latent size (the generated Load then checks every
    /// other detail of the architecture). With an optimiser, its state and the step come back too; the noise seed always does.
    /// </summary>
    public static VaeModel Load(Device device, string path, Optimizer? optimizer = null) => Find(KeyOf(path)).Load(device, path, optimizer);

    /// <summary>The latent size recorded in a checkpoint's architecture.</summary>
    public static int LatentOf(string path) => KeyOf(path).Latent;

    /// <summary>What a checkpoint's architecture picks among the compiled models; refuses one this sample does not compile.</summary>
    public static ModelKey KeyOf(string path)
    {
        var architecture = Checkpoint.ReadArchitecture(path)
            ?? throw new InvalidDataException($"Checkpoint '{path}' carries no architecture in its metadata, so no compiled model can be chosen for it.");
        if (architecture.Input != ImagePixels)
            throw new InvalidDataException($"Checkpoint '{path}' holds a model of {architecture.Input} inputs ({architecture}); this sample's models take {ImagePixels} pixels.");
        var key = ModelKey.Of(architecture);
        if (!IsCompiled(key))
            throw new InvalidDataException($"Checkpoint '{path}' holds a model ({architecture}) that is not compiled into this sample: {NotCompiledMessage(key)}");
        return key;
    }

    private static Entry Find(ModelKey key) =>
        Entries.FirstOrDefault(e => e.Key == key) ?? throw new UsageException(NotCompiledMessage(key));
}
