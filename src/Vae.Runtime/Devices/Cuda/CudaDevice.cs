using Vae.Kernels.Accelerators;

namespace Vae.Devices.Cuda;

/// <summary>
/// The CUDA target: the driver API for memory and launches, NVRTC to compile each model's generated CUDA C once.
/// No GPU was available where this was written: it is compiled and its missing-driver path is tested, but it has not
/// run on a GPU.
/// </summary>
internal sealed class CudaDevice : AcceleratorDevice<CudaModule>
{
    /// <summary>The examples one call takes: the buffers are allocated for this many rows.</summary>
    public const int MaxExamplesPerCall = 4096;

    private CudaDevice(CudaContext context) => Context = context;

    public CudaContext Context { get; }

    public static CudaDevice Create(int ordinal)
    {
        var context = CudaContext.Create(ordinal);
        if (!CudaContext.IsNvrtcAvailable())
        {
            context.Dispose();
            throw new DeviceUnavailableException(
                "CUDA needs NVRTC (libnvrtc.so) to compile the generated kernels, and it was not found: install the CUDA toolkit's " +
                "runtime compiler (e.g. the cuda-nvrtc package) or set VAE_NVRTC_LIBRARY to its path.");
        }
        return new CudaDevice(context);
    }

    public override string Name => $"CUDA ({Context.DeviceName})";

    public override string Kind => "cuda";

    public override int MaxBatchSize => MaxExamplesPerCall;

    protected override string SourceOf(string modelSource) => DeviceSources.Cuda(modelSource);

    protected override CudaModule Compile(string source) => Context.LoadPtx(Context.CompileToPtx(source));

    protected override IModelBackend CreateBackend(ModelDescriptor descriptor, IAcceleratorKernels kernels, CudaModule module) =>
        new CudaBackend(this, descriptor, kernels, module);

    protected override void DisposeContext() => Context.Dispose();
}

/// <summary>A model's buffers and kernels in one CUDA context.</summary>
internal sealed class CudaBackend : AcceleratorBackend<CudaBuffer>
{
    /// <summary>Threads of a block: the work-group size the GEMM kernels' work-group variant (which the CUDA prelude selects) is written for.</summary>
    private const int BlockSize = IAcceleratorQueue.WorkGroupSize;
    private readonly CudaContext _context;
    private readonly CudaModule _module;
    private readonly Dictionary<string, CudaFunction> _functions = new(StringComparer.Ordinal);

    public CudaBackend(CudaDevice device, ModelDescriptor descriptor, IAcceleratorKernels kernels, CudaModule module)
        : base(descriptor, kernels, maxExamples: CudaDevice.MaxExamplesPerCall)
    {
        _context = device.Context;
        _module = module;
        AllocateBuffers();
    }

    protected override CudaBuffer Allocate(long floats) => _context.Allocate(Math.Max(1, floats));
    protected override void Write(CudaBuffer buffer, ReadOnlySpan<float> values) => _context.Write(buffer, values);
    protected override void Read(CudaBuffer buffer, Span<float> values) => _context.Read(buffer, values);
    protected override void Fill(CudaBuffer buffer, float value) => _context.Fill(buffer, value);

    /// <summary>A CUDA device is a GPU: its program always holds the work-group variants.</summary>
    public override bool WorkGroupTiles => true;

    protected override void LaunchKernel(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments)
    {
        if (!_functions.TryGetValue(kernel, out var function))
        {
            function = _module.GetFunction(kernel);
            _functions[kernel] = function;
        }
        var args = new CudaKernelArguments().Add((int)workItems);
        foreach (var a in arguments)
        {
            switch (a.Kind)
            {
                case KernelArgumentKind.Buffer: args.Add(BufferById(a.Integer)); break;
                case KernelArgumentKind.Int: args.Add(a.Integer); break;
                default: args.Add(a.Real); break;
            }
        }
        int blocks = (int)((workItems + BlockSize - 1) / BlockSize);
        _context.Launch(function, blocks, BlockSize, args);
    }
}
