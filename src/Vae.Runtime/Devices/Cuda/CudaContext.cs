using System.Runtime.InteropServices;
using System.Text;

namespace Vae.Devices.Cuda;

/// <summary>
/// A CUDA driver or NVRTC call failed on a working installation. A missing driver, GPU or NVRTC is
/// reported as <see cref="DeviceUnavailableException"/> instead.
/// </summary>
public sealed class CudaException : Exception
{
    /// <summary>
    /// Creates the exception for a failed call, e.g. "cuModuleLoadDataEx failed with
    /// CUDA_ERROR_INVALID_PTX (218)", followed by <paramref name="detail"/> and the compiler/JIT log.
    /// </summary>
    public CudaException(string function, int errorCode, string errorName, string? detail = null, string? log = null)
        : base(Compose(function, errorCode, errorName, detail, log))
    {
        ErrorCode = errorCode;
        ErrorName = errorName;
        Log = log;
    }

    /// <summary>The CUresult or nvrtcResult value.</summary>
    public int ErrorCode { get; }

    /// <summary>The symbolic name, e.g. CUDA_ERROR_OUT_OF_MEMORY or NVRTC_ERROR_COMPILATION.</summary>
    public string ErrorName { get; }

    /// <summary>NVRTC's compile log or the driver's JIT error log, when there is one.</summary>
    public string? Log { get; }

    private static string Compose(string function, int errorCode, string errorName, string? detail, string? log)
    {
        var message = $"{function} failed with {errorName} ({errorCode})";
        if (!string.IsNullOrEmpty(detail))
            message += ": " + detail;
        if (!string.IsNullOrEmpty(log))
            message += Environment.NewLine + "Log:" + Environment.NewLine + log;
        return message;
    }
}

/// <summary>Grid or block dimensions of a CUDA launch.</summary>
public readonly record struct CudaDim3(uint X, uint Y = 1, uint Z = 1)
{
    /// <summary>A one-dimensional launch of <paramref name="x"/> blocks or threads.</summary>
    public static implicit operator CudaDim3(uint x) => new(x);

    /// <summary>A one-dimensional launch of <paramref name="x"/> blocks or threads.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="x"/> is negative.</exception>
    public static implicit operator CudaDim3(int x) =>
        x >= 0 ? new((uint)x) : throw new ArgumentOutOfRangeException(nameof(x), x, "A CUDA dimension cannot be negative.");

    /// <summary>The three sizes as "(X, Y, Z)".</summary>
    public override string ToString() => $"({X}, {Y}, {Z})";
}

/// <summary>
/// One CUDA device's primary context. All work goes to the legacy default stream, so copies,
/// fills and launches run in submission order and <see cref="Read{T}"/> sees every earlier launch.
/// </summary>
/// <remarks>
/// <para>
/// Every call makes the context current on the calling thread first, so a context may be used
/// from any thread (CUDA's "current context" is per thread).
/// </para>
/// <para>
/// Lifetime: buffers and modules are tracked by their context; disposing the context frees
/// everything still alive and then releases the primary context, so nothing can be freed into
/// a context that no longer exists. There are no finalizers (a CUDA call on the finalizer
/// thread could race the context's teardown): dispose buffers you no longer need, or they stay
/// allocated until the context is disposed. Do not dispose a context while another thread is
/// still using it.
/// </para>
/// <para>
/// Errors inside a kernel are reported asynchronously, by the next call that synchronizes
/// (<see cref="Read{T}"/>, <see cref="Synchronize"/>), as <see cref="CudaException"/>.
/// </para>
/// </remarks>
public sealed unsafe class CudaContext : IDisposable
{
    private readonly CudaNative.Api _api;
    private readonly int _device;
    private readonly nint _context;
    private readonly object _gate = new();
    private readonly HashSet<IDisposable> _resources = new();
    private int _disposed;

