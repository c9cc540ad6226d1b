using System.Diagnostics;
using Vae.Data;
using Vae.Noise;

namespace Vae;

/// <summary>
/// Minibatch training: each epoch visits the data in a seeded random order (the order of epoch e depends only on
/// the shuffle seed and e, so a resumed run sees the same batches), takes one optimiser step per batch (the last
/// batch may be smaller), and reports progress.
/// </summary>
public sealed class Trainer
{
    private readonly VaeModel _model;
    private float[] _batch = [];
    private int[] _batchLabels = [];
    private int[] _order = [];
    private int _epochsCompleted;
    private float? _clipGradientNorm;
    private int _reportEvery = 20;

    /// <param name="model">The model to train.</param>
    /// <param name="optimizer">Its optimiser.</param>
    /// <param name="batchSize">Examples per step: 1 to the model's <see cref="VaeModel.MaxBatchSize"/> (4,096 on the CPU, 1,024 on OpenCL).</param>
    /// <param name="shuffleSeed">Seed of the epoch order.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is below 1 or above what the model's device takes in one step.</exception>
    public Trainer(VaeModel model, Optimizer optimizer, int batchSize = 128, ulong shuffleSeed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (batchSize > model.MaxBatchSize)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"A training batch holds at most {model.MaxBatchSize} examples on {model.Device.Name}.");
        _model = model;
        Optimizer = optimizer;
        BatchSize = batchSize;
        ShuffleSeed = shuffleSeed;
    }

    /// <summary>The model this trainer trains.</summary>
    public VaeModel Model => _model;

    /// <summary>The optimiser each step applies; its learning rate may be changed between steps (or by a schedule).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Examples per optimiser step (the global batch under a communicator); the last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; }

    /// <summary>Seed of the epoch order: epoch e's order depends only on it and e.</summary>
    public ulong ShuffleSeed { get; }

    /// <summary>Epochs completed by this trainer, &gt;= 0 (set it when resuming, so the shuffles continue where they were).</summary>
    public int EpochsCompleted
    {
        get => _epochsCompleted;
        set => _epochsCompleted = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(EpochsCompleted), value, "Epochs completed must be >= 0.");
    }

    /// <summary>When set, a finite number &gt; 0: gradients whose L2 norm exceeds it are scaled down to it.</summary>
    public float? ClipGradientNorm
    {
        get => _clipGradientNorm;
        set => _clipGradientNorm = value is not float v || (v > 0 && float.IsFinite(v))
            ? value
            : throw new ArgumentOutOfRangeException(nameof(ClipGradientNorm), value, "The gradient norm to clip to must be a finite number > 0.");
    }

    /// <summary>
    /// The processes this trainer trains with, one rank each (default: <see cref="SingleProcessCommunicator.Instance"/>).
    /// With N ranks every rank shuffles alike, takes rows [B r / N, B (r+1) / N) of each global batch of
    /// <see cref="BatchSize"/> examples, and steps on the gradient summed over the ranks: N ranks train what one process
    /// trains on the same batches, up to summation order. Losses and progress are the global batch's.
    /// </summary>
    public ICommunicator Communicator
    {
        get => _communicator;
        init => _communicator = value ?? throw new ArgumentNullException(nameof(Communicator));
    }

    private readonly ICommunicator _communicator = SingleProcessCommunicator.Instance;

    /// <summary>When set, the KL weight for a step: e.g. a linear warm-up <c>step =&gt; Math.Min(1f, step / 5000f)</c>.</summary>
    public Func<long, float>? KlWeightSchedule { get; set; }

    /// <summary>
    /// Held-out examples ([examples, Input]) scored after every epoch of <c>Fit</c> into
    /// <see cref="EpochResult.ValidationLoss"/>, which <see cref="EarlyStopping"/> and
    /// <see cref="ReduceLearningRateOnPlateau"/> watch; empty for none. <see cref="Data.DataSplit"/> makes one.
    /// </summary>
    public ReadOnlyMemory<float> ValidationData { get; set; }

    /// <summary>A conditional model's labels of <see cref="ValidationData"/>.</summary>
    public ReadOnlyMemory<int> ValidationLabels { get; set; }

    /// <summary>When set, the optimiser's learning rate is set from it before every step.</summary>
    public ILearningRateSchedule? LearningRateSchedule { get; set; }

    /// <summary>Run in order at the end of each epoch of <c>Fit</c>: early stopping, learning-rate reductions, logging.</summary>
    public IList<ITrainingCallback> Callbacks { get; } = new List<ITrainingCallback>();

    /// <summary>Whether a callback asked <c>Fit</c> to stop; the next call to <c>Fit</c> starts afresh.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Ends the current <c>Fit</c> after the epoch in progress (callbacks call it).</summary>
    public void StopTraining() => StopRequested = true;

    /// <summary>Steps between progress reports, &gt;= 1 (a report also ends each epoch).</summary>
    public int ReportEvery
    {
        get => _reportEvery;
        set => _reportEvery = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(ReportEvery), value, "Steps between reports must be >= 1.");
    }

    /// <summary>Trains for <paramref name="epochs"/> epochs over <paramref name="data"/> ([examples, Input]).</summary>
    public IReadOnlyList<EpochResult> Fit(ReadOnlyMemory<float> data, int epochs, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Fit(data, ReadOnlyMemory<int>.Empty, epochs, progress, cancellationToken);

    /// <summary>Trains a conditional model for <paramref name="epochs"/> epochs over labelled data (one label per example, shuffled with it).</summary>
    public IReadOnlyList<EpochResult> Fit(ReadOnlyMemory<float> data, ReadOnlyMemory<int> labels, int epochs, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Fit(InMemory(data, labels), epochs, progress, cancellationToken);

    /// <summary>
    /// Trains for <paramref name="epochs"/> epochs over examples read from <paramref name="source"/> (in memory or
    /// streamed from disk); with the same shuffle seed, the batches and the result are those of the in-memory overloads.
    /// </summary>
    public IReadOnlyList<EpochResult> Fit(IBatchSource source, int epochs, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        var results = new List<EpochResult>();
        StopRequested = false;
        for (int e = 0; e < epochs && !StopRequested; e++)
        {
            var result = TrainEpoch(source, e + 1, epochs, progress, cancellationToken);
            if (!ValidationData.IsEmpty) result = Validate(result);
            results.Add(result);
            foreach (var callback in Callbacks) callback.OnEpochEnd(this, _model, result);
        }
        return results;
    }

    /// <summary>
    /// The epoch's validation figures: a Gaussian model's negative ELBO (one sample, KL weight 1); a VQ-VAE's own loss
    /// (reconstruction plus commitment: it has no ELBO) and how it uses its codebook on the validation examples.
    /// </summary>
    private EpochResult Validate(EpochResult result)
    {
        if (_model.Architecture.Quantizer is null)
            return result with { ValidationLoss = -Evaluation.Metrics.Elbo(_model, ValidationData.Span, ValidationLabels.Span) };
        return result with { ValidationLoss = _model.Loss(ValidationData.Span, ReadOnlySpan<float>.Empty), ValidationCodes = _model.CodeUsage(ValidationData.Span) };
    }

    /// <summary>One pass over the data; <paramref name="epochInCall"/> and <paramref name="epochsInCall"/> only label progress.</summary>
    public EpochResult TrainEpoch(ReadOnlyMemory<float> data, int epochInCall = 1, int epochsInCall = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        TrainEpoch(data, ReadOnlyMemory<int>.Empty, epochInCall, epochsInCall, progress, cancellationToken);

    /// <summary>One pass over labelled data (a conditional model's); the labels follow their examples through the shuffle.</summary>
    /// <exception cref="RanksDisagreeException">With more than one rank: the ranks hold different data, batch sizes, epochs, steps or parameters.</exception>
    public EpochResult TrainEpoch(ReadOnlyMemory<float> data, ReadOnlyMemory<int> labels, int epochInCall = 1, int epochsInCall = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        TrainEpoch(InMemory(data, labels), epochInCall, epochsInCall, progress, cancellationToken);

    private InMemoryBatchSource InMemory(ReadOnlyMemory<float> data, ReadOnlyMemory<int> labels)
    {
        var source = new InMemoryBatchSource(data, _model.Architecture.Input, labels);
        if (!labels.IsEmpty && !_model.Architecture.IsConditional) throw _model.NotConditional(nameof(labels));
        return source;
    }

    /// <summary>One pass over the examples of <paramref name="source"/>.</summary>
    /// <exception cref="ArgumentException">The source's examples are not the model's Input long.</exception>
    /// <exception cref="RanksDisagreeException">With more than one rank: the ranks hold different data, batch sizes, epochs, steps or parameters.</exception>
    public EpochResult TrainEpoch(IBatchSource source, int epochInCall = 1, int epochsInCall = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        int input = _model.Architecture.Input;
        if (source.ExampleLength != input)
            throw new ArgumentException($"The source's examples have {source.ExampleLength} values; the model's Input is {input}.", nameof(source));
        int n = source.Count;
        if (n == 0) throw new ArgumentException("The data set is empty.", nameof(source));
        if (EpochsCompleted == int.MaxValue) throw new InvalidOperationException($"This trainer has completed {int.MaxValue} epochs, the most it counts.");
        // A source may carry labels an unconditional model ignores (Fashion-MNIST's do); a conditional model needs them.
        bool labelled = _model.Architecture.IsConditional;
        if (labelled && !source.HasLabels)
            throw new ArgumentException($"{_model.Architecture.Name} is conditional: the source must have a label for every example.", nameof(source));
        if (_batchLabels.Length < BatchSize) _batchLabels = new int[BatchSize];
        int epoch = EpochsCompleted + 1;
        if (_communicator.Size > 1) CheckRanksAgree(n, epoch, labelled);
        Shuffle(n, epoch);
        if (_batch.Length < BatchSize * input) _batch = new float[BatchSize * input];

        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int done = 0, steps = 0;
        for (int start = 0; start < n; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(BatchSize, n - start);
            // This rank's rows [first, first + rows) of the global batch: all of it in one process.
            int ranks = _communicator.Size, rank = _communicator.Rank;
            int first = (int)((long)count * rank / ranks), rows = (int)((long)count * (rank + 1) / ranks) - first;
            for (int b = 0; b < rows; b++)
                source.CopyExample(_order[start + first + b], _batch.AsSpan(b * input, input));
            if (labelled)
                for (int b = 0; b < rows; b++) _batchLabels[b] = source.LabelOf(_order[start + first + b]);
            if (KlWeightSchedule is { } schedule) _model.KlWeight = schedule(_model.Step + 1);
            var batchLabels = labelled ? _batchLabels.AsSpan(0, rows) : ReadOnlySpan<int>.Empty;
            if (LearningRateSchedule is { } rates) Optimizer.LearningRate = rates.At(_model.Step + 1);
            double loss = ranks == 1
                ? _model.TrainStep(_batch.AsSpan(0, count * input), batchLabels, Optimizer, ClipGradientNorm)
                : _model.TrainStep(_batch.AsSpan(0, rows * input), batchLabels, Optimizer, ClipGradientNorm, first, count, _communicator);
            lossSum += loss * count;
            done += count;
            steps++;
            foreach (var callback in Callbacks) callback.OnStepEnd(this, _model, _model.Step, loss);
            if (progress is not null && steps % ReportEvery == 0 && done < n)
                progress.Report(new TrainingProgress(epochInCall, epochsInCall, _model.Step, done, n, lossSum / done, done / clock.Elapsed.TotalSeconds, false));
        }
        double seconds = clock.Elapsed.TotalSeconds;
        EpochsCompleted = epoch;
        progress?.Report(new TrainingProgress(epochInCall, epochsInCall, _model.Step, n, n, lossSum / n, n / seconds, true));
        return new EpochResult(epoch, lossSum / n, seconds, _model.Step, LearningRate: Optimizer.LearningRate);
    }

    /// <summary>
    /// Ranks that disagree on the data, the batch, the epoch, the step or the parameters would pair up different
    /// collective calls, which hangs or silently mixes steps: every rank checks, and all throw alike.
    /// </summary>
    private void CheckRanksAgree(int n, int epoch, bool labelled)
    {
        double parameterSum = 0;
        foreach (float v in _model.GetParameters()) parameterSum += v;
        ReadOnlySpan<(string Name, double Value)> facts =
        [
            ("training examples", n), ("batch size", BatchSize), ("epoch", epoch), ("optimiser step", _model.Step),
            ("shuffle seed", ShuffleSeed % 1_000_003), ("labels", labelled ? 1 : 0), ("sum of the parameters", parameterSum),
        ];
        // Summed over the ranks, a fact equals N times this rank's value (to rounding) when every rank holds that value.
        int ranks = _communicator.Size;
        var sums = new double[facts.Length];
        for (int i = 0; i < facts.Length; i++) sums[i] = facts[i].Value;
        _communicator.AllReduceSum(sums);
        var disagree = new List<string>();
        for (int i = 0; i < facts.Length; i++)
            if (sums[i] != facts[i].Value * ranks && Math.Abs(sums[i] - facts[i].Value * ranks) > 1e-9 * Math.Abs(facts[i].Value * ranks))
                disagree.Add($"{facts[i].Name} (this rank: {facts[i].Value}, mean over ranks: {sums[i] / ranks})");
        // A difference that cancels in the sum on this rank shows on another; make every rank throw if any rank sees one.
        Span<double> flag = [disagree.Count > 0 ? 1 : 0];
        _communicator.AllReduceSum(flag);
        if (flag[0] > 0)
            throw new RanksDisagreeException($"Rank {_communicator.Rank} of {ranks}: the ranks do not agree on " +
                (disagree.Count > 0 ? string.Join(", ", disagree) : "the data, batch, epoch, step or parameters (another rank saw the difference)") +
                "; every rank must train the same model on the same data with the same settings.");
    }

    /// <summary>Fisher-Yates with Philox draws keyed by (shuffle seed, epoch): reproducible and resumable.</summary>
    private void Shuffle(int n, int epoch)
    {
        if (_order.Length != n) _order = new int[n];
        for (int i = 0; i < n; i++) _order[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            var r = Philox.Philox4x32_10((uint)i, (uint)epoch, 0x5348_5546u /* "SHUF" */, 0, (uint)ShuffleSeed, (uint)(ShuffleSeed >> 32));
            ulong wide = ((ulong)r.X0 << 32) | r.X1;
            int j = (int)(wide % (ulong)(i + 1));
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
    }
}
