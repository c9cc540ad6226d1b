using Vae.Kernels.Accelerators;

namespace Vae.Devices.OpenCl;

/// <summary>The OpenCL target: one context and queue, and one built program per model source.</summary>
internal sealed class OpenClDevice : AcceleratorDevice<OpenClProgram>
{
    /// <summary>The examples one call takes: the buffers are allocated for this many rows.</summary>
    public const int MaxExamplesPerCall = 1024;

    /// <summary>The environment variable that overrides the kernels' variant: <c>workgroup</c> or <c>register</c>.</summary>
    public const string TilesVariable = "VAE_OPENCL_TILES";

    private OpenClDevice(OpenClContext context, bool? workGroupTiles)
    {
        Context = context;
        try
        {
            WorkGroupTiles = workGroupTiles ?? ChooseTiles(context.Device, Environment.GetEnvironmentVariable(TilesVariable));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public OpenClContext Context { get; }

    /// <summary>
    /// Whether this device's programs hold the work-group variant of the GEMM kernels (operands staged in local
    /// memory by work-groups of 256) rather than the register tiles one work item at a time.
    /// </summary>
    public bool WorkGroupTiles { get; }

    /// <summary>The device at (<paramref name="platformIndex"/>, <paramref name="deviceIndex"/>) of the loader's list.</summary>
    /// <param name="platformIndex">The platform's index.</param>
    /// <param name="deviceIndex">The device's index within its platform.</param>
    /// <param name="workGroupTiles">The kernels' variant; null chooses by the device's kind (see <see cref="ChooseTiles"/>).</param>
    public static OpenClDevice Create(int platformIndex, int deviceIndex, bool? workGroupTiles = null) =>
        new(OpenClContext.Create(platformIndex, deviceIndex), workGroupTiles);

    public static OpenClDevice Create(string nameContains) => new(OpenClContext.Create(nameContains), null);

    /// <summary>
    /// The variant for a device: work-group tiles on a GPU, whose work items run side by side and share local memory,
    /// register tiles on anything else (PoCL's CPU device runs a work-group's items one after another, so staging in
    /// local memory is only a copy; measured on PoCL in the README). <paramref name="setting"/> (the
    /// <see cref="TilesVariable"/> environment variable) overrides the choice; work-group tiles need work-groups of
    /// 256, so a device that allows fewer keeps register tiles.
    /// </summary>
    internal static bool ChooseTiles(OpenClDeviceInfo device, string? setting)
    {
        bool fits = device.MaxWorkGroupSize >= IAcceleratorQueue.WorkGroupSize;
        return setting?.Trim().ToLowerInvariant() switch
        {
            null or "" => device.Type == OpenClDeviceType.Gpu && fits,
            "workgroup" => fits ? true : throw new ArgumentException(
                $"{TilesVariable}=workgroup, but OpenCL device '{device.DeviceName}' allows work-groups of at most {device.MaxWorkGroupSize} work items and the work-group kernels need {IAcceleratorQueue.WorkGroupSize}."),
            "register" => false,
            _ => throw new ArgumentException($"{TilesVariable} is '{setting}'; it takes 'workgroup' (the GPU kernels) or 'register' (the CPU-device kernels), or is unset to choose by the device's kind."),
        };
    }

    public override string Name => $"OpenCL ({Context.Device.DeviceName}, {Context.Device.PlatformName}{(WorkGroupTiles ? ", work-group tiles" : "")})";

    public override string Kind => "opencl";

    public override int MaxBatchSize => MaxExamplesPerCall;

    protected override string SourceOf(string modelSource) => DeviceSources.OpenCl(modelSource);

    protected override OpenClProgram Compile(string source) =>
        Context.Build(source, WorkGroupTiles ? "-cl-std=CL1.2 -DVAE_WORK_GROUP_TILES=1" : "-cl-std=CL1.2");

    protected override IModelBackend CreateBackend(ModelDescriptor descriptor, IAcceleratorKernels kernels, OpenClProgram program) =>
        new OpenClBackend(this, descriptor, kernels, program);

    protected override void DisposeContext() => Context.Dispose();

    protected override void CheckCanRun(ModelDescriptor descriptor)
    {
        if (RefusalFor(descriptor, Context.Device) is { } reason) throw new NotSupportedException(reason);
    }

    /// <summary>
    /// Why <paramref name="device"/> cannot run the model, or null. A VQ-VAE's nearest code is decided by exact double
    /// distances (the contract that makes every target choose the same codes), so its kernels need cl_khr_fp64; without
    /// it the program would fail to compile with only the compiler's log to say why.
    /// </summary>
    internal static string? RefusalFor(ModelDescriptor descriptor, OpenClDeviceInfo device) =>
        descriptor.Quantizer is not null && !device.DoublePrecision
            ? $"Model '{descriptor.Name}' is a VQ-VAE, whose nearest-code decision compares exact double-precision distances, " +
              $"and OpenCL device '{device.DeviceName}' ({device.PlatformName}) has no doubles (cl_khr_fp64 is not among its extensions). " +
              "Train it on the CPU target, on CUDA, or on an OpenCL device that lists cl_khr_fp64 (`clinfo` shows each device's extensions)."
            : null;
}

/// <summary>A model's buffers and kernels in one OpenCL context.</summary>
internal sealed class OpenClBackend : AcceleratorBackend<OpenClBuffer>
{
    /// <summary>
    /// Work-group size: the kernels guard their range, so the global size is rounded up to a multiple of it; the
    /// work-group variants are written for <see cref="IAcceleratorQueue.WorkGroupSize"/>.
    /// </summary>
    private readonly int GroupSize;

    private readonly OpenClContext _context;
    private readonly OpenClProgram _program;
    private readonly Dictionary<string, OpenClKernel> _kernels = new(StringComparer.Ordinal);

    /// <summary>
    /// With VAE_OPENCL_PROFILE=1 every launch waits for its kernel and the time is added up per kernel name; the
    /// table goes to standard error when the model is disposed. It shows where the OpenCL path spends its time.
    /// </summary>
    private readonly Dictionary<string, (int Launches, double Seconds)>? _profile =
        Environment.GetEnvironmentVariable("VAE_OPENCL_PROFILE") == "1" ? new(StringComparer.Ordinal) : null;

    public OpenClBackend(OpenClDevice device, ModelDescriptor descriptor, IAcceleratorKernels kernels, OpenClProgram program)
        : base(descriptor, kernels, maxExamples: OpenClDevice.MaxExamplesPerCall)
    {
        _context = device.Context;
        _program = program;
        WorkGroupTiles = device.WorkGroupTiles;
        GroupSize = WorkGroupTiles ? IAcceleratorQueue.WorkGroupSize : 64;
        AllocateBuffers();
    }

    public override bool WorkGroupTiles { get; }

    protected override OpenClBuffer Allocate(long floats) => _context.Allocate(Math.Max(1, floats));
    protected override void Write(OpenClBuffer buffer, ReadOnlySpan<float> values) => _context.Write(buffer, values);
    protected override void Read(OpenClBuffer buffer, Span<float> values) => _context.Read(buffer, values);
    protected override void Fill(OpenClBuffer buffer, float value) => _context.Fill(buffer, value);

    protected override void LaunchKernel(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments)
    {
        if (!_kernels.TryGetValue(kernel, out var k))
        {
            k = _program.CreateKernel(kernel);
            if (RefusalFor(k.Name, k.MaxWorkGroupSize, GroupSize, _context.Device) is { } reason)
            {
                k.Dispose();
                throw new NotSupportedException(reason);
            }
            _kernels[kernel] = k;
        }
        k.SetArg(0, (int)workItems);
        for (int i = 0; i < arguments.Length; i++)
        {
            var a = arguments[i];
            switch (a.Kind)
            {
                case KernelArgumentKind.Buffer: k.SetArg(i + 1, BufferById(a.Integer)); break;
                case KernelArgumentKind.Int: k.SetArg(i + 1, a.Integer); break;
                default: k.SetArg(i + 1, a.Real); break;
            }
        }
        long global = (workItems + GroupSize - 1) / GroupSize * GroupSize;
        long start = _profile is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
        _context.Launch(k, global, GroupSize);
        if (_profile is not null)
        {
            _context.Finish();
            var (launches, seconds) = _profile.GetValueOrDefault(kernel);
            _profile[kernel] = (launches + 1, seconds + System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>
    /// Why a kernel whose work-groups can hold at most <paramref name="kernelLimit"/> work items cannot run in groups of
    /// <paramref name="groupSize"/> on <paramref name="device"/>, or null when it can. The launch would fail with
    /// CL_INVALID_WORK_GROUP_SIZE; this says which kernel and what to do before anything runs.
    /// </summary>
    internal static string? RefusalFor(string kernel, long kernelLimit, int groupSize, OpenClDeviceInfo device) =>
        kernelLimit >= groupSize ? null
            : $"OpenCL kernel '{kernel}' can run at most {kernelLimit} work items per work-group on '{device.DeviceName}' ({device.PlatformName}), " +
              $"but this program launches work-groups of {groupSize}" +
              (groupSize == IAcceleratorQueue.WorkGroupSize ? $" (the work-group variant of the GEMM kernels); set {OpenClDevice.TilesVariable}=register to run the register tiles instead." : ".");

    public override void Dispose()
    {
        if (_profile is { Count: > 0 })
        {
            double total = _profile.Values.Sum(v => v.Seconds);
            Console.Error.WriteLine($"OpenCL kernel time: {total:F2} s in {_profile.Values.Sum(v => v.Launches)} launches");
            foreach (var (name, (launches, seconds)) in _profile.OrderByDescending(p => p.Value.Seconds))
                Console.Error.WriteLine($"  {name,-32} {seconds,8:F2} s {100 * seconds / total,5:F1}% {launches,8} launches");
        }
        foreach (var k in _kernels.Values) k.Dispose();
        _kernels.Clear();
        base.Dispose();
    }
}
