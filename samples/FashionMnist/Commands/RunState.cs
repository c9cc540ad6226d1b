using System.Globalization;
using Vae.Files;

namespace Vae.Samples.Fashion.Commands;

/// <summary>
/// The settings and history of a training run, and their round trip through the checkpoint's metadata, so that
/// <c>--resume</c> continues with the same seeds, epoch count and hyperparameters and the curves cover the whole run.
/// </summary>
internal sealed class RunState
{
    // Metadata keys the sample adds beside the runtime's own (architecture, step, seed, optimiser).
    public const string EpochsCompletedKey = "epochs_completed";
    public const string ShuffleSeedKey = "shuffle_seed";
    public const string LatentKey = "latent";
    public const string BatchKey = "batch_size";
    public const string LearningRateKey = "learning_rate";
    public const string KlWeightKey = "kl_weight";
    public const string FreeBitsKey = "free_bits";
    public const string KlWarmupKey = "kl_warmup_steps";
    public const string TrainHistoryKey = "train_negative_elbo";
    public const string TestHistoryKey = "test_negative_elbo";
    // A VQ-VAE's history: mean squared error per pixel (the figures of its epoch line).
    public const string TrainMseHistoryKey = "train_mse";
    public const string TestMseHistoryKey = "test_mse";

    private readonly List<double> _train = [];
    private readonly List<double> _test = [];

    private RunState(ModelKey model, float freeBits, long klWarmup,
        ulong seed, ulong shuffleSeed, int batch, float learningRate, float beta, int epochsCompleted)
    {
        Model = model;
        FreeBits = freeBits;
        KlWarmup = klWarmup;
        Seed = seed;
        ShuffleSeed = shuffleSeed;
        Batch = batch;
        LearningRate = learningRate;
        Beta = beta;
        EpochsCompleted = epochsCompleted;
    }

    /// <summary>
    /// The compiled model: network, latent size, the bound trained and its K (1 for the ELBO), and whether it is
    /// conditional on the class label. All are compiled into the model, so a checkpoint carries them.
    /// </summary>
    public ModelKey Model { get; }

    public int Latent => Model.Latent;
    public Objective Objective => Model.Objective;
    public int Samples => Model.Samples;
    public bool Conditional => Model.Conditional;
    public bool Quantized => Model.Kind == ModelKind.Vq;

    /// <summary>The metadata keys of the train and test histories: negative ELBO, or a VQ-VAE's mean squared error.</summary>
    private string TrainKey => Quantized ? TrainMseHistoryKey : TrainHistoryKey;
    private string TestKey => Quantized ? TestMseHistoryKey : TestHistoryKey;

    /// <summary>Free bits per latent dimension (ELBO only) and the KL warm-up's length in steps; 0 is none.</summary>
    public float FreeBits { get; }
    public long KlWarmup { get; }

    /// <summary>Seed of the initial weights and the training noise (the model's own seed), and of the pictures.</summary>
    public ulong Seed { get; }

    /// <summary>Seed of the epoch order; a new run uses --seed for it too.</summary>
    public ulong ShuffleSeed { get; }

    public int Batch { get; }
    public float LearningRate { get; }
    public float Beta { get; }

    /// <summary>Epochs completed before this invocation.</summary>
    public int EpochsCompleted { get; }

    public IReadOnlyList<double> TrainHistory => _train;
    public IReadOnlyList<double> TestHistory => _test;

    public static RunState New(TrainSettings s)
    {
        var kind = s.Model ?? ModelKind.Dense;
        if (kind == ModelKind.Vq) return NewVq(s);
        RefuseVqFlags(s, "--model " + Models.NameOf(kind));
        int latent = s.Latent ?? Models.DefaultLatent(kind);
        var objective = s.Objective ?? Objective.Elbo;
        if (objective == Objective.Elbo && s.ImportanceSamples is int k && k != 1)
            throw new UsageException("--importance-samples is for --objective iwae or dreg; the ELBO model draws one sample per image.");
        if (objective != Objective.Elbo && s.FreeBits is > 0)
            throw new UsageException($"--free-bits applies to the ELBO only; --objective {Models.NameOf(objective)} has no separate KL term to floor.");
        if (objective != Objective.Elbo && s.KlWarmup is > 0)
            throw new UsageException($"--kl-warmup applies to the ELBO only; --objective {Models.NameOf(objective)} has no KL weight.");
        int samples = objective == Objective.Elbo ? 1 : s.ImportanceSamples ?? TrainCommand.DefaultImportanceSamples;
        var model = new ModelKey(kind, latent, objective, samples, s.Conditional);
        if (!Models.IsCompiled(model)) throw new UsageException(Models.NotCompiledMessage(model));
        ulong seed = s.Seed ?? TrainCommand.DefaultSeed;
        return new RunState(model, s.FreeBits ?? 0, s.KlWarmup ?? 0, seed, seed, s.Batch ?? TrainCommand.DefaultBatch,
            s.LearningRate ?? TrainCommand.DefaultLearningRate, s.Beta ?? TrainCommand.DefaultBeta, 0);
    }

    /// <summary>A new --model vq run: the compiled quantiser the flags pick, and none of the Gaussian models' options.</summary>
    private static RunState NewVq(TrainSettings s)
    {
        CheckVqOptions(s);
        var model = Models.VqKey(s.Vq ?? VqFlags.None);
        ulong seed = s.Seed ?? TrainCommand.DefaultSeed;
        return new RunState(model, 0, 0, seed, seed, s.Batch ?? TrainCommand.DefaultBatch,
            s.LearningRate ?? TrainCommand.DefaultLearningRate, TrainCommand.DefaultBeta, 0);
    }

