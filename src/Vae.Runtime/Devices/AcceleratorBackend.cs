using Vae.Kernels.Accelerators;
using Vae.Kernels.Cpu;

namespace Vae.Devices;

/// <summary>
/// A model on an accelerator (OpenCL or CUDA): device buffers by id, and the generated launch sequence run through
/// <see cref="IAcceleratorQueue"/>. Subclasses supply memory transfers and kernel launches; everything else, from
/// buffer sizes to loss combination and optimiser launches, is shared here.
/// </summary>
internal abstract class AcceleratorBackend<TBuffer> : IModelBackend, IAcceleratorQueue where TBuffer : class, IDisposable
{
    private readonly ModelDescriptor _descriptor;
    private readonly IAcceleratorKernels _kernels;
    private readonly TBuffer?[] _buffers;
    private readonly int _stateBase;
    private float[] _rowNll = [], _kl = [], _gradients = [];
    private bool _initialised;

    protected AcceleratorBackend(ModelDescriptor descriptor, IAcceleratorKernels kernels, int maxExamples)
    {
        _descriptor = descriptor;
        _kernels = kernels;
        MaxExamples = maxExamples;
        _stateBase = AcceleratorBuffers.FirstWorkspace + kernels.Workspace.Length;
        _buffers = new TBuffer?[_stateBase + 2];
    }

    public int MaxExamples { get; }

    /// <summary>Allocates every buffer; called by the subclass once its context exists.</summary>
    protected void AllocateBuffers()
    {
        int p = _descriptor.ParameterCount, input = _descriptor.Input, latent = _descriptor.Latent, samples = _descriptor.LatentSamples;
        long rows = (long)MaxExamples * samples;
        _buffers[AcceleratorBuffers.Parameters] = Allocate(p);
        _buffers[AcceleratorBuffers.Gradients] = Allocate(p);
        _buffers[AcceleratorBuffers.X] = Allocate((long)MaxExamples * input);
        _buffers[AcceleratorBuffers.Eps] = Allocate(rows * latent);
        _buffers[AcceleratorBuffers.Mu] = Allocate((long)MaxExamples * latent);
        _buffers[AcceleratorBuffers.LogVar] = Allocate((long)MaxExamples * latent);
        _buffers[AcceleratorBuffers.Mean] = Allocate((long)MaxExamples * input);
        for (int i = 0; i < _kernels.Workspace.Length; i++)
        {
            var b = _kernels.Workspace[i];
            _buffers[AcceleratorBuffers.FirstWorkspace + i] = Allocate((b.PerSample ? rows : MaxExamples) * b.Width);
        }
        _initialised = true;
    }

    protected abstract TBuffer Allocate(long floats);
    protected abstract void Write(TBuffer buffer, ReadOnlySpan<float> values);
    protected abstract void Read(TBuffer buffer, Span<float> values);
    protected abstract void Fill(TBuffer buffer, float value);

    /// <summary>Launches a kernel whose first argument is the work-item count, followed by <paramref name="arguments"/>.</summary>
    protected abstract void LaunchKernel(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments);

    protected TBuffer BufferById(int id) => _buffers[id] ?? throw new InvalidOperationException($"Accelerator buffer {id} is not allocated.");

    public void Launch(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments)
    {
        if (workItems <= 0) return;
        if (workItems > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(workItems), workItems, $"Kernel {kernel} would need more than 2^31 work items.");
        LaunchKernel(kernel, workItems, arguments);
    }

    private TBuffer Slot(int slot)
    {
        if (!_initialised) throw new InvalidOperationException("Buffers are not allocated.");
        if (_buffers[_stateBase + slot] is null)
        {
            var b = Allocate(_descriptor.ParameterCount);
            Fill(b, 0f);
            _buffers[_stateBase + slot] = b;
        }
        return _buffers[_stateBase + slot]!;
    }

    public void SetParameters(ReadOnlySpan<float> values) => Write(BufferById(AcceleratorBuffers.Parameters), values);
    public void GetParameters(Span<float> values) => Read(BufferById(AcceleratorBuffers.Parameters), values);
    public void GetGradients(Span<float> values) => Read(BufferById(AcceleratorBuffers.Gradients), values);
    public void GetOptimizerState(int slot, Span<float> values) => Read(Slot(slot), values);
    public void SetOptimizerState(int slot, ReadOnlySpan<float> values) => Write(Slot(slot), values);

    public void ResetOptimizerState()
    {
        for (int slot = 0; slot < 2; slot++)
            if (_buffers[_stateBase + slot] is { } b) Fill(b, 0f);
    }

    private void Upload(int id, ReadOnlySpan<float> values)
    {
        if (!values.IsEmpty) Write(BufferById(id), values);
    }

