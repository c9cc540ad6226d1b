using Vae.Kernels.Cpu;

namespace Vae.Devices;

/// <summary>A model on the CPU target: native buffers for parameters, gradients, optimiser state and workspace.</summary>
internal sealed unsafe class CpuBackend : IModelBackend
{
    private readonly CpuDevice _device;
    private readonly ModelDescriptor _descriptor;
    private readonly ICpuKernels _kernels;
    private readonly NativeBuffer _parameters, _gradients, _packed;
    private readonly NativeBuffer?[] _state = new NativeBuffer?[2];
    private NativeBuffer _workspace;
    private int _workspaceExamples;

    public CpuBackend(CpuDevice device, ModelDescriptor descriptor, ICpuKernels kernels)
    {
        _device = device;
        _descriptor = descriptor;
        _kernels = kernels;
        // The float state (BatchNorm's running statistics) follows the parameters, where the generated kernels address it.
        _parameters = new NativeBuffer((long)descriptor.ParameterCount + descriptor.StateCount);
        _gradients = new NativeBuffer(descriptor.ParameterCount);
        _packed = new NativeBuffer(kernels.PackedFloats);
        _workspace = new NativeBuffer(0);
    }

    public int MaxExamples => 4096;

    private CpuThreads Threads => _device.Threads;

    private float* Workspace(int examples)
    {
        if (examples > MaxExamples) throw new ArgumentOutOfRangeException(nameof(examples), examples, $"At most {MaxExamples} examples per call.");
        if (examples > _workspaceExamples)
        {
            _workspace.Dispose();
            _workspace = new NativeBuffer(_kernels.WorkspaceFloats(examples));
            _workspaceExamples = examples;
        }
        return _workspace.Pointer;
    }

    public void SetParameters(ReadOnlySpan<float> values) => values.CopyTo(_parameters.Span);
    public void GetParameters(Span<float> values) => _parameters.Span[..values.Length].CopyTo(values);
    public void GetState(Span<float> values) => _parameters.Span.Slice(_descriptor.ParameterCount, _descriptor.StateCount).CopyTo(values);
    public void SetState(ReadOnlySpan<float> values) => values.CopyTo(_parameters.Span[_descriptor.ParameterCount..]);
    public void GetGradients(Span<float> values) => _gradients.Span.CopyTo(values);
    public void GetGradients(int offset, Span<float> values) => _gradients.Span.Slice(offset, values.Length).CopyTo(values);
    public void SetGradients(ReadOnlySpan<float> values) => values.CopyTo(_gradients.Span);

    private NativeBuffer State(int slot) => _state[slot] ??= new NativeBuffer(_descriptor.ParameterCount);
    public void GetOptimizerState(int slot, Span<float> values) => State(slot).Span.CopyTo(values);
    public void SetOptimizerState(int slot, ReadOnlySpan<float> values) => values.CopyTo(State(slot).Span);

    public void ResetOptimizerState()
    {
        foreach (var s in _state) s?.Span.Clear();
    }