    /// <summary>Refuses the options of the Gaussian models for a VQ-VAE, which has no KL term, prior or labels, and --distributed.</summary>
    public static void CheckVqOptions(TrainSettings s)
    {
        string? given = s.Latent is int j ? $"--latent {j}"
            : s.Beta is not null ? "--beta"
            : s.Objective is { } o ? $"--objective {Models.NameOf(o)}"
            : s.ImportanceSamples is not null ? "--importance-samples"
            : s.FreeBits is not null ? "--free-bits"
            : s.KlWarmup is not null ? "--kl-warmup"
            : s.Conditional ? "--conditional"
            : null;
        if (given is not null)
            throw new UsageException($"{given} does not apply to --model vq: it trains mean squared error plus commitment, with no KL term, " +
                                     "prior or labels; its latent is set by --codes and --dim.");
        if (s.Distributed)
            throw new UsageException("--distributed does not apply to --model vq: its codebook's first-batch initialisation, EMA statistics and restarts " +
                                     "follow whole batches, so it trains in one process.");
    }

    /// <summary>The VQ flags, refused for a model without a quantiser.</summary>
    private static void RefuseVqFlags(TrainSettings s, string model)
    {
        if (s.Vq?.Given().FirstOrDefault() is { } flag)
            throw new UsageException($"{flag.Split(' ')[0]} applies to --model vq only; {model} has a Gaussian latent.");
    }

    /// <summary>Reads a checkpoint written by <c>train</c>; options given on the command line override its settings.</summary>
    public static RunState FromCheckpoint(string path, TrainSettings s, AppConsole console)
    {
        var model = Models.KeyOf(path);
        if (s.Model is { } askedModel && askedModel != model.Kind)
            throw new UsageException($"--model {Models.NameOf(askedModel)} does not match the checkpoint '{path}', which holds the {Models.NameOf(model.Kind)} model.");
        if (model.Quantizer is { } q)
        {
            CheckVqOptions(s);
            if ((s.Vq ?? VqFlags.None).Mismatch(q) is { } flag)
                throw new UsageException($"{flag} does not match the checkpoint '{path}', which holds a VQ-VAE with --codes {q.Codes} --dim {q.Dimension} " +
                                         $"--commitment {Models.Text(q.Commitment)} --decay {Models.Text(q.Decay)} --restart-after {q.RestartAfter}.");
        }
        else
        {
            RefuseVqFlags(s, $"the checkpoint '{path}' holds the {Models.NameOf(model.Kind)} model, which");
        }
        if (s.Latent is int asked && asked != model.Latent)
            throw new UsageException($"--latent {asked} does not match the checkpoint '{path}', which holds a model with Latent = {model.Latent}.");
        var m = Checkpoint.ReadMetadata(path);
        // The runtime's typed getters refuse NaN, infinities and out-of-range values with the file and key named.
        ulong seed = m.GetUInt64(Checkpoint.SeedKey, TrainCommand.DefaultSeed);
        if (s.Seed is ulong askedSeed && askedSeed != seed)
            console.Note($"note: --seed {askedSeed} is ignored: a resumed run keeps the seeds it started with ({seed}).");
        if (s.Objective is { } askedObjective && askedObjective != model.Objective)
            throw new UsageException($"--objective {Models.NameOf(askedObjective)} does not match the checkpoint '{path}', which trains {Models.NameOf(model.Objective)}.");
        var state = new RunState(model,
            s.FreeBits ?? m.GetSingle(FreeBitsKey, 0f, minimum: 0f),
            s.KlWarmup ?? m.GetInt64(KlWarmupKey, 0L, minimum: 0L),
            seed,
            m.GetUInt64(ShuffleSeedKey, seed),
            s.Batch ?? m.GetInt32(BatchKey, TrainCommand.DefaultBatch, minimum: 1),
            s.LearningRate ?? m.GetSingle(LearningRateKey, TrainCommand.DefaultLearningRate, minimum: float.Epsilon),
            s.Beta ?? m.GetSingle(KlWeightKey, TrainCommand.DefaultBeta, minimum: 0f),
            m.GetInt32(EpochsCompletedKey, 0, minimum: 0));
        state._train.AddRange(m.GetDoubleList(state.TrainKey));
        state._test.AddRange(m.GetDoubleList(state.TestKey));
        console.Note($"resuming '{path}' after epoch {state.EpochsCompleted}");
        return state;
    }

    /// <summary>An epoch's figures: the negative ELBO, or a VQ-VAE's mean squared error per pixel.</summary>
    public void Record(double train, double test)
    {
        _train.Add(train);
        _test.Add(test);
    }

    public Dictionary<string, string> Metadata(int epochsCompleted) => new()
    {
        [EpochsCompletedKey] = Text(epochsCompleted),
        [ShuffleSeedKey] = Text(ShuffleSeed),
        [LatentKey] = Text(Latent),
        [BatchKey] = Text(Batch),
        [LearningRateKey] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        [KlWeightKey] = Beta.ToString("R", CultureInfo.InvariantCulture),
        [FreeBitsKey] = FreeBits.ToString("R", CultureInfo.InvariantCulture),
        [KlWarmupKey] = Text(KlWarmup),
        [TrainKey] = string.Join(",", _train.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        [TestKey] = string.Join(",", _test.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
    };

    private static string Text<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
