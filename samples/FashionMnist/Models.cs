using Vae.Files;

namespace Vae.Samples.Fashion;

// The architecture is fixed at compile time: the generator emits kernels for exactly these sizes, so every latent
// size --latent may choose must be declared here. All share the 784-400-J-400-784 ReLU shape with a Bernoulli
// decoder; the compiled Beta stays 1 and --beta changes the runtime KL weight instead. The convolutional models of
// --model conv are in ConvModels.cs, the VQ-VAEs of --model vq in VqModels.cs; Models below lists every compiled model.

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

/// <summary>The network families of --model: the dense 784-400-J-400-784 models, the convolutional ones and the VQ-VAEs.</summary>
internal enum ModelKind
{
    Dense,
    Conv,
    /// <summary>A vector-quantised latent (VqModels.cs): no Gaussian posterior or prior, a codebook instead.</summary>
    Vq,
}

/// <summary>
/// Everything that picks one compiled model: the network, the latent size, the bound and its K (1 for the ELBO), and
/// whether it is conditional; for a VQ-VAE, its quantiser. A checkpoint's architecture carries all of them (<see cref="Of"/>).
/// </summary>
internal sealed record ModelKey(ModelKind Kind, int Latent, Objective Objective = Objective.Elbo, int Samples = 1, bool Conditional = false,
    VectorQuantizerDescriptor? Quantizer = null)
{
    public static ModelKey Of(ModelDescriptor architecture) =>
        new(architecture.Quantizer is not null ? ModelKind.Vq : architecture.Image is null ? ModelKind.Dense : ModelKind.Conv,
            architecture.Latent, architecture.Objective, architecture.LatentSamples, architecture.IsConditional, architecture.Quantizer);
}

/// <summary>
/// What --codes, --dim, --commitment, --decay and --restart-after ask of a VQ-VAE; null is not given (a new run takes
/// <see cref="Models.DefaultVq"/>'s value, a resumed one the checkpoint's).
/// </summary>
internal sealed record VqFlags(int? Codes = null, int? Dimension = null, float? Commitment = null, float? Decay = null, int? RestartAfter = null)
{
    public static readonly VqFlags None = new();

    /// <summary>The flags given, as "--codes 512" and so on, in the order of the command line's help.</summary>
    public IEnumerable<string> Given()
    {
        if (Codes is int k) yield return $"--codes {k}";
        if (Dimension is int d) yield return $"--dim {d}";
        if (Commitment is float c) yield return $"--commitment {Models.Text(c)}";
        if (Decay is float g) yield return $"--decay {Models.Text(g)}";
        if (RestartAfter is int r) yield return $"--restart-after {r}";
    }