    private CudaContext(CudaNative.Api api, int ordinal, int device, nint context)
    {
        _api = api;
        _device = device;
        _context = context;
        Ordinal = ordinal;

        var name = stackalloc byte[256];
        Check(_api.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        DeviceName = Marshal.PtrToStringUTF8((nint)name) ?? $"CUDA device {ordinal}";

        nuint bytes;
        Check(_api.cuDeviceTotalMem(&bytes, device), "cuDeviceTotalMem_v2");
        TotalMemoryBytes = (long)bytes;

        ComputeCapability = (Attribute(CudaNative.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR), Attribute(CudaNative.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
        MaxThreadsPerBlock = Attribute(CudaNative.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    }

    /// <summary>The device ordinal this context was created for.</summary>
    public int Ordinal { get; }

    /// <summary>The device's marketing name, e.g. "NVIDIA A100-SXM4-40GB".</summary>
    public string DeviceName { get; }

    /// <summary>Total device memory in bytes.</summary>
    public long TotalMemoryBytes { get; }

    /// <summary>The device's compute capability, e.g. (8, 0).</summary>
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>The largest block (threads per block) the device accepts.</summary>
    public int MaxThreadsPerBlock { get; }

    // ---- discovery -------------------------------------------------------------------------

    /// <summary>Number of CUDA devices; 0 when there is no driver or it sees no GPU. Never throws.</summary>
    public static int DeviceCount()
    {
        var api = CudaNative.Driver;
        if (api is null || CudaNative.InitResult != CudaNative.CUDA_SUCCESS)
            return 0;
        int count;
        return api.cuDeviceGetCount(&count) == CudaNative.CUDA_SUCCESS ? count : 0;
    }

    /// <summary>True when NVRTC can be loaded, i.e. <see cref="CompileToPtx"/> can work.</summary>
    public static bool IsNvrtcAvailable() => NvrtcNative.Compiler is not null;

    /// <summary>Opens device <paramref name="ordinal"/> by retaining its primary context.</summary>
    /// <exception cref="DeviceUnavailableException">No NVIDIA driver, no GPU, or no such ordinal.</exception>
    public static CudaContext Create(int ordinal = 0)
    {
        var api = CudaNative.Require();
        int count = DeviceCount();
        if (count == 0)
            throw new DeviceUnavailableException("CUDA is not available: the NVIDIA driver is installed but reports no CUDA device.");
        if (ordinal < 0 || ordinal >= count)
            throw new DeviceUnavailableException($"There is no CUDA device {ordinal}: {count} device(s) found (ordinals 0 to {count - 1}).");

        int device;
        CudaNative.Check(api, api.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        nint context;
        CudaNative.Check(api, api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        try
        {
            CudaNative.Check(api, api.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            return new CudaContext(api, ordinal, device, context);
        }
        catch
        {
            api.cuDevicePrimaryCtxRelease(device);
            throw;
        }
    }

    // ---- compilation -----------------------------------------------------------------------

    /// <summary>Compiles CUDA C++ to PTX with NVRTC.</summary>
    /// <param name="cudaSource">The translation unit; kernels should be <c>extern "C"</c> so <see cref="CudaModule.GetFunction"/> finds them by plain name.</param>
    /// <param name="arch">A virtual architecture such as "compute_80"; null picks this device's compute capability (capped at the newest NVRTC supports).</param>
    /// <param name="options">Further NVRTC options, e.g. "--use_fast_math", "-DN=64".</param>
    /// <exception cref="DeviceUnavailableException">NVRTC is not installed.</exception>
    /// <exception cref="CudaException">The source does not compile; the message holds NVRTC's log.</exception>
    public string CompileToPtx(string cudaSource, string? arch = null, IEnumerable<string>? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(cudaSource);
        var nvrtc = NvrtcNative.Require();
        arch ??= NvrtcNative.ArchitectureFor(nvrtc, ComputeCapability.Major, ComputeCapability.Minor);
        return NvrtcNative.CompileToPtx(nvrtc, cudaSource, arch, options);
    }

    /// <summary>Loads PTX (JIT-compiling it for this device).</summary>
    /// <exception cref="CudaException">The driver rejects the PTX; the message holds its JIT log.</exception>
    public CudaModule LoadPtx(string ptx)
    {
        ArgumentException.ThrowIfNullOrEmpty(ptx);
        MakeCurrent();

        const int logSize = 16 * 1024;
        var image = Encoding.UTF8.GetBytes(ptx + "\0");
        var errorLog = new byte[logSize];
        var infoLog = new byte[logSize];
        nint module;
        int result;
        fixed (byte* imagePtr = image)
        fixed (byte* errorPtr = errorLog)
        fixed (byte* infoPtr = infoLog)
        {
            int* options = stackalloc int[]
            {
                CudaNative.CU_JIT_ERROR_LOG_BUFFER, CudaNative.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                CudaNative.CU_JIT_INFO_LOG_BUFFER, CudaNative.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
            };
            // Size options carry an unsigned int in the pointer-sized slot itself, per cuda.h.
            void** values = stackalloc void*[] { errorPtr, (void*)(nuint)logSize, infoPtr, (void*)(nuint)logSize };
            result = _api.cuModuleLoadDataEx(&module, imagePtr, 4, options, values);
        }

        if (result != CudaNative.CUDA_SUCCESS)
            throw new CudaException("cuModuleLoadDataEx", result, CudaNative.ErrorName(_api, result), $"on {DeviceName}", CString(errorLog).Trim());

        return Track(new CudaModule(this, module));
    }

    // ---- memory ----------------------------------------------------------------------------

    /// <summary>Allocates device memory for <paramref name="floats"/> floats (contents undefined).</summary>
    public CudaBuffer Allocate(long floats) => Allocate<float>(floats);

    /// <summary>Allocates device memory for <paramref name="count"/> values of <typeparamref name="T"/> (contents undefined).</summary>
    /// <remarks>A zero-length buffer is allowed (backed by one element, since cuMemAlloc rejects 0).</remarks>
    public CudaBuffer Allocate<T>(long count) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        MakeCurrent();
        long bytes = checked(count * sizeof(T));
        ulong pointer;
        Check(_api.cuMemAlloc(&pointer, (nuint)Math.Max(bytes, sizeof(T))), "cuMemAlloc_v2", $"{bytes} bytes on {DeviceName} ({TotalMemoryBytes} bytes in total)");
        return Track(new CudaBuffer(this, pointer, bytes));
    }

    /// <summary>Allocates a buffer holding a copy of <paramref name="contents"/>.</summary>
    public CudaBuffer Allocate<T>(ReadOnlySpan<T> contents) where T : unmanaged
    {
        var buffer = Allocate<T>(contents.Length);
        try
        {
            Write(buffer, contents);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="buffer"/> at element <paramref name="offset"/> (units of <typeparamref name="T"/>). Returns once the source has been consumed.</summary>
    public void Write<T>(CudaBuffer buffer, ReadOnlySpan<T> source, long offset = 0) where T : unmanaged
    {
        ulong at = Address(buffer, offset, source.Length, sizeof(T), nameof(offset));
        if (source.IsEmpty)
            return;
        fixed (T* data = source)
            Check(_api.cuMemcpyHtoD(at, data, (nuint)((long)source.Length * sizeof(T))), "cuMemcpyHtoD_v2");
    }

    /// <summary>Copies from <paramref name="buffer"/> at element <paramref name="offset"/> into <paramref name="destination"/>, after all earlier work.</summary>
    public void Read<T>(CudaBuffer buffer, Span<T> destination, long offset = 0) where T : unmanaged
    {
        ulong at = Address(buffer, offset, destination.Length, sizeof(T), nameof(offset));
        if (destination.IsEmpty)
            return;
        fixed (T* data = destination)
            Check(_api.cuMemcpyDtoH(data, at, (nuint)((long)destination.Length * sizeof(T))), "cuMemcpyDtoH_v2", "this also reports failures of earlier kernel launches");
    }

    /// <summary>Sets every float of <paramref name="buffer"/> to <paramref name="value"/>.</summary>
    public void Fill(CudaBuffer buffer, float value)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.ByteLength % sizeof(float) != 0)
            throw new ArgumentException($"The buffer is {buffer.ByteLength} bytes, not a whole number of floats.", nameof(buffer));
        long count = buffer.ByteLength / sizeof(float);
        ulong at = Address(buffer, 0, count, sizeof(float), "offset");
        if (count == 0)
            return;
        Check(_api.cuMemsetD32(at, BitConverter.SingleToUInt32Bits(value), (nuint)count), "cuMemsetD32_v2");
    }

    // ---- execution -------------------------------------------------------------------------

    /// <summary>Launches <paramref name="function"/> with arguments packed by <see cref="CudaKernelArguments"/> (asynchronous).</summary>
    public void Launch(CudaFunction function, CudaDim3 grid, CudaDim3 block, CudaKernelArguments arguments, int sharedMemoryBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        arguments.EnsureBuffersAlive();
        fixed (byte* values = arguments.Values)
        {
            var offsets = arguments.Offsets;
            nint* pointers = stackalloc nint[Math.Max(offsets.Count, 1)];
            for (int i = 0; i < offsets.Count; i++)
                pointers[i] = (nint)(values + offsets[i]);
            Launch(function, grid, block, sharedMemoryBytes, new ReadOnlySpan<nint>(pointers, offsets.Count));
        }
    }

    /// <summary>Launches <paramref name="function"/> (asynchronous), exactly as cuLaunchKernel.</summary>
    /// <param name="function">A kernel of a module loaded by this context.</param>
    /// <param name="grid">Blocks per grid; any zero dimension launches nothing.</param>
    /// <param name="block">Threads per block.</param>
    /// <param name="sharedMemoryBytes">Dynamic shared memory per block.</param>
    /// <param name="arguments">One pointer per kernel parameter, to memory holding that parameter's value (the value of a buffer parameter is its <see cref="CudaBuffer.DevicePointer"/>). The values are copied during the call.</param>
    public void Launch(CudaFunction function, CudaDim3 grid, CudaDim3 block, int sharedMemoryBytes, ReadOnlySpan<nint> arguments)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedMemoryBytes);
        if (!ReferenceEquals(function.Module.Context, this))
            throw new ArgumentException("The function belongs to a different CUDA context.", nameof(function));
        ObjectDisposedException.ThrowIf(function.Module.IsDisposed, function.Module);
        if (block.X == 0 || block.Y == 0 || block.Z == 0)
            throw new ArgumentOutOfRangeException(nameof(block), block, "Every block dimension must be at least 1.");
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
            return;

        MakeCurrent();
        fixed (nint* parameters = arguments)
        {
            int result = _api.cuLaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedMemoryBytes, 0, (void**)parameters, null);
            // The detail is built only on failure: launches are the hot path.
            if (result != CudaNative.CUDA_SUCCESS)
                Check(result, "cuLaunchKernel", $"kernel '{function.Name}', grid {grid}, block {block}, {sharedMemoryBytes} bytes of shared memory, {arguments.Length} argument(s) (device limit {MaxThreadsPerBlock} threads per block)");
        }
    }

    /// <summary>Blocks until all submitted work has finished; reports asynchronous kernel failures.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        Check(_api.cuCtxSynchronize(), "cuCtxSynchronize", "this also reports failures of earlier kernel launches");
    }

    /// <summary>Frees every buffer and module still alive, then releases the primary context; idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;

        IDisposable[] live;
        lock (_gate)
            live = _resources.ToArray();
        foreach (var resource in live)
            resource.Dispose();

        _api.cuDevicePrimaryCtxRelease(_device);
    }

    /// <summary>Ordinal, name, compute capability and memory, for logs.</summary>
    public override string ToString() => $"CudaContext({Ordinal}: {DeviceName}, sm_{ComputeCapability.Major}{ComputeCapability.Minor}, {TotalMemoryBytes / (1024 * 1024)} MiB)";

    // ---- helpers used by the resources -----------------------------------------------------

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal CudaNative.Api Api => _api;

    /// <summary>Frees a resource's native object; called once per resource, never throws.</summary>
    internal void Release(IDisposable resource, Func<CudaNative.Api, int> free)
    {
        lock (_gate)
        {
            if (!_resources.Remove(resource))
                return;
        }

        // The context is still retained here: Dispose releases it only after its resources.
        _api.cuCtxSetCurrent(_context);
        free(_api);
    }

    internal void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Check(_api.cuCtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    internal void Check(int result, string function, string? detail = null) => CudaNative.Check(_api, result, function, detail);

    private T Track<T>(T resource) where T : IDisposable
    {
        lock (_gate)
            _resources.Add(resource);
        return resource;
    }

    private int Attribute(int attribute)
    {
        int value;
        Check(_api.cuDeviceGetAttribute(&value, attribute, _device), "cuDeviceGetAttribute");
        return value;
    }

    private ulong Address(CudaBuffer buffer, long offset, long count, int elementSize, string offsetName)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!ReferenceEquals(buffer.Context, this))
            throw new ArgumentException("The buffer belongs to a different CUDA context.", nameof(buffer));
        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        ArgumentOutOfRangeException.ThrowIfNegative(offset, offsetName);
        long byteOffset = checked(offset * elementSize);
        long byteCount = checked(count * elementSize);
        if (byteOffset > buffer.ByteLength || byteCount > buffer.ByteLength - byteOffset)
        {
            throw new ArgumentOutOfRangeException(offsetName,
                $"{count} elements of {elementSize} bytes at element {offset} do not fit in a buffer of {buffer.ByteLength} bytes.");
        }

        MakeCurrent();
        return buffer.DevicePointer + (ulong)byteOffset;
    }