    public double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, float freeBits, ulong seed, uint step) =>
        ForwardBackward(x, labels, eps, examples, beta, freeBits, seed, step, null);

    private double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, float freeBits, ulong seed, uint step,
        IGradientProgress? progress)
    {
        float* ws = Workspace(examples);
        fixed (float* px = x)
        fixed (float* py = labels)
        fixed (float* pe = eps)
            return _kernels.ForwardBackward(Threads, new Floats(_parameters.Pointer), new Floats(_gradients.Pointer), new Floats(px), new Floats(py), new Floats(pe), examples, beta, freeBits, new Floats(ws), new Floats(_packed.Pointer), seed, step, progress);
    }

    private NativeBuffer? _eps;

    public double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, float beta, float freeBits, ulong seed, uint step, int firstExample,
        IGradientProgress? progress = null)
    {
        // The model's own kernels draw its noise: the backend knows no latent. A model without noise (a VQ-VAE) draws none.
        _eps ??= new NativeBuffer(_kernels.NoiseFloats(MaxExamples));
        if (_eps.Length > 0) _kernels.DrawNoise(seed, step, firstExample, examples, new Floats(_eps.Pointer));
        return ForwardBackward(x, labels, new ReadOnlySpan<float>(_eps.Pointer, checked((int)_kernels.NoiseFloats(examples))), examples, beta, freeBits, seed, step, progress);
    }

    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, Span<float> exampleLoss)
    {
        float* ws = Workspace(examples);
        fixed (float* px = x)
        fixed (float* py = labels)
        fixed (float* pe = eps)
        fixed (float* pl = exampleLoss)
            return _kernels.Loss(Threads, new Floats(_parameters.Pointer), new Floats(px), new Floats(py), new Floats(pe), examples, beta, new Floats(ws), new Floats(_packed.Pointer), exampleLoss.IsEmpty ? Floats.Null : new Floats(pl));
    }

    public double GradientSumOfSquares() => Optimizers.SumOfSquares(_descriptor.ParameterCount, _gradients.Pointer);

    public void ScaleGradients(float factor) => Optimizers.Scale(_descriptor.ParameterCount, _gradients.Pointer, factor);

    public void ApplyOptimizer(Optimizer optimizer, long step)
    {
        int n = _descriptor.ParameterCount;
        switch (optimizer)
        {
            case Adam adam:
                Optimizers.Adam(Threads, n, _parameters.Pointer, _gradients.Pointer, State(0).Pointer, State(1).Pointer,
                    adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay, step);
                break;
            case Sgd sgd:
                Optimizers.Sgd(n, _parameters.Pointer, _gradients.Pointer, sgd.Momentum > 0 ? State(0).Pointer : null,
                    sgd.LearningRate, sgd.Momentum, sgd.WeightDecay, step);
                break;
            default:
                throw new NotSupportedException($"The CPU target has no kernel for optimiser {optimizer.GetType().Name}.");
        }
    }

    public void Encode(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, Span<float> mu, Span<float> logVar)
    {
        float* ws = Workspace(examples);
        fixed (float* px = x)
        fixed (float* py = labels)
        fixed (float* pm = mu)
        fixed (float* pv = logVar)
            _kernels.Encode(Threads, new Floats(_parameters.Pointer), new Floats(px), new Floats(py), examples, new Floats(ws), new Floats(_packed.Pointer), new Floats(pm), new Floats(pv));
    }

    public void Decode(ReadOnlySpan<float> z, ReadOnlySpan<float> labels, int rows, Span<float> mean)
    {
        float* ws = Workspace(rows);
        fixed (float* pz = z)
        fixed (float* py = labels)
        fixed (float* pm = mean)
            _kernels.Decode(Threads, new Floats(_parameters.Pointer), new Floats(pz), new Floats(py), rows, new Floats(ws), new Floats(_packed.Pointer), new Floats(pm));
    }

    public void EncodeCodes(ReadOnlySpan<float> x, int examples, Span<int> codes)
    {
        float* ws = Workspace(examples);
        fixed (float* px = x)
        fixed (int* pc = codes)
            _kernels.EncodeCodes(Threads, new Floats(_parameters.Pointer), new Floats(px), examples, new Floats(ws), new Floats(_packed.Pointer), new Ints(pc));
    }

    public void DecodeCodes(ReadOnlySpan<int> codes, int examples, Span<float> mean)
    {
        float* ws = Workspace(examples);
        fixed (int* pc = codes)
        fixed (float* pm = mean)
            _kernels.DecodeCodes(Threads, new Floats(_parameters.Pointer), new Ints(pc), examples, new Floats(ws), new Floats(_packed.Pointer), new Floats(pm));
    }

    public void DecoderNegativeLogLikelihood(ReadOnlySpan<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, int samples, Span<float> rowNll)
    {
        // The workspace is sized in examples of the model's own L; ask for enough to hold examples * samples rows.
        if ((long)examples * samples > (long)MaxExamples * _descriptor.LatentSamples)
            throw new ArgumentOutOfRangeException(nameof(samples), "Too many rows for one call: split the examples.");
        int needed = (int)(((long)examples * samples + _descriptor.LatentSamples - 1) / _descriptor.LatentSamples);
        float* ws = Workspace(Math.Max(needed, examples));
        fixed (float* pz = z)
        fixed (float* px = x)
        fixed (float* py = labels)
        fixed (float* pn = rowNll)
            _kernels.DecoderNegativeLogLikelihood(Threads, new Floats(_parameters.Pointer), new Floats(pz), new Floats(px), new Floats(py), examples, samples, new Floats(ws), new Floats(_packed.Pointer), new Floats(pn));
    }

    public void Dispose()
    {
        _parameters.Dispose();
        _gradients.Dispose();
        _packed.Dispose();
        _workspace.Dispose();
        _eps?.Dispose();
        foreach (var s in _state) s?.Dispose();
    }
}
