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

    /// <summary>Reads a checkpoint written by <c>train</c>; options given on the command line override its settings.</summary>
    public static RunState FromCheckpoint(string path, TrainSettings s, AppConsole console)
    {
        var model = Models.KeyOf(path);
        if (s.Model is { } askedModel && askedModel != model.Kind)
            throw new UsageException($"--model {Models.NameOf(askedModel)} does not match the checkpoint '{path}', which holds the {Models.NameOf(model.Kind)} model.");
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
        state._train.AddRange(m.GetDoubleList(TrainHistoryKey));
        state._test.AddRange(m.GetDoubleList(TestHistoryKey));
        console.Note($"resuming '{path}' after epoch {state.EpochsCompleted}");
        return state;
    }

    public void Record(double trainNegativeElbo, double testNegativeElbo)
    {
        _train.Add(trainNegativeElbo);
        _test.Add(testNegativeElbo);
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
        [TrainHistoryKey] = string.Join(",", _train.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        [TestHistoryKey] = string.Join(",", _test.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
    };

    private static string Text<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