    private static string CString(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }
}

/// <summary>A loaded PTX module. Disposing it invalidates its functions.</summary>
public sealed class CudaModule : IDisposable
{
    private readonly nint _handle;
    private int _disposed;

    internal CudaModule(CudaContext context, nint handle)
    {
        Context = context;
        _handle = handle;
    }

    internal CudaContext Context { get; }

    /// <summary>True once the module (or its context) has been disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Looks up the kernel <paramref name="name"/> (its unmangled name if declared <c>extern "C"</c>).</summary>
    /// <exception cref="CudaException">No such kernel (CUDA_ERROR_NOT_FOUND).</exception>
    public unsafe CudaFunction GetFunction(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Context.MakeCurrent();

        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        nint function;
        int result;
        fixed (byte* text = bytes)
            result = Context.Api.cuModuleGetFunction(&function, _handle, text);
        if (result != CudaNative.CUDA_SUCCESS)
        {
            Context.Check(result, "cuModuleGetFunction",
                $"the module has no kernel named '{name}' (kernels must be declared extern \"C\" to be found by their plain name)");
        }

        return new CudaFunction(this, function, name);
    }

    /// <summary>Unloads the module; idempotent.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        var handle = _handle;
        Context.Release(this, api => api.cuModuleUnload(handle));
    }
}

