using Vae.Devices;
using Vae.Noise;

namespace Vae;

/// <summary>
/// The base of every generated model. It owns the model's buffers on a device and offers training steps,
/// encoding, decoding, sampling and evaluation; the generated subclass supplies the architecture and its kernels.
/// Inputs and outputs are row-major spans: x is [examples, Input], z, mu and logvar are [examples, Latent].
/// </summary>
/// <remarks>
/// <para>
/// Threads: a model is not thread-safe, and it says so rather than corrupting itself. A call that starts while
/// another call on the same model is running (on another thread, or from a callback of the running call) throws
/// <see cref="InvalidOperationException"/> at once; calls are never queued. Use one model per thread (several
/// models may share a device), or a lock around the calls. Reading <see cref="Step"/>, <see cref="Seed"/> or
/// <see cref="KlWeight"/> is a plain field read and is allowed during a call.
/// </para>
/// <para>
/// Lifetime: once the model or its <see cref="Device"/> is disposed, every method and property throws
/// <see cref="ObjectDisposedException"/>, except <see cref="Device"/> and <see cref="Architecture"/>, which only
/// describe the model. Disposing during a call (from another thread) is safe: the buffers are freed when that call returns.
/// </para>
/// </remarks>
public abstract class VaeModel : IDisposable
{
    // _state bit 0: disposed; bit 1: a call is running. The backend is released once, by Dispose when no call is
    // running, or else by the running call as it ends.
    private const int DisposedBit = 1;
    private const int BusyBit = 2;
    private int _state;
    private int _released;
    private int _owner;

    private readonly IModelBackend _backend;
    private Type? _optimizerType;
    private float _klWeight;
    private float _freeBits;
    private ulong _seed;
    private long _step;
    private bool _hasGradients;