    public double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int examples, float beta)
    {
        Upload(AcceleratorBuffers.X, x);
        Upload(AcceleratorBuffers.Eps, eps);
        return RunTraining(examples, beta);
    }

    public double ForwardBackward(ReadOnlySpan<float> x, int examples, float beta, ulong seed, uint step)
    {
        Upload(AcceleratorBuffers.X, x);
        _kernels.DrawNoise(this, seed, step, examples);
        return RunTraining(examples, beta);
    }

    private double RunTraining(int examples, float beta)
    {
        _kernels.Forward(this, examples, withGradient: true);
        _kernels.Backward(this, examples, beta);
        return CombineLoss(examples, beta, default);
    }

    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int examples, float beta, Span<float> exampleLoss)
    {
        Upload(AcceleratorBuffers.X, x);
        Upload(AcceleratorBuffers.Eps, eps);
        _kernels.Forward(this, examples, withGradient: false);
        return CombineLoss(examples, beta, exampleLoss);
    }

    /// <summary>The per-row likelihoods and per-example KL come back to the host and are summed as on the CPU.</summary>
    private unsafe double CombineLoss(int examples, float beta, Span<float> exampleLoss)
    {
        int samples = _descriptor.LatentSamples;
        if (_rowNll.Length < MaxExamples * samples) _rowNll = new float[MaxExamples * samples];
        if (_kl.Length < MaxExamples) _kl = new float[MaxExamples];
        Read(BufferById(_kernels.RowNllBuffer), _rowNll.AsSpan(0, examples * samples));
        Read(BufferById(_kernels.KlBuffer), _kl.AsSpan(0, examples));
        fixed (float* rowNll = _rowNll, kl = _kl, perExample = exampleLoss)
            return Losses.Combine(examples, samples, new Floats(rowNll), new Floats(kl), beta,
                exampleLoss.IsEmpty ? Floats.Null : new Floats(perExample));
    }

    public unsafe double GradientSumOfSquares()
    {
        if (_gradients.Length != _descriptor.ParameterCount) _gradients = new float[_descriptor.ParameterCount];
        GetGradients(_gradients);
        fixed (float* g = _gradients) return Optimizers.SumOfSquares(_gradients.Length, g);
    }

    public void ScaleGradients(float factor) =>
        Launch("scale", _descriptor.ParameterCount, [KernelArgument.Buffer(AcceleratorBuffers.Gradients), KernelArgument.Float(factor)]);

    public void ApplyOptimizer(Optimizer optimizer, long step)
    {
        int n = _descriptor.ParameterCount;
        var p = KernelArgument.Buffer(AcceleratorBuffers.Parameters);
        var g = KernelArgument.Buffer(AcceleratorBuffers.Gradients);
        switch (optimizer)
        {
            case Adam adam:
                Slot(0);
                Slot(1);
                float stepSize = (float)(adam.LearningRate / (1 - Math.Pow(adam.Beta1, step)));
                float root = (float)(1 / Math.Sqrt(1 - Math.Pow(adam.Beta2, step)));
                Launch("adam", n, [p, g, KernelArgument.Buffer(_stateBase), KernelArgument.Buffer(_stateBase + 1),
                    KernelArgument.Float(stepSize), KernelArgument.Float(root), KernelArgument.Float(adam.Beta1),
                    KernelArgument.Float(adam.Beta2), KernelArgument.Float(adam.Epsilon), KernelArgument.Float(adam.WeightDecay)]);
                break;
            case Sgd sgd:
                Slot(0);
                Launch("sgd", n, [p, g, KernelArgument.Buffer(_stateBase), KernelArgument.Float(sgd.LearningRate),
                    KernelArgument.Float(sgd.Momentum), KernelArgument.Float(sgd.WeightDecay),
                    KernelArgument.Int(step == 1 ? 1 : 0), KernelArgument.Int(sgd.Momentum > 0 ? 1 : 0)]);
                break;
            default:
                throw new NotSupportedException($"No accelerator kernel for optimiser {optimizer.GetType().Name}.");
        }
    }

    public void Encode(ReadOnlySpan<float> x, int examples, Span<float> mu, Span<float> logVar)
    {
        Upload(AcceleratorBuffers.X, x);
        _kernels.Encode(this, examples);
        Read(BufferById(AcceleratorBuffers.Mu), mu);
        Read(BufferById(AcceleratorBuffers.LogVar), logVar);
    }

    public void Decode(ReadOnlySpan<float> z, int rows, Span<float> mean)
    {
        Upload(_kernels.LatentBuffer, z);
        _kernels.Decode(this, rows);
        Read(BufferById(AcceleratorBuffers.Mean), mean);
    }

    public void DecoderNegativeLogLikelihood(ReadOnlySpan<float> z, ReadOnlySpan<float> x, int examples, int samples, Span<float> rowNll)
    {
        if ((long)examples * samples > (long)MaxExamples * _descriptor.LatentSamples)
            throw new ArgumentOutOfRangeException(nameof(samples), "Too many rows for one accelerator call.");
        Upload(_kernels.LatentBuffer, z);
        Upload(AcceleratorBuffers.X, x);
        _kernels.DecoderNegativeLogLikelihood(this, examples, samples);
        Read(BufferById(_kernels.RowNllBuffer), rowNll);
    }

    /// <summary>Draws the noise of (seed, step) on the device and returns it, so tests can compare it with the host's Philox.</summary>
    public float[] DrawNoise(ulong seed, uint step, int examples)
    {
        _kernels.DrawNoise(this, seed, step, examples);
        var eps = new float[examples * _descriptor.LatentSamples * _descriptor.Latent];
        Read(BufferById(AcceleratorBuffers.Eps), eps);
        return eps;
    }

    public virtual void Dispose()
    {
        foreach (var b in _buffers) b?.Dispose();
        Array.Clear(_buffers);
    }
}