/// <summary>A kernel entry point of a <see cref="CudaModule"/>; valid while the module is.</summary>
public sealed class CudaFunction
{
    internal CudaFunction(CudaModule module, nint handle, string name)
    {
        Module = module;
        Handle = handle;
        Name = name;
    }

    /// <summary>The kernel's name.</summary>
    public string Name { get; }

    /// <summary>The module the kernel lives in.</summary>
    public CudaModule Module { get; }

    internal nint Handle { get; }
}

/// <summary>A region of device memory owned by one <see cref="CudaContext"/>.</summary>
public sealed class CudaBuffer : IDisposable
{
    private readonly ulong _pointer;
    private int _disposed;

    internal CudaBuffer(CudaContext context, ulong pointer, long byteLength)
    {
        Context = context;
        _pointer = pointer;
        ByteLength = byteLength;
    }

    /// <summary>The device address (a CUdeviceptr): the value to pass for a pointer parameter.</summary>
    public ulong DevicePointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _pointer;
        }
    }

    /// <summary>Size in bytes as requested (a zero-length buffer reports 0).</summary>
    public long ByteLength { get; }

    /// <summary>True once the buffer (or its context) has been disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal CudaContext Context { get; }

    /// <summary>Frees the memory; idempotent. Do not dispose memory a running kernel still uses.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        var pointer = _pointer;
        Context.Release(this, api => api.cuMemFree(pointer));
    }
}

