using Vae.Devices;
using Vae.Devices.Cuda;
using Vae.Devices.OpenCl;

namespace Vae;

/// <summary>
/// Where a model's kernels run. Dispose it after the models that use it; disposing it first is safe too: every model
/// on it then throws <see cref="ObjectDisposedException"/>, and the device's memory (the models' buffers included)
/// is released once the calls running at that moment have returned.
/// </summary>
public abstract class Device : IDisposable
{
    /// <summary>The most CPU threads <see cref="Cpu"/> takes.</summary>
    public const int MaxCpuThreads = 1024;

    // Bit 0: disposed. The rest counts the calls running on the device, in steps of 2. A call can only start while
    // bit 0 is clear, and the native release runs once, when the device is disposed and no call is running.
    private const int DisposedBit = 1;
    private const int CallStep = 2;
    private int _state;
    private int _released;
    private readonly object _gate = new();
    private readonly List<IModelBackend> _backends = [];

    /// <summary>The generated C# kernels on this machine's cores.</summary>
    /// <param name="threads">Threads to use, 0 to <see cref="MaxCpuThreads"/>; 0 means one per processor.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is negative or above <see cref="MaxCpuThreads"/>.</exception>
    public static Device Cpu(int threads = 0)
    {
        CheckThreads(threads, nameof(threads));
        return new CpuDevice(threads);
    }

    /// <summary>
    /// An OpenCL device (PoCL runs one on a plain CPU). Throws <see cref="DeviceUnavailableException"/> naming what to
    /// install when no OpenCL driver or device is present.
    /// </summary>
    /// <param name="platformIndex">Index of the platform, in the order OpenCL lists them.</param>
    /// <param name="deviceIndex">Index of the device within that platform.</param>
    public static Device OpenCl(int platformIndex = 0, int deviceIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(platformIndex);
        ArgumentOutOfRangeException.ThrowIfNegative(deviceIndex);
        return OpenClDevice.Create(platformIndex, deviceIndex);
    }

    /// <summary>An OpenCL device whose platform or device name contains <paramref name="nameContains"/>.</summary>
    public static Device OpenCl(string nameContains)
    {
        ArgumentNullException.ThrowIfNull(nameContains);
        return OpenClDevice.Create(nameContains);
    }

    /// <summary>
    /// A CUDA device through the driver API, compiling the generated CUDA C with NVRTC. Throws
    /// <see cref="DeviceUnavailableException"/> naming what to install when the driver or NVRTC is missing.
    /// </summary>
    public static Device Cuda(int ordinal = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        return CudaDevice.Create(ordinal);
    }

    /// <summary>The fastest target present: CUDA, then OpenCL on a GPU, then the CPU.</summary>
    public static Device Best(int cpuThreads = 0)
    {
        CheckThreads(cpuThreads, nameof(cpuThreads));
        return DeviceSelection.Best(cpuThreads);
    }

    /// <summary>A device by name: cpu, opencl, cuda or auto (as the sample app's --device takes it).</summary>
    public static Device FromName(string name, int cpuThreads = 0)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToLowerInvariant() switch
        {
            "cpu" => Cpu(cpuThreads),
            "opencl" => OpenCl(),
            "cuda" => Cuda(),
            "auto" => Best(cpuThreads),
            _ => throw new ArgumentException($"Unknown device '{name}': use cpu, opencl, cuda or auto.", nameof(name)),
        };
    }

    private static void CheckThreads(int threads, string name)
    {
        if (threads is < 0 or > MaxCpuThreads)
            throw new ArgumentOutOfRangeException(name, threads, $"CPU threads must be 0 (one per processor) to {MaxCpuThreads}.");
    }

    /// <summary>A short description, e.g. "CPU (2 threads)".</summary>
    public abstract string Name { get; }

    /// <summary>The kind of target: cpu, opencl or cuda.</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// The most examples one call of a model on this device takes: the largest training batch (4,096 on the CPU and
    /// CUDA, 1,024 on OpenCL). Evaluation, encoding and decoding split larger inputs into calls of this size.
    /// </summary>
    public abstract int MaxBatchSize { get; }

    /// <summary>True once <see cref="Dispose"/> has been called.</summary>
    public bool IsDisposed => (Volatile.Read(ref _state) & DisposedBit) != 0;

    /// <summary>Makes a model's buffers and kernels on this device; called by the model's constructor only.</summary>
    internal abstract IModelBackend CreateBackend(ModelDescriptor descriptor, ModelKernels kernels);

    /// <summary>Frees the device's own resources (threads, programs, context); runs once, after every model's buffers are freed.</summary>
    private protected virtual void ReleaseResources()
    {
    }

    /// <summary>A new model's backend, tracked so that disposing the device frees it too.</summary>
    internal IModelBackend Attach(ModelDescriptor descriptor, ModelKernels kernels)
    {
        EnterCall();
        try
        {
            var backend = CreateBackend(descriptor, kernels);
            lock (_gate) _backends.Add(backend);
            return backend;
        }
        finally
        {
            ExitCall();
        }
    }

    /// <summary>
    /// Frees a model's backend when the model is disposed. When the device is already disposed it does nothing: the
    /// device's own release frees every backend it still tracks, in order, before its context.
    /// </summary>
    internal void Detach(IModelBackend backend)
    {
        if (!TryEnterCall()) return;
        try
        {
            bool tracked;
            lock (_gate) tracked = _backends.Remove(backend);
            if (tracked) backend.Dispose();
        }
        finally
        {
            ExitCall();
        }
    }

    /// <summary>Marks a call running on the device; throws <see cref="ObjectDisposedException"/> once the device is disposed.</summary>
    internal void EnterCall()
    {
        if (!TryEnterCall())
            throw new ObjectDisposedException(GetType().Name, $"The device {Name} has been disposed; create a new device and model.");
    }

    private bool TryEnterCall()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & DisposedBit) != 0) return false;
            if (state > int.MaxValue - CallStep) throw new InvalidOperationException("Too many calls running on one device.");
            if (Interlocked.CompareExchange(ref _state, state + CallStep, state) == state) return true;
        }
    }

    /// <summary>Ends a call; the last call to end after <see cref="Dispose"/> releases the device.</summary>
    internal void ExitCall()
    {
        if (Interlocked.Add(ref _state, -CallStep) == DisposedBit) Release();
    }

    /// <summary>
    /// Disposes the device. Calls running on it finish first (the native release waits for the last of them); new
    /// calls, from any model on it, throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        int before = Interlocked.Or(ref _state, DisposedBit);
        if ((before & DisposedBit) != 0) return;
        if (before == 0) Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        IModelBackend[] backends;
        lock (_gate)
        {
            backends = [.. _backends];
            _backends.Clear();
        }
        foreach (var backend in backends) backend.Dispose();
        ReleaseResources();
    }

    /// <summary>The device's <see cref="Name"/>.</summary>
    public override string ToString() => Name;
}
