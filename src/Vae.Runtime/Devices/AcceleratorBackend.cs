using System.Runtime.InteropServices;
using Vae.Kernels.Accelerators;
using Vae.Kernels.Cpu;

namespace Vae.Devices;

/// <summary>
/// A model on an accelerator (OpenCL or CUDA): the generated buffer table allocated by id, and the generated programs
/// run through <see cref="IAcceleratorQueue"/>. Subclasses supply memory transfers and kernel launches. Nothing here
/// knows a layer, latent or loss: which buffer is the input or the noise, and how the loss combines, is generated.
/// </summary>
internal abstract class AcceleratorBackend<TBuffer> : IModelBackend, IAcceleratorQueue where TBuffer : class, IDisposable
{
    private readonly ModelDescriptor _descriptor;
    private readonly IAcceleratorKernels _kernels;
    private readonly TBuffer?[] _buffers;
    private readonly NativeBuffer?[] _downloads;
    private readonly int _stateBase;
    private float[] _gradients = [];
    private bool _initialised;

    /// <summary>Optimiser state buffers (Adam's two moments, SGD's momentum) follow the generated table.</summary>
    private const int StateSlots = 2;

    protected AcceleratorBackend(ModelDescriptor descriptor, IAcceleratorKernels kernels, int maxExamples)
    {
        _descriptor = descriptor;
        _kernels = kernels;
        MaxExamples = maxExamples;
        _stateBase = kernels.Buffers.Length;
        _buffers = new TBuffer?[_stateBase + StateSlots];
        _downloads = new NativeBuffer?[_stateBase];
    }

    public int MaxExamples { get; }

    /// <summary>Floats of a buffer of the table at the largest batch.</summary>
    private long Floats(AcceleratorBuffer b) => b.Rows switch
    {
        AcceleratorRows.Fixed => b.Width,
        AcceleratorRows.Examples => (long)MaxExamples * b.Width,
        AcceleratorRows.Samples => (long)MaxExamples * _descriptor.LatentSamples * b.Width,
        _ => throw new InvalidOperationException($"Buffer {b.Name} has an unknown row kind {b.Rows}."),
    };

    /// <summary>Allocates every buffer of the table; called by the subclass once its context exists.</summary>
    protected void AllocateBuffers()
    {
        for (int i = 0; i < _kernels.Buffers.Length; i++) _buffers[i] = Allocate(Floats(_kernels.Buffers[i]));
        _initialised = true;
    }

    protected abstract TBuffer Allocate(long floats);
    protected abstract void Write(TBuffer buffer, ReadOnlySpan<float> values);
    protected abstract void Read(TBuffer buffer, Span<float> values);
    protected abstract void Fill(TBuffer buffer, float value);

    /// <summary>Launches a kernel whose first argument is the work-item count, followed by <paramref name="arguments"/>.</summary>
    protected abstract void LaunchKernel(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments);

    protected TBuffer BufferById(int id) => _buffers[id] ?? throw new InvalidOperationException($"Accelerator buffer {id} is not allocated.");

    /// <inheritdoc/>
    public abstract bool WorkGroupTiles { get; }

    public void Launch(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments)
    {
        if (workItems <= 0) return;
        if (workItems > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(workItems), workItems, $"Kernel {kernel} would need more than 2^31 work items.");
        LaunchKernel(kernel, workItems, arguments);
    }