/// <summary>
/// Packs kernel parameter values in order, for
/// <see cref="CudaContext.Launch(CudaFunction, CudaDim3, CudaDim3, CudaKernelArguments, int)"/>:
/// <c>new CudaKernelArguments().Add(x).Add(y).Add(2.0f).Add(n)</c>.
/// </summary>
public sealed class CudaKernelArguments
{
    // Each value gets a 16-byte-aligned slot so that any parameter type is suitably aligned.
    private const int SlotAlignment = 16;
    private readonly List<int> _offsets = new();
    private readonly List<CudaBuffer> _buffers = new();
    private byte[] _values = new byte[8 * SlotAlignment];
    private int _used;

    /// <summary>Number of parameters added.</summary>
    public int Count => _offsets.Count;

    internal byte[] Values => _values;

    internal IReadOnlyList<int> Offsets => _offsets;

    /// <summary>Adds a pointer parameter (<c>float*</c> etc.) referring to <paramref name="buffer"/>.</summary>
    public CudaKernelArguments Add(CudaBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        Add(buffer.DevicePointer);
        _buffers.Add(buffer);
        return this;
    }

    /// <summary>Adds a by-value parameter; <typeparamref name="T"/> must match the kernel's parameter type exactly (int vs. long, float vs. double).</summary>
    public unsafe CudaKernelArguments Add<T>(T value) where T : unmanaged
    {
        int offset = (_used + SlotAlignment - 1) / SlotAlignment * SlotAlignment;
        int end = offset + sizeof(T);
        if (end > _values.Length)
            Array.Resize(ref _values, Math.Max(_values.Length * 2, end));
        MemoryMarshal.Write(_values.AsSpan(offset), in value);
        _offsets.Add(offset);
        _used = end;
        return this;
    }

    internal void EnsureBuffersAlive()
    {
        foreach (var buffer in _buffers)
            ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
    }
}