    /// <summary>The first given flag that <paramref name="quantizer"/> does not have, or null when all match (floats compare in single precision).</summary>
    public string? Mismatch(VectorQuantizerDescriptor quantizer)
    {
        if (Codes is int k && k != quantizer.Codes) return $"--codes {k}";
        if (Dimension is int d && d != quantizer.Dimension) return $"--dim {d}";
        if (Commitment is float c && c != (float)quantizer.Commitment) return $"--commitment {Models.Text(c)}";
        if (Decay is float g && g != (float)quantizer.Decay) return $"--decay {Models.Text(g)}";
        if (RestartAfter is int r && r != quantizer.RestartAfter) return $"--restart-after {r}";
        return null;
    }
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
        new(new(ModelKind.Conv, FashionConvCvae2.LatentSize, Conditional: true), (d, s) => new FashionConvCvae2(d, s), FashionConvCvae2.Load),
        // The VQ-VAEs, keyed by their quantisers (VqModels.cs); the first is the peer's and the default.
        new(ModelKey.Of(FashionVq128x16.Descriptor), (d, s) => new FashionVq128x16(d, s), FashionVq128x16.Load),
        new(ModelKey.Of(FashionVq128x16Restart100.Descriptor), (d, s) => new FashionVq128x16Restart100(d, s), FashionVq128x16Restart100.Load),
        new(ModelKey.Of(FashionVq128x16Adam.Descriptor), (d, s) => new FashionVq128x16Adam(d, s), FashionVq128x16Adam.Load),
        new(ModelKey.Of(FashionVq128x16AdamRestart100.Descriptor), (d, s) => new FashionVq128x16AdamRestart100(d, s), FashionVq128x16AdamRestart100.Load),
        new(ModelKey.Of(FashionVq128x64.Descriptor), (d, s) => new FashionVq128x64(d, s), FashionVq128x64.Load),
        new(ModelKey.Of(FashionVq128x64Restart100.Descriptor), (d, s) => new FashionVq128x64Restart100(d, s), FashionVq128x64Restart100.Load),
        new(ModelKey.Of(FashionVq128x64Adam.Descriptor), (d, s) => new FashionVq128x64Adam(d, s), FashionVq128x64Adam.Load),
        new(ModelKey.Of(FashionVq128x64AdamRestart100.Descriptor), (d, s) => new FashionVq128x64AdamRestart100(d, s), FashionVq128x64AdamRestart100.Load),
        new(ModelKey.Of(FashionVq512x16.Descriptor), (d, s) => new FashionVq512x16(d, s), FashionVq512x16.Load),
        new(ModelKey.Of(FashionVq512x16Restart100.Descriptor), (d, s) => new FashionVq512x16Restart100(d, s), FashionVq512x16Restart100.Load),
        new(ModelKey.Of(FashionVq512x16Adam.Descriptor), (d, s) => new FashionVq512x16Adam(d, s), FashionVq512x16Adam.Load),
        new(ModelKey.Of(FashionVq512x16AdamRestart100.Descriptor), (d, s) => new FashionVq512x16AdamRestart100(d, s), FashionVq512x16AdamRestart100.Load),
        new(ModelKey.Of(FashionVq512x64.Descriptor), (d, s) => new FashionVq512x64(d, s), FashionVq512x64.Load),
        new(ModelKey.Of(FashionVq512x64Restart100.Descriptor), (d, s) => new FashionVq512x64Restart100(d, s), FashionVq512x64Restart100.Load),
        new(ModelKey.Of(FashionVq512x64Adam.Descriptor), (d, s) => new FashionVq512x64Adam(d, s), FashionVq512x64Adam.Load),
        new(ModelKey.Of(FashionVq512x64AdamRestart100.Descriptor), (d, s) => new FashionVq512x64AdamRestart100(d, s), FashionVq512x64AdamRestart100.Load),
    ];

    /// <summary>The networks with a Gaussian latent, whose sizes --latent picks.</summary>
    private static readonly ModelKind[] GaussianKinds = [ModelKind.Dense, ModelKind.Conv];

    /// <summary>The command-line names of the networks: dense, conv, vq.</summary>
    public static string NameOf(ModelKind kind) => kind switch
    {
        ModelKind.Dense => "dense",
        ModelKind.Conv => "conv",
        ModelKind.Vq => "vq",
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

    // ---- --model vq ------------------------------------------------------------------------------------------------

    /// <summary>The quantiser of a new --model vq run without flags: the peer's defaults (K = 128, D = 16, commitment 0.25, EMA decay 0.99, no restarts).</summary>
    public static VectorQuantizerDescriptor DefaultVq => FashionVq128x16.Descriptor.Quantizer!;

    private static IEnumerable<VectorQuantizerDescriptor> CompiledVq => Entries.Select(e => e.Key.Quantizer).OfType<VectorQuantizerDescriptor>();

    /// <summary>The compiled VQ-VAE with every given flag's value and the default for the rest, or a usage error naming what is compiled.</summary>
    public static ModelKey VqKey(VqFlags flags)
    {
        var d = DefaultVq;
        var wanted = new VqFlags(flags.Codes ?? d.Codes, flags.Dimension ?? d.Dimension, flags.Commitment ?? (float)d.Commitment,
            flags.Decay ?? (float)d.Decay, flags.RestartAfter ?? d.RestartAfter);
        var entry = Entries.FirstOrDefault(e => e.Key.Quantizer is { } q && wanted.Mismatch(q) is null);
        if (entry is not null) return entry.Key;
        // The flag at fault: the first whose value no compiled model has, else the combination.
        var single = new[]
        {
            new VqFlags(Codes: wanted.Codes), new VqFlags(Dimension: wanted.Dimension), new VqFlags(Commitment: wanted.Commitment),
            new VqFlags(Decay: wanted.Decay), new VqFlags(RestartAfter: wanted.RestartAfter),
        }.FirstOrDefault(f => CompiledVq.All(q => f.Mismatch(q) is not null));
        string what = single is not null ? single.Given().Single() : string.Join(" ", wanted.Given());
        throw new UsageException($"--model vq is not compiled for {what}; compiled: {CompiledVqChoices()}. " +
                                 "The architecture is fixed at build time: declare another in samples/FashionMnist/VqModels.cs.");
    }

    /// <summary>The compiled values of each VQ flag, as help texts and errors list them.</summary>
    public static string CompiledVqChoices()
    {
        var all = CompiledVq.ToArray();
        var codes = all.Select(q => q.Codes).Distinct().ToArray();
        var dims = all.Select(q => q.Dimension).Distinct().ToArray();
        var commitments = all.Select(q => q.Commitment).Distinct().ToArray();
        var decays = all.Select(q => q.Decay).Distinct().ToArray();
        var restarts = all.Select(q => q.RestartAfter).Distinct().ToArray();
        bool product = codes.Length * dims.Length * commitments.Length * decays.Length * restarts.Length == all.Length;
        return product
            ? $"--codes {string.Join(" or ", codes)}, --dim {string.Join(" or ", dims)}, --commitment {string.Join(" or ", commitments.Select(Text))}, " +
              $"--decay {string.Join(" or ", decays.Select(Text))} (0: the codebook trained by Adam), --restart-after {string.Join(" or ", restarts)} (0: none), in every combination"
            : string.Join("; ", all.Select(q => $"--codes {q.Codes} --dim {q.Dimension} --commitment {Text(q.Commitment)} --decay {Text(q.Decay)} --restart-after {q.RestartAfter}"));
    }

    /// <summary>The compiled values of one VQ setting, for its option's help: "128, 512".</summary>
    public static string CompiledVqValues<T>(Func<VectorQuantizerDescriptor, T> setting) =>
        string.Join(", ", CompiledVq.Select(setting).Distinct().Select(v => v is double x ? Text(x) : $"{v}"));

    /// <summary>A number as the command line writes it: invariant culture, shortest round trip.</summary>
    public static string Text(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    public static string Text(float value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Why <paramref name="key"/> has no compiled model, naming what is compiled instead.</summary>
    public static string NotCompiledMessage(ModelKey key)
    {
        const string FixedAtBuild = "The architecture is fixed at build time: declare another in samples/FashionMnist/Models.cs.";
        if (key.Kind == ModelKind.Vq)
            return $"--model vq is compiled for {CompiledVqChoices()}. The architecture is fixed at build time: declare another in samples/FashionMnist/VqModels.cs.";
        if (key.Kind == ModelKind.Conv && key.Objective != Objective.Elbo)
            return $"--model conv trains the ELBO only; the {NameOf(key.Objective)} models are dense (--model dense --latent 20 --importance-samples " +
                   $"{string.Join(" or ", Entries.Where(e => e.Key.Objective == key.Objective).Select(e => e.Key.Samples))}).";
        if (key.Conditional)
            return key.Kind == ModelKind.Conv
                ? "The conditional convolutional model is compiled for --latent 2 with the ELBO only (FashionConvCvae2 in samples/FashionMnist/ConvModels.cs)."
                : "The conditional model is compiled for --latent 20 with the ELBO only (FashionCvae in samples/FashionMnist/Models.cs).";
        if (key.Objective != Objective.Elbo)
            return $"No {NameOf(key.Objective)} model with --latent {key.Latent} and --importance-samples {key.Samples} is compiled into this sample; compiled: " +
                   string.Join(", ", Entries.Where(e => e.Key.Objective == key.Objective).Select(e => $"--latent {e.Key.Latent} --importance-samples {e.Key.Samples}")) +
                   $". {FixedAtBuild}";
        return key.Kind == ModelKind.Conv
            ? $"No convolutional model with --latent {key.Latent} is compiled into this sample; --model conv is compiled for --latent {string.Join(" and ", LatentSizes(ModelKind.Conv))}. {FixedAtBuild}"
            : NotCompiledMessage(key.Latent);
    }

    /// <summary>A fresh model of that network, shape and objective, with weights initialised from <paramref name="seed"/>.</summary>
    public static VaeModel Create(ModelKey key, Device device, ulong seed) => OnDevice(key, device, () => Find(key).Create(device, seed));

    /// <summary>The latent sizes of a network's plain (ELBO, unconditional) models.</summary>
    public static IReadOnlyList<int> LatentSizes(ModelKind kind) =>
        Entries.Where(e => e.Key.Kind == kind && e.Key.Objective == Objective.Elbo && !e.Key.Conditional).Select(e => e.Key.Latent).ToArray();

    /// <summary>True when some network is compiled with this latent size (which network, <see cref="IsCompiled(ModelKey)"/> checks).</summary>
    public static bool IsCompiled(int latent) => GaussianKinds.Any(k => LatentSizes(k).Contains(latent));

    /// <summary>The compiled latent sizes of every network with a Gaussian latent, as --latent's help and errors list them.</summary>
    public static string CompiledSizes() =>
        string.Join("; ", GaussianKinds.Select(k => $"{string.Join(", ", LatentSizes(k))} (--model {NameOf(k)})"));

    public static string NotCompiledMessage(int latent) =>
        $"No model with --latent {latent} is compiled into this sample; the compiled sizes are {CompiledSizes()}. " +
        "The architecture is fixed at build time: declare another size in samples/FashionMnist/Models.cs.";

    /// <summary>
    /// Loads a checkpoint into the compiled model of its network and latent size (the generated Load then checks every
    /// other detail of the architecture). With an optimiser, its state and the step come back too; the noise seed always does.
    /// </summary>
    public static VaeModel Load(Device device, string path, Optimizer? optimizer = null)
    {
        var key = KeyOf(path);
        return OnDevice(key, device, () => Find(key).Load(device, path, optimizer));
    }

    /// <summary>
    /// Creates a model on <paramref name="device"/>; a device that refuses a VQ-VAE (a library whose device kernels do not
    /// cover the quantiser throws NotSupportedException) is a usage error naming the way out, --device cpu.
    /// </summary>
    private static VaeModel OnDevice(ModelKey key, Device device, Func<VaeModel> create)
    {
        try
        {
            return create();
        }
        catch (NotSupportedException e) when (key.Kind == ModelKind.Vq && device.Kind != "cpu")
        {
            throw new UsageException($"--model vq does not run on {device.Name} yet ({App.OneLine(e.Message).TrimEnd('.')}); use --device cpu.");
        }
    }

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