    public unsafe Floats Download(int buffer, long floats)
    {
        var host = _downloads[buffer];
        if (host is null || host.Length < floats)
        {
            host?.Dispose();
            host = _downloads[buffer] = new NativeBuffer(Floats(_kernels.Buffers[buffer]));
        }
        Read(BufferById(buffer), new Span<float>(host.Pointer, checked((int)floats)));
        return new Floats(host.Pointer);
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

    public void SetParameters(ReadOnlySpan<float> values) => Write(BufferById(_kernels.ParametersBuffer), values);
    public void GetParameters(Span<float> values) => Read(BufferById(_kernels.ParametersBuffer), values);
    public void GetGradients(Span<float> values) => Read(BufferById(_kernels.GradientsBuffer), values);

    /// <summary>Not used: the model reduces an accelerator's gradient after the backward pass, through <see cref="GetGradients(Span{float})"/>.</summary>
    public void GetGradients(int offset, Span<float> values) =>
        throw new NotSupportedException("An accelerator's gradients are read whole, after the backward pass.");

    // The float state follows the parameters in their buffer; transfers start at a buffer's beginning, so these move
    // the whole buffer (small next to a training step; only checkpoints and the step's keep-on-failure copy use them).
    public void GetState(Span<float> values)
    {
        if (values.IsEmpty) return;
        var all = new float[_descriptor.ParameterCount + _descriptor.StateCount];
        Read(BufferById(_kernels.ParametersBuffer), all);
        all.AsSpan(_descriptor.ParameterCount, _descriptor.StateCount).CopyTo(values);
    }

    public void SetState(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        var all = new float[_descriptor.ParameterCount + _descriptor.StateCount];
        Read(BufferById(_kernels.ParametersBuffer), all);
        values.CopyTo(all.AsSpan(_descriptor.ParameterCount));
        Write(BufferById(_kernels.ParametersBuffer), all);
    }
    public void SetGradients(ReadOnlySpan<float> values) => Write(BufferById(_kernels.GradientsBuffer), values);
    public void GetOptimizerState(int slot, Span<float> values) => Read(Slot(slot), values);
    public void SetOptimizerState(int slot, ReadOnlySpan<float> values) => Write(Slot(slot), values);

    public void ResetOptimizerState()
    {
        for (int slot = 0; slot < StateSlots; slot++)
            if (_buffers[_stateBase + slot] is { } b) Fill(b, 0f);
    }

    private void Upload(int id, ReadOnlySpan<float> values)
    {
        if (!values.IsEmpty) Write(BufferById(id), values);
    }

    /// <summary>A conditional model's labels go to its labels buffer; other models have none and get none.</summary>
    private void UploadLabels(ReadOnlySpan<float> labels)
    {
        if (_kernels.LabelsBuffer >= 0) Upload(_kernels.LabelsBuffer, labels);
    }

    // Seed and step key what a training step draws besides the noise (a VQ-VAE's codebook initialisation and restarts).
    public double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, float freeBits, ulong seed, uint step)
    {
        Upload(_kernels.InputBuffer, x);
        UploadLabels(labels);
        if (_kernels.NoiseBuffer >= 0) Upload(_kernels.NoiseBuffer, eps);
        return _kernels.Train(this, examples, beta, freeBits, seed, step);
    }