    /// <summary>
    /// Allocates the model on <paramref name="device"/> and initialises its parameters from
    /// <paramref name="seed"/>; called by the generated constructor, which supplies the architecture and kernels.
    /// </summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    protected VaeModel(Device device, ModelDescriptor architecture, ModelKernels kernels, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(kernels);
        Device = device;
        Architecture = architecture;
        _seed = seed;
        _klWeight = (float)architecture.Beta;
        _freeBits = (float)architecture.FreeBits;
        _counters = new long[architecture.Int64Count];
        _backend = device.Attach(architecture, kernels);
        try
        {
            device.EnterCall();
            try
            {
                _backend.SetParameters(InitialParameters(architecture, seed));
                if (architecture.StateCount > 0) _backend.SetState(InitialState(architecture));
            }
            finally { device.ExitCall(); }
        }
        catch
        {
            device.Detach(_backend);
            throw;
        }
    }

    /// <summary>The device the model runs on (readable after disposal).</summary>
    public Device Device { get; }

    /// <summary>The architecture and flat layout (readable after disposal).</summary>
    public ModelDescriptor Architecture { get; }

    /// <summary>Seed of the initial weights and of the training noise; a loaded checkpoint restores it, so resumed training draws the same noise.</summary>
    public ulong Seed
    {
        get { ThrowIfDisposed(); return _seed; }
        internal set { ThrowIfDisposed(); _seed = value; }
    }

    /// <summary>Optimiser steps taken so far; the noise of step s is keyed by s.</summary>
    public long Step
    {
        get { ThrowIfDisposed(); return _step; }
        internal set
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(Step));
            _step = value;
        }
    }

    /// <summary>
    /// Weight of the KL term used by training and evaluation, a finite number &gt;= 0; starts at the attribute's Beta
    /// (a schedule may change it between steps).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, infinite or NaN.</exception>
    public float KlWeight
    {
        get { ThrowIfDisposed(); return _klWeight; }
        set
        {
            ThrowIfDisposed();
            if (!(value >= 0 && float.IsFinite(value)))
                throw new ArgumentOutOfRangeException(nameof(KlWeight), value, "The KL weight must be a finite number >= 0.");
            _klWeight = value;
        }
    }

    /// <summary>
    /// Free bits used by training: each latent dimension's KL, averaged over the batch, is floored at this many nats
    /// and gets no gradient below it (Kingma et al. 2016). Starts at the attribute's FreeBits; ELBO models only; 0 is none.
    /// Evaluation (<see cref="Loss(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>, <see cref="Elbo(ReadOnlySpan{float}, ulong)"/>) reports the unfloored bound.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A positive value for a model whose objective is not the ELBO.</exception>
    public float FreeBits
    {
        get { ThrowIfDisposed(); return _freeBits; }
        set
        {
            ThrowIfDisposed();
            if (!(value >= 0) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(FreeBits), value, "Free bits must be a finite number >= 0.");
            if (value > 0 && Architecture.Objective != Objective.Elbo)
                throw new ArgumentException($"Free bits apply to the ELBO only; {Architecture.Name} trains the {Architecture.Objective} objective.", nameof(FreeBits));
            _freeBits = value;
        }
    }

    /// <summary>The most examples one training step takes on this model's device (<see cref="Vae.Device.MaxBatchSize"/>).</summary>
    public int MaxBatchSize
    {
        get { ThrowIfDisposed(); return _backend.MaxExamples; }
    }

    // Private names: the generated subclass declares public constants InputSize, LatentSize and ParameterCount.
    private int InputWidth => Architecture.Input;
    private int LatentWidth => Architecture.Latent;
    private int Parameters => Architecture.ParameterCount;

    /// <summary>Noise floats per example: L latent rows, or none for a VQ-VAE, which draws no noise.</summary>
    private int NoiseWidth => Architecture.Quantizer is null ? Architecture.LatentSamples * LatentWidth : 0;

    private bool Quantized => Architecture.Quantizer is not null;

    /// <summary>A Gaussian latent's entry point called on a VQ-VAE: it has no posterior, prior or noise to offer.</summary>
    private void RequireGaussian(string member)
    {
        if (Quantized)
            throw new NotSupportedException($"{Architecture.Name} has a vector-quantised latent, which has no {member}; " +
                                            "use EncodeCodes, DecodeCodes, Reconstruct, Loss and CodeUsage.");
    }

    /// <summary>A VQ-VAE's entry point called on a Gaussian model.</summary>
    private VectorQuantizerDescriptor RequireQuantizer() => Architecture.Quantizer
        ?? throw new NotSupportedException($"{Architecture.Name} has a Gaussian latent, not a vector-quantised one.");

    /// <summary>
    /// PyTorch's nn.Linear initialisation: weight and bias uniform in +-1/sqrt(fan_in), drawn from Philox keyed by the
    /// seed, so the same seed gives the same model on every target; a BatchNorm weight is 1 and its bias 0. Returns the
    /// <see cref="ModelDescriptor.ParameterCount"/> trained floats (the state starts at <see cref="InitialState"/>).
    /// </summary>
    public static float[] InitialParameters(ModelDescriptor architecture, ulong seed)
    {
        var values = new float[architecture.ParameterCount];
        var tensors = architecture.Tensors;
        for (int t = 0; t < tensors.Count; t++)
        {
            var tensor = tensors[t];
            if (tensor.Role != TensorRole.Parameter) continue;
            if (tensor.Init != TensorInit.Uniform)
            {
                values.AsSpan(tensor.Offset, tensor.Length).Fill(tensor.Init == TensorInit.Ones ? 1f : 0f);
                continue;
            }
            // The plan gives every tensor its fan-in (a bias takes its weight's).
            if (tensor.FanIn <= 0) throw new ArgumentException($"Tensor '{tensor.Name}' of {architecture.Name} has no fan-in to initialise from.", nameof(architecture));
            double bound = 1.0 / Math.Sqrt(tensor.FanIn);
            for (int i = 0; i < tensor.Length; i += 4)
            {
                var r = Philox.Philox4x32_10((uint)(i / 4), (uint)t, 0, uint.MaxValue, (uint)seed, (uint)(seed >> 32));
                ReadOnlySpan<uint> words = [r.X0, r.X1, r.X2, r.X3];
                for (int k = 0; k < 4 && i + k < tensor.Length; k++)
                    values[tensor.Offset + i + k] = (float)((2.0 * ((words[k] + 0.5) / 4294967296.0) - 1.0) * bound);
            }
        }
        return values;
    }

    /// <summary>
    /// The float state as PyTorch initialises it ([<see cref="ModelDescriptor.StateCount"/>]: BatchNorm's running_mean 0
    /// and running_var 1), in the order of the flat buffer after the parameters.
    /// </summary>
    public static float[] InitialState(ModelDescriptor architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        var values = new float[architecture.StateCount];
        foreach (var t in architecture.Tensors)
            if (t.Role == TensorRole.State && t.Type == TensorType.Float32)
                values.AsSpan(t.Offset - architecture.ParameterCount, t.Length).Fill(t.Init == TensorInit.Ones ? 1f : 0f);
        return values;
    }

    // The int64 state (BatchNorm's num_batches_tracked), by its offset among the model's integers.
    private readonly long[] _counters;

    /// <summary>
    /// The float state ([<see cref="ModelDescriptor.StateCount"/>], BatchNorm's running statistics in the order of
    /// <see cref="ModelDescriptor.Tensors"/>): kept and saved with the model, never touched by the optimiser.
    /// </summary>
    public float[] GetState()
    {
        using var call = Enter();
        var values = new float[Architecture.StateCount];
        _backend.GetState(values);
        return values;
    }

    /// <summary>Replaces the float state; <paramref name="values"/> is [<see cref="ModelDescriptor.StateCount"/>] as <see cref="GetState"/> returns it.</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is not the state's size.</exception>
    public void SetState(ReadOnlySpan<float> values)
    {
        using var call = Enter();
        if (values.Length != Architecture.StateCount)
            throw new ArgumentException($"Expected {Architecture.StateCount} state values for {Architecture.Name}, got {values.Length}.", nameof(values));
        _backend.SetState(values);
    }

    /// <summary>An int64 state tensor by name (BatchNorm's num_batches_tracked, a scalar: one value).</summary>
    /// <exception cref="ArgumentException">The model has no tensor of that name, or it is not an int64 tensor.</exception>
    public long[] GetInt64Tensor(string name)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (t.Type != TensorType.Int64) throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} holds floats: read it with GetTensor.", nameof(name));
        return _counters.AsSpan(t.Offset, t.Length).ToArray();
    }

    /// <summary>Replaces an int64 state tensor by name (BatchNorm's num_batches_tracked).</summary>
    /// <exception cref="ArgumentException">No int64 tensor of that name, or <paramref name="values"/> is not its size.</exception>
    public void SetInt64Tensor(string name, ReadOnlySpan<long> values)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (t.Type != TensorType.Int64) throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} holds floats: write it with SetTensor.", nameof(name));
        if (values.Length != t.Length)
            throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} has {t.Length} values; got {values.Length}.", nameof(values));
        values.CopyTo(_counters.AsSpan(t.Offset, t.Length));
    }

    internal long[] GetInt64State() => (long[])_counters.Clone();

    internal void SetInt64State(ReadOnlySpan<long> values) => values.CopyTo(_counters);

    /// <summary>
    /// Before a training-mode forward pass: PyTorch refuses to normalise a channel by the statistics of one value
    /// ("Expected more than 1 value per channel when training"), and so does this model, naming the layer.
    /// </summary>
    // The descriptor's list, taken once: its iterator would allocate on every training step.
    private (string Name, int Channels, int Area, bool PerSample)[]? _batchNormLayers;

    private (string Name, int Channels, int Area, bool PerSample)[] BatchNormLayers => _batchNormLayers ??= Architecture.BatchNormLayers.ToArray();

    private void CheckBatchStatistics(int examples)
    {
        foreach (var (name, _, area, perSample) in BatchNormLayers)
        {
            long values = (long)examples * (perSample ? Architecture.LatentSamples : 1) * area;
            if (values < 2)
                throw new ArgumentException($"{name} of {Architecture.Name} would normalise each channel by the statistics of {values} value in training mode, " +
                                            "which has no variance (PyTorch refuses it too: \"Expected more than 1 value per channel when training\"); train on at least 2 examples.");
        }
    }

    /// <summary>After a training-mode forward pass, as PyTorch's BatchNorm: every num_batches_tracked counts one more batch.</summary>
    private void CountBatch()
    {
        for (int i = 0; i < _counters.Length; i++) _counters[i]++;
    }

    /// <summary>All parameters in the flat layout of <see cref="ModelDescriptor.Tensors"/>.</summary>
    public float[] GetParameters()
    {
        using var call = Enter();
        var values = new float[Parameters];
        _backend.GetParameters(values);
        return values;
    }

    /// <summary>Replaces all parameters; <paramref name="values"/> is in the flat layout of <see cref="ModelDescriptor.Tensors"/>.</summary>
    public void SetParameters(ReadOnlySpan<float> values)
    {
        using var call = Enter();
        if (values.Length != Parameters)
            throw new ArgumentException($"Expected {Parameters} parameters for {Architecture.Name}, got {values.Length}.", nameof(values));
        _backend.SetParameters(values);
    }

    /// <summary>One tensor in PyTorch's layout, by its name in the descriptor, e.g. "encoder.0.weight" as [out, in].</summary>
    /// <exception cref="ArgumentException">The model has no tensor of that name; the message lists the names.</exception>
    public float[] GetTensor(string name)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (t.Type == TensorType.Int64) throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} holds int64 values: read it with GetInt64Tensor.", nameof(name));
        if (t.Role == TensorRole.State)
        {
            var state = new float[Architecture.StateCount];
            _backend.GetState(state);
            return state.AsSpan(t.Offset - Parameters, t.Length).ToArray();
        }
        var values = new float[Parameters];
        _backend.GetParameters(values);
        return values.AsSpan(t.Offset, t.Length).ToArray();
    }

    /// <summary>
    /// Replaces one tensor, by its name in the descriptor (e.g. "encoder.0.weight", [out, in] row-major, as PyTorch
    /// holds it); the other tensors, the optimiser state and the step are unchanged.
    /// </summary>
    /// <exception cref="ArgumentException">No tensor of that name, or <paramref name="values"/> is not its size.</exception>
    public void SetTensor(string name, ReadOnlySpan<float> values)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (values.Length != t.Length)
            throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} has shape {t.ShapeText}, {t.Length} values; got {values.Length}.", nameof(values));
        WriteTensor(t, values);
    }

    /// <summary>
    /// Replaces one tensor, checking the shape the values come in as well as their number (so a transposed
    /// [in, out] weight is refused even though it has the right size).
    /// </summary>
    /// <exception cref="ArgumentException">No tensor of that name, or <paramref name="shape"/> or the values' size is not its own.</exception>
    public void SetTensor(string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> values)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (!shape.SequenceEqual(t.Shape))
            throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} has shape {t.ShapeText}; got [{string.Join(", ", shape.ToArray())}].", nameof(shape));
        if (values.Length != t.Length)
            throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} has shape {t.ShapeText}, {t.Length} values; got {values.Length}.", nameof(values));
        WriteTensor(t, values);
    }

    private void WriteTensor(TensorDescriptor t, ReadOnlySpan<float> values)
    {
        if (t.Type == TensorType.Int64) throw new ArgumentException($"Tensor '{t.Name}' of {Architecture.Name} holds int64 values: write it with SetInt64Tensor.", "name");
        if (t.Role == TensorRole.State)
        {
            var state = new float[Architecture.StateCount];
            _backend.GetState(state);
            values.CopyTo(state.AsSpan(t.Offset - Parameters, t.Length));
            _backend.SetState(state);
            return;
        }
        var all = new float[Parameters];
        _backend.GetParameters(all);
        values.CopyTo(all.AsSpan(t.Offset, t.Length));
        _backend.SetParameters(all);
    }

    /// <summary>
    /// The gradient of the loss (the batch's mean negative ELBO) with respect to one tensor, in the tensor's shape,
    /// from the last <see cref="ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> or <see cref="TrainStep(ReadOnlySpan{float}, Optimizer, float?, int)"/>
    /// (after clipping, when that step clipped).
    /// </summary>
    /// <exception cref="ArgumentException">The model has no tensor of that name.</exception>
    /// <exception cref="InvalidOperationException">No gradient has been computed yet.</exception>
    public float[] GetGradient(string name)
    {
        using var call = Enter();
        var t = TensorNamed(name);
        if (t.Role != TensorRole.Parameter)
            throw new ArgumentException($"Tensor '{name}' of {Architecture.Name} is state, not trained: it has no gradient.", nameof(name));
        if (!_hasGradients)
            throw new InvalidOperationException($"No gradient of {Architecture.Name} has been computed yet: call ComputeGradients or TrainStep first.");
        var all = new float[Parameters];
        _backend.GetGradients(all);
        return all.AsSpan(t.Offset, t.Length).ToArray();
    }

    private TensorDescriptor TensorNamed(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var t in Architecture.Tensors)
            if (t.Name == name) return t;
        throw new ArgumentException($"Model '{Architecture.Name}' has no tensor '{name}'. It has: {string.Join(", ", Architecture.Tensors.Select(t => t.Name))}.", nameof(name));
    }

    internal IModelBackend Backend => _backend;

    internal void GetOptimizerState(int slot, Span<float> values)
    {
        using var call = Enter();
        _backend.GetOptimizerState(slot, values);
    }

    internal void SetOptimizerState(Optimizer optimizer, int slot, ReadOnlySpan<float> values)
    {
        using var call = Enter();
        _optimizerType = optimizer.GetType();
        _backend.SetOptimizerState(slot, values);
    }

    /// <summary>The mean negative ELBO of a batch with the given noise, and each example's value when asked.</summary>
    /// <param name="x">[examples, Input].</param>
    /// <param name="eps">[examples, LatentSamples, Latent] standard-normal noise.</param>
    /// <param name="exampleLoss">Empty, or [examples] to receive each example's negative ELBO.</param>
    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> exampleLoss = default) => Loss(x, default, eps, exampleLoss);

    /// <summary>
    /// The model's loss (the negative of its bound) for a batch with the given noise, and each example's value when
    /// asked; <paramref name="labels"/> are a conditional model's class labels, one per example (empty otherwise).
    /// </summary>
    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> exampleLoss = default)
    {
        using var call = Enter();
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        int per = NoiseWidth;
        CheckLength(eps, (long)n * per, nameof(eps), Quantized ? "empty: a VQ-VAE draws no noise" : "[examples, LatentSamples, Latent]");
        if (!exampleLoss.IsEmpty) CheckLength(exampleLoss, n, nameof(exampleLoss), "[examples]");
        double total = 0;
        foreach (var (start, count) in Chunks(n))
        {
            total += count * _backend.Loss(
                x.Slice(start * InputWidth, count * InputWidth), Slice(y, start, count),
                eps.Slice(start * per, count * per),
                count, _klWeight, exampleLoss.IsEmpty ? default : exampleLoss.Slice(start, count));
        }
        return n == 0 ? 0 : total / n;
    }

    /// <summary>
    /// The gradient of <see cref="Loss(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> for one batch (no optimiser step) into <paramref name="gradients"/>, in the
    /// flat layout; returns the loss. <see cref="GetGradient"/> reads it back by tensor name.
    /// </summary>
    public double ComputeGradients(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> gradients) => ComputeGradients(x, default, eps, gradients);

    /// <summary>The gradient of the training loss for one labelled batch (a conditional model's); returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> gradients)
    {
        using var call = Enter();
        int n = Examples(x, nameof(x));
        CheckBatch(n);
        var y = Labels(labels, n);
        CheckLength(eps, (long)n * NoiseWidth, nameof(eps), Quantized ? "empty: a VQ-VAE draws no noise" : "[examples, LatentSamples, Latent]");
        CheckLength(gradients, Parameters, nameof(gradients), "[Parameters]");
        CheckBatchStatistics(n);
        _hasGradients = true;
        // A training-mode forward pass, as in PyTorch: BatchNorm's running statistics move and its batches are counted,
        // and a VQ-VAE's codebook takes its EMA step (keyed, with its restarts, by the step the next TrainStep would take).
        double loss = _backend.ForwardBackward(x, y, eps, n, _klWeight, _freeBits, _seed, (uint)(_step + 1));
        CountBatch();
        _backend.GetGradients(gradients);
        return loss;
    }

    /// <summary>
    /// One optimiser step on a batch, with noise drawn from Philox keyed by (Seed, Step + 1, row, sample) on the
    /// device that runs the model.
    /// </summary>
    /// <param name="x">[examples, Input], at most <see cref="MaxBatchSize"/> rows.</param>
    /// <param name="optimizer">The optimiser that takes the step; its state lives with the model.</param>
    /// <param name="clipGradientNorm">When given, a finite number &gt; 0: gradients whose L2 norm exceeds it are scaled down to it.</param>
    /// <param name="firstExample">
    /// The index of x's first row in the global batch: noise is keyed by it, so a batch split across processes draws
    /// the same noise as one process would for the whole batch.
    /// </param>
    public double TrainStep(ReadOnlySpan<float> x, Optimizer optimizer, float? clipGradientNorm = null, int firstExample = 0) =>
        TrainStep(x, default, optimizer, clipGradientNorm, firstExample);

    /// <summary>One optimiser step on a labelled batch (a conditional model's), with noise drawn as by the unlabelled overload.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Optimizer optimizer, float? clipGradientNorm = null, int firstExample = 0)
    {
        using var call = Enter();
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfNegative(firstExample);
        CheckClip(clipGradientNorm);
        int n = Examples(x, nameof(x));
        CheckBatch(n);
        if ((long)firstExample + n - 1 > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(firstExample), firstExample, $"Rows {firstExample}.. of a batch of {n} run past the largest example index, {int.MaxValue}.");
        var y = Labels(labels, n);
        CheckBatchStatistics(n);
        long step = _step + 1;
        PrepareOptimizer(optimizer);
        _hasGradients = true;
        var state = SaveState();
        double loss = _backend.ForwardBackward(x, y, n, _klWeight, _freeBits, _seed, (uint)step, firstExample);
        return FinishStep(optimizer, step, loss, clipGradientNorm, state);
    }

    /// <summary>
    /// One data-parallel optimiser step: this rank's rows <paramref name="firstExample"/>.. of a global batch of
    /// <paramref name="globalBatchSize"/> examples split across <paramref name="communicator"/>'s ranks. Each rank's
    /// mean gradient and loss are weighted by its share of the batch and summed over the ranks, so every rank takes the
    /// same step on the global batch's mean, as one process would; returns the global batch's mean loss.
    /// </summary>
    /// <remarks>
    /// Every rank must call this for each step (a rank whose slice is empty passes an empty <paramref name="x"/>).
    /// The gradient is all-reduced after the backward pass, in the communicator's buckets.
    /// </remarks>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Optimizer optimizer, float? clipGradientNorm,
        int firstExample, int globalBatchSize, ICommunicator communicator)
    {
        using var call = Enter();
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentOutOfRangeException.ThrowIfNegative(firstExample);
        ArgumentOutOfRangeException.ThrowIfLessThan(globalBatchSize, 1);
        CheckClip(clipGradientNorm);
        // Each rank would normalise by the statistics of its own rows (PyTorch's DDP without SyncBatchNorm), so N ranks
        // would not compute what one process computes, which this overload promises.
        // A quantiser's first-batch initialisation, EMA counts and restarts would likewise follow each rank's rows.
        if (communicator.Size > 1 && Architecture.Quantizer is not null)
            throw new NotSupportedException($"{Architecture.Name} has a vector-quantised latent, whose codebook initialisation, EMA statistics and restarts " +
                                            $"data-parallel training would split across {communicator.Size} ranks; train it in one process.");
        if (communicator.Size > 1 && BatchNormLayers.Length > 0)
            throw new NotSupportedException($"{Architecture.Name} has BatchNorm layers, whose batch statistics data-parallel training would split across " +
                                            $"{communicator.Size} ranks; train it in one process.");
        int n = x.IsEmpty ? 0 : Examples(x, nameof(x));
        if (n > 0) CheckBatch(n);
        if (n > 0) CheckBatchStatistics(n);
        if ((long)firstExample + n > globalBatchSize)
            throw new ArgumentOutOfRangeException(nameof(firstExample), firstExample, $"Rows {firstExample}..{firstExample + n - 1} lie outside a global batch of {globalBatchSize}.");
        var y = n > 0 ? Labels(labels, n) : default;
        long step = _step + 1;
        PrepareOptimizer(optimizer);
        _hasGradients = true;
        if (_reduced.Length != Parameters) _reduced = new float[Parameters];
        double share = (double)n / globalBatchSize;
        double loss = 0;
        var state = n > 0 ? SaveState() : null;
        float weight = n == globalBatchSize ? 1f : (float)share;
        if (communicator is MpiCommunicator { Size: > 1, CallsFromAnyThread: true } mpi && _backend is CpuBackend)
        {
            // Buckets all-reduce on their own thread as the backward pass finishes them (see OverlappedReduction).
            var overlap = _overlap ??= new Distributed.OverlappedReduction();
            overlap.Begin(communicator, mpi.BucketSize, _reduced, weight, zeros: n == 0, _backend.GetGradients);
            try
            {
                if (n > 0) loss = _backend.ForwardBackward(x, y, n, _klWeight, _freeBits, _seed, (uint)step, firstExample, overlap) * share;
            }
            finally
            {
                // Even when the pass failed, every bucket goes out, so the other ranks are not left waiting mid-step.
                overlap.Finish();
            }
            BucketsDuringBackward = overlap.BucketsDuringBackward;
        }
        else
        {
            if (n > 0)
            {
                loss = _backend.ForwardBackward(x, y, n, _klWeight, _freeBits, _seed, (uint)step, firstExample) * share;
                _backend.GetGradients(_reduced);
                if (weight != 1f) foreach (ref var g in _reduced.AsSpan()) g *= weight;
            }
            else Array.Clear(_reduced);
            communicator.AllReduceSum(_reduced);
            BucketsDuringBackward = 0;
        }
        Span<double> lossSum = [loss];
        communicator.AllReduceSum(lossSum);
        _backend.SetGradients(_reduced);
        return FinishStep(optimizer, step, lossSum[0], clipGradientNorm, state, counted: n > 0);
    }

    private float[] _reduced = [];
    private Distributed.OverlappedReduction? _overlap;

    /// <summary>
    /// Gradient buckets the last data-parallel <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, Optimizer, float?, int, int, ICommunicator)"/>
    /// all-reduced while its backward pass was still running (0 when it reduced after the pass: one rank, an
    /// accelerator, or a communicator that cannot be called from another thread).
    /// </summary>
    public int BucketsDuringBackward
    {
        get { ThrowIfDisposed(); return _bucketsDuringBackward; }
        private set => _bucketsDuringBackward = value;
    }

    private int _bucketsDuringBackward;

    /// <summary>One optimiser step with explicit noise. A non-finite loss or gradient throws and changes nothing.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Optimizer optimizer, float? clipGradientNorm = null) =>
        TrainStep(x, default, eps, optimizer, clipGradientNorm);

    /// <summary>One optimiser step on a labelled batch with explicit noise.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Optimizer optimizer, float? clipGradientNorm = null)
    {
        using var call = Enter();
        ArgumentNullException.ThrowIfNull(optimizer);
        CheckClip(clipGradientNorm);
        int n = Examples(x, nameof(x));
        CheckBatch(n);
        CheckLength(eps, (long)n * NoiseWidth, nameof(eps), Quantized ? "empty: a VQ-VAE draws no noise" : "[examples, LatentSamples, Latent]");
        var y = Labels(labels, n);
        CheckBatchStatistics(n);
        long step = _step + 1;
        PrepareOptimizer(optimizer);
        _hasGradients = true;
        var state = SaveState();
        double loss = _backend.ForwardBackward(x, y, eps, n, _klWeight, _freeBits, _seed, (uint)step);
        return FinishStep(optimizer, step, loss, clipGradientNorm, state);
    }

    private static void CheckClip(float? clipGradientNorm)
    {
        if (clipGradientNorm is float clip && !(clip > 0 && float.IsFinite(clip)))
            throw new ArgumentOutOfRangeException(nameof(clipGradientNorm), clip, "The gradient norm to clip to must be a finite number > 0.");
    }

    /// <summary>Optimiser state belongs to one kind of optimiser: switching kinds starts it afresh.</summary>
    private void PrepareOptimizer(Optimizer optimizer)
    {
        if (_optimizerType == optimizer.GetType()) return;
        _backend.ResetOptimizerState();
        _optimizerType = optimizer.GetType();
    }

    /// <summary>
    /// The float state before a training forward pass moves it, so that a step that fails its checks changes nothing
    /// (PyTorch's forward would already have moved the running statistics); null for a model without state.
    /// </summary>
    // The state (and, for a VQ-VAE with Decay 0, the parameters) before the step in flight, restored if the step
    // fails; buffers reused, so a step allocates nothing.
    private float[]? _savedState, _savedParameters;

    private float[]? SaveState()
    {
        // A VQ-VAE whose codebook the optimiser trains (Decay 0) has it set inside the step (first-batch
        // initialisation, dead-code restarts), so a step that fails must put the parameters back as well.
        if (Architecture.Quantizer is { Decay: 0 })
        {
            _savedParameters ??= new float[Parameters];
            _backend.GetParameters(_savedParameters);
        }
        if (Architecture.StateCount == 0) return null;
        _savedState ??= new float[Architecture.StateCount];
        _backend.GetState(_savedState);
        return _savedState;
    }

    private double FinishStep(Optimizer optimizer, long step, double loss, float? clipGradientNorm, float[]? state, bool counted = true)
    {
        try
        {
            if (!double.IsFinite(loss)) throw new NonFiniteLossException(step, loss, "loss");
            if (clipGradientNorm is float clip)
            {
                double norm = Math.Sqrt(_backend.GradientSumOfSquares());
                if (!double.IsFinite(norm)) throw new NonFiniteLossException(step, norm, "gradient norm");
                if (norm > clip) _backend.ScaleGradients((float)(clip / norm));
            }
        }
        catch (NonFiniteLossException)
        {
            if (state is not null) _backend.SetState(state);
            if (Architecture.Quantizer is { Decay: 0 } && _savedParameters is not null) _backend.SetParameters(_savedParameters);
            throw;
        }
        _backend.ApplyOptimizer(optimizer, step);
        if (counted) CountBatch();
        _step = step;
        return loss;
    }

    /// <summary>The encoder's mean and log variance for each example.</summary>
    public void Encode(ReadOnlySpan<float> x, Span<float> mu, Span<float> logVar) => Encode(x, default, mu, logVar);

    /// <summary>q(z|x, y) of a conditional model: the mean and log variance of each labelled example.</summary>
    public void Encode(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Span<float> mu, Span<float> logVar)
    {
        using var call = Enter();
        EncodeCore(x, Labels(labels, Examples(x, nameof(x))), mu, logVar);
    }

    private void EncodeCore(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, Span<float> mu, Span<float> logVar)
    {
        RequireGaussian("posterior mean and variance");
        int n = Examples(x, nameof(x));
        CheckLength(mu, (long)n * LatentWidth, nameof(mu), "[examples, Latent]");
        CheckLength(logVar, (long)n * LatentWidth, nameof(logVar), "[examples, Latent]");
        foreach (var (start, count) in Chunks(n))
            _backend.Encode(x.Slice(start * InputWidth, count * InputWidth), Slice(labels, start, count), count,
                mu.Slice(start * LatentWidth, count * LatentWidth), logVar.Slice(start * LatentWidth, count * LatentWidth));
    }

    /// <summary>The decoder's mean for each latent row: pixel probabilities for Bernoulli, the Gaussian mean otherwise.</summary>
    public void Decode(ReadOnlySpan<float> z, Span<float> mean) => Decode(z, default, mean);

    /// <summary>The decoder's mean for each latent row of a conditional model, each row with its own label.</summary>
    public void Decode(ReadOnlySpan<float> z, ReadOnlySpan<int> labels, Span<float> mean)
    {
        using var call = Enter();
        if (z.Length % LatentWidth != 0)
            throw new ArgumentException($"z has {z.Length} values, not a whole number of rows of Latent = {LatentWidth}.", nameof(z));
        DecodeCore(z, Labels(labels, z.Length / LatentWidth), mean);
    }

    private void DecodeCore(ReadOnlySpan<float> z, ReadOnlySpan<float> labels, Span<float> mean)
    {
        if (z.Length % LatentWidth != 0)
            throw new ArgumentException($"z has {z.Length} values, not a whole number of rows of Latent = {LatentWidth}.", nameof(z));
        int n = z.Length / LatentWidth;
        CheckLength(mean, (long)n * InputWidth, nameof(mean), "[rows, Input]");
        foreach (var (start, count) in Chunks(n))
            _backend.Decode(z.Slice(start * LatentWidth, count * LatentWidth), Slice(labels, start, count), count, mean.Slice(start * InputWidth, count * InputWidth));
    }

    /// <summary>Decodes each example's posterior mean: the usual deterministic reconstruction.</summary>
    public void Reconstruct(ReadOnlySpan<float> x, Span<float> mean) => Reconstruct(x, ReadOnlySpan<int>.Empty, mean);

    /// <summary>The same for a conditional model's labelled examples (the label goes to the encoder and the decoder).</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Span<float> mean)
    {
        using var call = Enter();
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        if (Quantized)
        {
            // A VQ-VAE's reconstruction: each example's codes, decoded.
            CheckLength(mean, (long)n * InputWidth, nameof(mean), "[examples, Input]");
            var codes = new int[ArrayLength((long)n * Architecture.QuantizedPositions, nameof(x), "code indices")];
            EncodeCodesCore(x, codes);
            DecodeCodesCore(codes, mean);
            return;
        }
        int latentFloats = ArrayLength((long)n * LatentWidth, nameof(x), "examples of latent values");
        var mu = new float[latentFloats];
        EncodeCore(x, y, mu, new float[latentFloats]);
        DecodeCore(mu, y, mean);
    }

    /// <summary>Decodes z = mu + exp(logvar / 2) eps for each example, with explicit eps [examples, Latent].</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> mean) => Reconstruct(x, default, eps, mean);

    /// <summary>The same for a conditional model's labelled examples.</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> mean)
    {
        using var call = Enter();
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        RequireGaussian("noise to reconstruct with");
        CheckLength(eps, (long)n * LatentWidth, nameof(eps), "[examples, Latent]");
        var mu = new float[eps.Length];
        var logVar = new float[eps.Length];
        EncodeCore(x, y, mu, logVar);
        for (int i = 0; i < mu.Length; i++) mu[i] += MathF.Exp(0.5f * logVar[i]) * eps[i];
        DecodeCore(mu, y, mean);
    }

    /// <summary>
    /// A VQ-VAE's code indices for each example: [examples, positions] with positions = <see cref="ModelDescriptor.QuantizedPositions"/>
    /// (row-major spatial positions of the encoder's map, or consecutive vectors of a dense encoder's output).
    /// </summary>
    /// <exception cref="NotSupportedException">The model has a Gaussian latent.</exception>
    public int[] EncodeCodes(ReadOnlySpan<float> x)
    {
        using var call = Enter();
        RequireQuantizer();
        int n = Examples(x, nameof(x));
        var codes = new int[ArrayLength((long)n * Architecture.QuantizedPositions, nameof(x), "code indices")];
        EncodeCodesCore(x, codes);
        return codes;
    }

    /// <summary>A VQ-VAE's code indices for each example into <paramref name="codes"/>, [examples, positions].</summary>
    /// <exception cref="NotSupportedException">The model has a Gaussian latent.</exception>
    public void EncodeCodes(ReadOnlySpan<float> x, Span<int> codes)
    {
        using var call = Enter();
        RequireQuantizer();
        EncodeCodesCore(x, codes);
    }

    private void EncodeCodesCore(ReadOnlySpan<float> x, Span<int> codes)
    {
        int n = Examples(x, nameof(x));
        int positions = Architecture.QuantizedPositions;
        if (codes.Length != (long)n * positions)
            throw new ArgumentException($"codes must have {(long)n * positions} values ([examples, {positions}]), got {codes.Length}.", nameof(codes));
        foreach (var (start, count) in Chunks(n))
            _backend.EncodeCodes(x.Slice(start * InputWidth, count * InputWidth), count, codes.Slice(start * positions, count * positions));
    }

    /// <summary>
    /// A VQ-VAE's decoder mean for each example's code indices ([examples, positions], each in [0, Codes)): the codes'
    /// vectors in place of the encoder's output, decoded.
    /// </summary>
    /// <exception cref="NotSupportedException">The model has a Gaussian latent.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A code index is outside the codebook.</exception>
    public void DecodeCodes(ReadOnlySpan<int> codes, Span<float> mean)
    {
        using var call = Enter();
        RequireQuantizer();
        DecodeCodesCore(codes, mean);
    }

    private void DecodeCodesCore(ReadOnlySpan<int> codes, Span<float> mean)
    {
        var q = RequireQuantizer();
        int positions = Architecture.QuantizedPositions;
        if (codes.Length % positions != 0)
            throw new ArgumentException($"codes has {codes.Length} values, not a whole number of examples of {positions} positions.", nameof(codes));
        for (int i = 0; i < codes.Length; i++)
            if ((uint)codes[i] >= (uint)q.Codes)
                throw new ArgumentOutOfRangeException(nameof(codes), codes[i], $"Code index {i} is outside the codebook of {q.Codes} codes.");
        int n = codes.Length / positions;
        CheckLength(mean, (long)n * InputWidth, nameof(mean), "[examples, Input]");
        foreach (var (start, count) in Chunks(n))
            _backend.DecodeCodes(codes.Slice(start * positions, count * positions), count, mean.Slice(start * InputWidth, count * InputWidth));
    }

    /// <summary>
    /// How a VQ-VAE uses its codebook on <paramref name="data"/>: every position's code counted, the perplexity
    /// exp(-sum_k p_k log(p_k + 1e-10)) of that histogram and the number of codes chosen at least once, as the PyTorch
    /// peer reports them (a healthy codebook has a perplexity near its size; collapse shows as a handful of codes).
    /// </summary>
    /// <exception cref="NotSupportedException">The model has a Gaussian latent.</exception>
    public CodebookUsage CodeUsage(ReadOnlySpan<float> data)
    {
        using var call = Enter();
        var q = RequireQuantizer();
        int n = Examples(data, nameof(data));
        int positions = Architecture.QuantizedPositions;
        var counts = new long[q.Codes];
        var codes = new int[Math.Min(n, _backend.MaxExamples) * positions];
        foreach (var (start, count) in Chunks(n))
        {
            var chunk = codes.AsSpan(0, count * positions);
            _backend.EncodeCodes(data.Slice(start * InputWidth, count * InputWidth), count, chunk);
            foreach (int c in chunk) counts[c]++;
        }
        return CodebookUsage.FromCounts(counts);
    }

    /// <summary>Decodes <paramref name="count"/> draws from the prior N(0, I); returns [count, Input] means.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative, or its values would not fit in one array.</exception>
    public float[] Sample(int count, ulong seed) => Sample(count, ReadOnlySpan<int>.Empty, seed);

    /// <summary>
    /// A conditional model's samples: one draw from the prior per label, decoded with that label ("draw me a
    /// sneaker"); returns [labels, Input] means.
    /// </summary>
    public float[] Sample(ReadOnlySpan<int> labels, ulong seed) => Sample(labels.Length, labels, seed);

    private float[] Sample(int count, ReadOnlySpan<int> labels, ulong seed)
    {
        using var call = Enter();
        RequireGaussian("prior to sample from (sample code indices and call DecodeCodes)");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var y = Labels(labels, count);
        var z = new float[ArrayLength((long)count * LatentWidth, nameof(count), "latent values")];
        var mean = new float[ArrayLength((long)count * InputWidth, nameof(count), "decoded values")];
        Philox.FillNormal(seed, 0, 0, count, 1, LatentWidth, z);
        DecodeCore(z, y, mean);
        return mean;
    }

    /// <summary>
    /// Mean ELBO over a data set in nats per example (the negative of the loss), with noise keyed by
    /// (seed, step 0, example index in the data set), so chunking never changes the figure.
    /// </summary>
    public double Elbo(ReadOnlySpan<float> data, ulong seed = 0) => Elbo(data, default, seed);

    /// <summary>The same over a conditional model's labelled data set.</summary>
    public double Elbo(ReadOnlySpan<float> data, ReadOnlySpan<int> labels, ulong seed = 0)
    {
        using var call = Enter();
        RequireGaussian("ELBO (its loss is not a bound: see Loss)");
        int n = Examples(data, nameof(data));
        var y = Labels(labels, n);
        int per = Architecture.LatentSamples * LatentWidth;
        double total = 0;
        var eps = new float[Math.Min(n, _backend.MaxExamples) * per];
        foreach (var (start, count) in Chunks(n))
        {
            var e = eps.AsSpan(0, count * per);
            Philox.FillNormal(seed, 0, start, count, Architecture.LatentSamples, LatentWidth, e);
            total += count * _backend.Loss(data.Slice(start * InputWidth, count * InputWidth), Slice(y, start, count), e, count, _klWeight, default);
        }
        return n == 0 ? 0 : -total / n;
    }

    /// <summary>
    /// The loss form of <see cref="Elbo(ReadOnlySpan{float}, ulong)"/>: the same figure negated (nats per example,
    /// lower is better), the sign of <see cref="TrainStep(ReadOnlySpan{float}, Optimizer, float?, int)"/>,
    /// <see cref="TrainingProgress.Loss"/> and <see cref="EpochResult.TrainLoss"/>, so a test figure compares with them directly.
    /// </summary>
    public double NegativeElbo(ReadOnlySpan<float> data, ulong seed = 0) => -Elbo(data, seed);

    /// <summary>The same over a conditional model's labelled data set: minus <see cref="Elbo(ReadOnlySpan{float}, ReadOnlySpan{int}, ulong)"/>.</summary>
    public double NegativeElbo(ReadOnlySpan<float> data, ReadOnlySpan<int> labels, ulong seed = 0) => -Elbo(data, labels, seed);

    /// <summary>
    /// The importance-sampled estimate of -log p(x), mean over the data set in nats: for each example,
    /// -log mean_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)) with z_k ~ q(z|x), computed stably (log-sum-exp,
    /// streamed over chunks of samples, so memory does not grow with <paramref name="importanceSamples"/>).
    /// </summary>
    public double NegativeLogLikelihood(ReadOnlySpan<float> data, int importanceSamples, ulong seed = 0, IProgress<int>? progress = null, CancellationToken cancellationToken = default) =>
        NegativeLogLikelihood(data, default, importanceSamples, seed, progress, cancellationToken);

    /// <summary>The same for a conditional model's labelled data set: -log p(x|y), mean over the data set.</summary>
    public double NegativeLogLikelihood(ReadOnlySpan<float> data, ReadOnlySpan<int> labels, int importanceSamples, ulong seed = 0, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        using var call = Enter();
        RequireGaussian("likelihood bound to estimate");
        ArgumentOutOfRangeException.ThrowIfLessThan(importanceSamples, 1);
        int n = Examples(data, nameof(data));
        var y = Labels(labels, n);
        int j = LatentWidth;
        int perCall = Math.Max(1, Math.Min(_backend.MaxExamples * Architecture.LatentSamples / importanceSamples, 256));
        int k = Math.Min(importanceSamples, _backend.MaxExamples * Architecture.LatentSamples);
        var mu = new float[perCall * j];
        var logVar = new float[perCall * j];
        var eps = new float[perCall * k * j];
        var z = new float[perCall * k * j];
        var nll = new float[perCall * k];
        var logWeights = new double[perCall * k];
        // Per example, the running maximum log weight and the sum of exp(log weight - maximum).
        var runningMax = new double[perCall];
        var runningSum = new double[perCall];
        double total = 0;
        for (int start = 0; start < n; start += perCall)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(perCall, n - start);
            var x = data.Slice(start * InputWidth, count * InputWidth);
            var xLabels = Slice(y, start, count);
            EncodeCore(x, xLabels, mu.AsSpan(0, count * j), logVar.AsSpan(0, count * j));
            for (int k0 = 0; k0 < importanceSamples; k0 += k)
            {
                if (k0 > 0) cancellationToken.ThrowIfCancellationRequested();
                int kc = Math.Min(k, importanceSamples - k0);
                // Importance-sampling noise has its own steps counted down from 2^32 - 1 (training counts up from 1,
                // the ELBO uses 0), one per chunk of K, keyed by (example, sample) within it.
                Philox.FillNormal(seed, uint.MaxValue - (uint)(k0 / k), start, count, kc, j, eps.AsSpan(0, count * kc * j));
                var logQ = logWeights.AsSpan(0, count * kc);
                for (int b = 0; b < count; b++)
                for (int s = 0; s < kc; s++)
                {
                    double lq = 0, lp = 0;
                    for (int i = 0; i < j; i++)
                    {
                        float e = eps[(b * kc + s) * j + i];
                        float lv = logVar[b * j + i];
                        float zi = mu[b * j + i] + MathF.Exp(0.5f * lv) * e;
                        z[(b * kc + s) * j + i] = zi;
                        lq += -0.5 * (e * (double)e + lv + Math.Log(2 * Math.PI));
                        lp += -0.5 * (zi * (double)zi + Math.Log(2 * Math.PI));
                    }
                    logQ[b * kc + s] = lp - lq;
                }
                _backend.DecoderNegativeLogLikelihood(z.AsSpan(0, count * kc * j), x, xLabels, count, kc, nll.AsSpan(0, count * kc));
                for (int b = 0; b < count; b++)
                {
                    var w = logWeights.AsSpan(b * kc, kc);
                    for (int s = 0; s < kc; s++) w[s] -= nll[b * kc + s];
                    Accumulate(w, k0 == 0, ref runningMax[b], ref runningSum[b]);
                }
            }
            for (int b = 0; b < count; b++)
            {
                double max = runningMax[b];
                total -= double.IsNegativeInfinity(max) || double.IsNaN(max) ? max : max + Math.Log(runningSum[b] / importanceSamples);
            }
            progress?.Report(start + count);
        }
        return n == 0 ? 0 : total / n;
    }

    /// <summary>
    /// Adds a chunk of log weights to a running log-sum-exp: (max, sum of exp(v - max)). With one chunk this is
    /// exactly <see cref="LogMeanExp"/>'s arithmetic, so K up to a device call's rows gives the same bits as before.
    /// </summary>
    private static void Accumulate(ReadOnlySpan<double> values, bool first, ref double max, ref double sum)
    {
        double chunkMax = double.NegativeInfinity;
        foreach (var v in values) chunkMax = Math.Max(chunkMax, v);
        if (first)
        {
            max = chunkMax;
            sum = 0;
        }
        else if (double.IsNaN(max) || double.IsNaN(chunkMax))
        {
            max = double.NaN;
            return;
        }
        else if (chunkMax > max)
        {
            sum *= Math.Exp(max - chunkMax);
            max = chunkMax;
        }
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) return;
        foreach (var v in values) sum += Math.Exp(v - max);
    }

    /// <summary>log(mean(exp(v))) without overflow: the maximum is taken out before exponentiating.</summary>
    public static double LogMeanExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (var v in values) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) return max;
        double sum = 0;
        foreach (var v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum / values.Length);
    }

    private float[] _labels = [];

    /// <summary>The error for labels given to an unconditional model (the trainer checks before its first step).</summary>
    internal ArgumentException NotConditional(string parameter) =>
        new($"{Architecture.Name} is not conditional: it takes no labels (declare [Conditional(Classes = C)] for one that does).", parameter);

    /// <summary>
    /// A conditional model's labels, checked (one per example, each in 0 .. Classes - 1) and held as floats for the
    /// kernels in a buffer the model reuses; empty for an unconditional model, which must be given none.
    /// </summary>
    private ReadOnlySpan<float> Labels(ReadOnlySpan<int> labels, int n)
    {
        int classes = Architecture.Classes;
        if (classes == 0)
        {
            if (!labels.IsEmpty) throw NotConditional(nameof(labels));
            return default;
        }
        if (labels.Length != n)
            throw new ArgumentException(labels.IsEmpty
                ? $"{Architecture.Name} is conditional on {classes} classes: pass each example's label (the overloads that take labels)."
                : $"labels has {labels.Length} values for {n} examples.", nameof(labels));
        if (_labels.Length < n) _labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {i} is {labels[i]}; {Architecture.Name} has classes 0 to {classes - 1}.");
            _labels[i] = labels[i];
        }
        return _labels.AsSpan(0, n);
    }

    private static ReadOnlySpan<float> Slice(ReadOnlySpan<float> labels, int start, int count) =>
        labels.IsEmpty ? default : labels.Slice(start, count);

    private int Examples(ReadOnlySpan<float> x, string name)
    {
        if (x.Length % InputWidth != 0)
            throw new ArgumentException($"{name} has {x.Length} values, not a whole number of examples of Input = {InputWidth}.", name);
        return x.Length / InputWidth;
    }

    private void CheckBatch(int n)
    {
        if (n < 1) throw new ArgumentException("A training batch needs at least one example.");
        if (n > _backend.MaxExamples) throw new ArgumentException($"A training batch holds at most {_backend.MaxExamples} examples on {Device.Name}; got {n}.");
    }

    private static void CheckLength(ReadOnlySpan<float> span, long expected, string name, string shape)
    {
        if (span.Length != expected)
            throw new ArgumentException($"{name} must have {expected} values ({shape}), got {span.Length}.", name);
    }

    /// <summary>A length for a new array, or an argument error naming the parameter that asked for too much.</summary>
    private static int ArrayLength(long length, string parameter, string what)
    {
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(parameter, $"{length} {what} do not fit in one array (at most {Array.MaxLength}); split the work.");
        return (int)length;
    }

    private IEnumerable<(int Start, int Count)> Chunks(int n)
    {
        int size = _backend.MaxExamples;
        for (int start = 0; start < n; start += size) yield return (start, Math.Min(size, n - start));
    }

    /// <summary>Starts a call: refuses a disposed model or device, and a call overlapping another on this model.</summary>
    private Call Enter()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & DisposedBit) != 0) throw ModelDisposed();
            if ((state & BusyBit) != 0) throw Overlapping();
            if (Interlocked.CompareExchange(ref _state, state | BusyBit, state) == state) break;
        }
        Volatile.Write(ref _owner, Environment.CurrentManagedThreadId);
        try
        {
            Device.EnterCall();
        }
        catch
        {
            Leave();
            throw;
        }
        return new Call(this);
    }

    private void Exit()
    {
        Device.ExitCall();
        Leave();
    }

    private void Leave()
    {
        Volatile.Write(ref _owner, 0);
        int before = Interlocked.And(ref _state, ~BusyBit);
        if ((before & DisposedBit) != 0) Release();
    }

    /// <summary>Ends a call when it goes out of scope, however the call ends.</summary>
    private readonly ref struct Call(VaeModel model)
    {
        public void Dispose() => model.Exit();
    }

    private void ThrowIfDisposed()
    {
        if ((Volatile.Read(ref _state) & DisposedBit) != 0) throw ModelDisposed();
        if (Device.IsDisposed)
            throw new ObjectDisposedException(Device.GetType().Name, $"The device {Device.Name} of this {Architecture.Name} model has been disposed; create a new device and model.");
    }

    private ObjectDisposedException ModelDisposed() =>
        new(GetType().Name, $"This {Architecture.Name} model has been disposed.");

    private InvalidOperationException Overlapping() =>
        Volatile.Read(ref _owner) == Environment.CurrentManagedThreadId
            ? new($"A call on this {Architecture.Name} model is already running on this thread: a callback (such as a progress report) must not call the model it reports on.")
            : new($"Another thread is using this {Architecture.Name} model: a model is not thread-safe, so calls on it must not overlap. " +
                  "Use one model per thread (models may share a device) or a lock around the calls.");

    /// <summary>
    /// Frees the model's buffers. During a call running on another thread it only marks the model disposed, and the
    /// buffers are freed when that call returns. Safe to call more than once, and after the device is disposed.
    /// </summary>
    public void Dispose()
    {
        int before = Interlocked.Or(ref _state, DisposedBit);
        if ((before & DisposedBit) != 0) return;
        if ((before & BusyBit) == 0) Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        _overlap?.Dispose();
        Device.Detach(_backend);
    }
}