    public double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, float beta, float freeBits, ulong seed, uint step, int firstExample,
        IGradientProgress? progress = null)
    {
        Upload(_kernels.InputBuffer, x);
        UploadLabels(labels);
        // A VQ-VAE draws no noise.
        if (_kernels.NoiseBuffer >= 0) _kernels.DrawNoise(this, seed, step, firstExample, examples);
        return _kernels.Train(this, examples, beta, freeBits, seed, step);
    }

    public unsafe double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, Span<float> exampleLoss)
    {
        Upload(_kernels.InputBuffer, x);
        UploadLabels(labels);
        if (_kernels.NoiseBuffer >= 0) Upload(_kernels.NoiseBuffer, eps);
        fixed (float* perExample = exampleLoss)
            return _kernels.Evaluate(this, examples, beta, exampleLoss.IsEmpty ? Kernels.Cpu.Floats.Null : new Floats(perExample));
    }

    public unsafe double GradientSumOfSquares()
    {
        if (_gradients.Length != _descriptor.ParameterCount) _gradients = new float[_descriptor.ParameterCount];
        GetGradients(_gradients);
        fixed (float* g = _gradients) return Optimizers.SumOfSquares(_gradients.Length, g);
    }

    public void ScaleGradients(float factor) =>
        Launch("vae_scale", _descriptor.ParameterCount, [KernelArgument.Buffer(_kernels.GradientsBuffer), KernelArgument.Float(factor)]);

    public void ApplyOptimizer(Optimizer optimizer, long step)
    {
        int n = _descriptor.ParameterCount;
        var p = KernelArgument.Buffer(_kernels.ParametersBuffer);
        var g = KernelArgument.Buffer(_kernels.GradientsBuffer);
        switch (optimizer)
        {
            case Adam adam:
                Slot(0);
                Slot(1);
                float stepSize = (float)(adam.LearningRate / (1 - Math.Pow(adam.Beta1, step)));
                float root = (float)(1 / Math.Sqrt(1 - Math.Pow(adam.Beta2, step)));
                Launch("vae_adam", n, [p, g, KernelArgument.Buffer(_stateBase), KernelArgument.Buffer(_stateBase + 1),
                    KernelArgument.Float(stepSize), KernelArgument.Float(root), KernelArgument.Float(adam.Beta1),
                    KernelArgument.Float(adam.Beta2), KernelArgument.Float(adam.Epsilon), KernelArgument.Float(adam.WeightDecay)]);
                break;
            case Sgd sgd:
                Slot(0);
                Launch("vae_sgd", n, [p, g, KernelArgument.Buffer(_stateBase), KernelArgument.Float(sgd.LearningRate),
                    KernelArgument.Float(sgd.Momentum), KernelArgument.Float(sgd.WeightDecay),
                    KernelArgument.Int(step == 1 ? 1 : 0), KernelArgument.Int(sgd.Momentum > 0 ? 1 : 0)]);
                break;
            default:
                throw new NotSupportedException($"No accelerator kernel for optimiser {optimizer.GetType().Name}.");
        }
    }

    public void Encode(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, Span<float> mu, Span<float> logVar)
    {
        Upload(_kernels.InputBuffer, x);
        UploadLabels(labels);
        _kernels.Encode(this, examples);
        Read(BufferById(_kernels.MuBuffer), mu);
        Read(BufferById(_kernels.LogVarBuffer), logVar);
    }

    public void Decode(ReadOnlySpan<float> z, ReadOnlySpan<float> labels, int rows, Span<float> mean)
    {
        Upload(_kernels.LatentBuffer, z);
        UploadLabels(labels);
        _kernels.Decode(this, rows);
        Read(BufferById(_kernels.MeanBuffer), mean);
    }

    // Code indices are ints on the device, four bytes an element like the floats they are allocated as: they cross as bits.
    public void EncodeCodes(ReadOnlySpan<float> x, int examples, Span<int> codes)
    {
        Upload(_kernels.InputBuffer, x);
        _kernels.EncodeCodes(this, examples);
        Read(BufferById(_kernels.CodesBuffer), MemoryMarshal.Cast<int, float>(codes));
    }

    public void DecodeCodes(ReadOnlySpan<int> codes, int examples, Span<float> mean)
    {
        Upload(_kernels.CodesBuffer, MemoryMarshal.Cast<int, float>(codes));
        _kernels.DecodeCodes(this, examples);
        Read(BufferById(_kernels.MeanBuffer), mean);
    }

    public void DecoderNegativeLogLikelihood(ReadOnlySpan<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, int samples, Span<float> rowNll)
    {
        if ((long)examples * samples > (long)MaxExamples * _descriptor.LatentSamples)
            throw new ArgumentOutOfRangeException(nameof(samples), "Too many rows for one accelerator call.");
        Upload(_kernels.LatentBuffer, z);
        Upload(_kernels.InputBuffer, x);
        UploadLabels(labels);
        _kernels.DecoderNegativeLogLikelihood(this, examples, samples);
        Read(BufferById(_kernels.RowNllBuffer), rowNll);
    }

    /// <summary>Draws the noise of (seed, step) on the device and returns it, so tests can compare it with the host's Philox.</summary>
    public float[] DrawNoise(ulong seed, uint step, int examples, int firstExample = 0)
    {
        _kernels.DrawNoise(this, seed, step, firstExample, examples);
        var eps = new float[examples * _descriptor.LatentSamples * _descriptor.Latent];
        Read(BufferById(_kernels.NoiseBuffer), eps);
        return eps;
    }

    public virtual void Dispose()
    {
        foreach (var b in _buffers) b?.Dispose();
        Array.Clear(_buffers);
        foreach (var d in _downloads) d?.Dispose();
        Array.Clear(_downloads);
    }
}
