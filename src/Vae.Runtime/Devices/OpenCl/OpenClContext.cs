using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Vae.Devices.OpenCl;

/// <summary>The kind of an OpenCL device, from CL_DEVICE_TYPE.</summary>
public enum OpenClDeviceType
{
    /// <summary>Neither CPU, GPU nor accelerator (e.g. CL_DEVICE_TYPE_CUSTOM).</summary>
    Other = 0,
    /// <summary>CL_DEVICE_TYPE_CPU: the host's cores, as PoCL provides.</summary>
    Cpu = 1,

    /// <summary>CL_DEVICE_TYPE_GPU.</summary>
    Gpu = 2,

    /// <summary>CL_DEVICE_TYPE_ACCELERATOR (e.g. an FPGA or DSP).</summary>
    Accelerator = 3,
}

/// <summary>One OpenCL device as enumerated by <see cref="OpenClContext.ListDevices"/>.</summary>
/// <param name="PlatformIndex">Index of the platform (driver) in the loader's list.</param>
/// <param name="PlatformName">CL_PLATFORM_NAME, e.g. "Portable Computing Language".</param>
/// <param name="DeviceIndex">Index of the device within its platform.</param>
/// <param name="DeviceName">CL_DEVICE_NAME.</param>
/// <param name="Type">CPU, GPU or accelerator.</param>
/// <param name="ComputeUnits">CL_DEVICE_MAX_COMPUTE_UNITS.</param>
/// <param name="GlobalMemoryBytes">CL_DEVICE_GLOBAL_MEM_SIZE.</param>
/// <param name="MaxAllocationBytes">CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer.</param>
/// <param name="MaxWorkGroupSize">CL_DEVICE_MAX_WORK_GROUP_SIZE.</param>
/// <param name="DoublePrecision">Whether CL_DEVICE_EXTENSIONS lists cl_khr_fp64 (a VQ-VAE's kernels need doubles).</param>
public sealed record OpenClDeviceInfo(
    int PlatformIndex,
    string PlatformName,
    int DeviceIndex,
    string DeviceName,
    OpenClDeviceType Type,
    int ComputeUnits,
    long GlobalMemoryBytes,
    long MaxAllocationBytes,
    long MaxWorkGroupSize,
    bool DoublePrecision)
{
    /// <summary>Platform, device, type, compute units, memory and work-group size on one line, for listings.</summary>
    public override string ToString() =>
        $"platform {PlatformIndex} '{PlatformName}', device {DeviceIndex} '{DeviceName}' " +
        $"({Type}, {ComputeUnits} compute units, {GlobalMemoryBytes / (1024 * 1024)} MiB, max work-group {MaxWorkGroupSize}, " +
        (DoublePrecision ? "doubles)" : "no doubles)");
}

/// <summary>
/// One OpenCL device with its context and a single in-order command queue.
/// </summary>
/// <remarks>
/// <para>
/// Ordering: the queue is in-order, so <see cref="Fill"/>, <see cref="Copy"/> and
/// <see cref="Launch(OpenClKernel, ReadOnlySpan{long}, ReadOnlySpan{long})"/> are asynchronous
/// but run in submission order, and <see cref="Read{T}"/> (blocking) sees the results of
/// everything submitted before it. <see cref="Write{T}"/> is blocking because the source span is
/// only valid for the duration of the call.
/// </para>
/// <para>
/// Lifetime: OpenCL reference-counts its objects, so buffers, programs and kernels may be
/// disposed in any order relative to the context; each native handle is released exactly once,
/// by <c>Dispose</c> or, if forgotten, by its finalizer. A disposed context rejects further use
/// with <see cref="ObjectDisposedException"/>.
/// </para>
/// <para>
/// Threads: the context may be used from several threads. A kernel's arguments are per kernel
/// object, so one <see cref="OpenClKernel"/> must not be configured and launched concurrently;
/// create one kernel per thread instead.
/// </para>
/// </remarks>
public sealed unsafe partial class OpenClContext : IDisposable
{
    private readonly OpenClContextHandle _context;
    private readonly OpenClQueueHandle _queue;
    private readonly nint _device;

    /// <summary>The device's id, for the per-kernel queries.</summary>
    internal nint DeviceId => _device;
    private int _disposed;

    private OpenClContext(FoundDevice found)
    {
        Device = found.Info;
        _device = found.Device;

        int status;
        nint* properties = stackalloc nint[] { OpenClNative.CL_CONTEXT_PLATFORM, found.Platform, 0 };
        nint device = found.Device;
        _context = OpenClNative.clCreateContext(properties, 1, &device, 0, 0, &status);
        if (status != OpenClNative.CL_SUCCESS)
        {
            _context.Dispose();
            throw new OpenClException("clCreateContext", status, $"on {found.Info}");
        }

        // Null properties: an in-order queue without profiling, which is what the ordering
        // guarantees in the class remarks rely on.
        _queue = OpenClNative.clCreateCommandQueueWithProperties(_context, device, null, &status);
        if (status != OpenClNative.CL_SUCCESS)
        {
            _queue.Dispose();
            _context.Dispose();
            throw new OpenClException("clCreateCommandQueueWithProperties", status, $"on {found.Info}");
        }
    }

    /// <summary>The device this context runs on.</summary>
    public OpenClDeviceInfo Device { get; }

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    // ---- discovery -------------------------------------------------------------------------

    /// <summary>Every device of every installed OpenCL platform, in loader order.</summary>
    /// <exception cref="DeviceUnavailableException">No OpenCL loader or no platform is installed.</exception>
    public static IReadOnlyList<OpenClDeviceInfo> ListDevices() =>
        Enumerate().Select(found => found.Info).ToArray();

    /// <summary>True when an OpenCL loader with at least one device is installed.</summary>
    public static bool IsAvailable()
    {
        try
        {
            return Enumerate().Count > 0;
        }
        catch (DeviceUnavailableException)
        {
            return false;
        }
    }

    /// <summary>Opens device <paramref name="deviceIndex"/> of platform <paramref name="platformIndex"/>.</summary>
    /// <exception cref="DeviceUnavailableException">OpenCL is not installed or there is no such device; the message lists the devices that exist.</exception>
    public static OpenClContext Create(int platformIndex = 0, int deviceIndex = 0)
    {
        var devices = Enumerate();
        foreach (var found in devices)
        {
            if (found.Info.PlatformIndex == platformIndex && found.Info.DeviceIndex == deviceIndex)
                return new OpenClContext(found);
        }

        throw new DeviceUnavailableException(
            $"There is no OpenCL device {deviceIndex} on platform {platformIndex}. {Describe(devices)}");
    }

    /// <summary>
    /// Opens the first device whose platform name or device name contains
    /// <paramref name="nameContains"/> (case-insensitive), e.g. "pocl", "NVIDIA", "gfx1030".
    /// </summary>
    /// <exception cref="DeviceUnavailableException">OpenCL is not installed or nothing matches; the message lists the devices that exist.</exception>
    public static OpenClContext Create(string nameContains)
    {
        ArgumentNullException.ThrowIfNull(nameContains);
        var devices = Enumerate();
        foreach (var found in devices)
        {
            if (found.Info.PlatformName.Contains(nameContains, StringComparison.OrdinalIgnoreCase) ||
                found.Info.DeviceName.Contains(nameContains, StringComparison.OrdinalIgnoreCase))
            {
                return new OpenClContext(found);
            }
        }

        throw new DeviceUnavailableException(
            $"No OpenCL platform or device name contains '{nameContains}'. {Describe(devices)}");
    }

    // ---- programs --------------------------------------------------------------------------

    /// <summary>Compiles OpenCL C source for this context's device.</summary>
    /// <param name="source">The program text.</param>
    /// <param name="options">Compiler options, e.g. "-cl-fast-relaxed-math -DN=64".</param>
    /// <exception cref="OpenClException">The build failed; the message and <see cref="OpenClException.BuildLog"/> hold the compiler's output.</exception>
    public OpenClProgram Build(string source, string options = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        options ??= string.Empty;
        ThrowIfDisposed();

        var utf8 = Encoding.UTF8.GetBytes(source);
        OpenClProgramHandle program;
        int status;
        fixed (byte* text = utf8)
        {
            byte* strings = text;
            nuint length = (nuint)utf8.Length;
            program = OpenClNative.clCreateProgramWithSource(_context, 1, &strings, &length, &status);
        }

        if (status != OpenClNative.CL_SUCCESS)
        {
            program.Dispose();
            throw new OpenClException("clCreateProgramWithSource", status);
        }

        try
        {
            nint device = _device;
            status = OpenClNative.clBuildProgram(program, 1, &device, options, 0, 0);
            if (status != OpenClNative.CL_SUCCESS)
            {
                var log = BuildLogOf(program);
                var detail = status == OpenClNative.CL_BUILD_PROGRAM_FAILURE
                    ? $"the program does not compile for '{Device.DeviceName}'"
                    : $"options \"{options}\" on '{Device.DeviceName}'";
                throw new OpenClException("clBuildProgram", status, detail, log, SourceExcerpt(source, log));
            }

            return new OpenClProgram(this, program);
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The source lines a build log points at ("file:line:column:"), numbered, with a caret under
    /// the column. Drivers differ in whether their logs quote the offending line (PoCL does not),
    /// and the kernel source usually exists only in memory, so the message quotes it itself.
    /// </summary>
    private static string? SourceExcerpt(string source, string log)
    {
        var lines = source.Split('\n');
        var excerpt = new StringBuilder();
        var seen = new HashSet<int>();
        foreach (Match match in LogPosition().Matches(log))
        {
            if (!int.TryParse(match.Groups[1].ValueSpan, out var line) || line < 1 || line > lines.Length || !seen.Add(line))
                continue;
            if (seen.Count > 5)
                break;
            int column = int.TryParse(match.Groups[2].ValueSpan, out var c) ? c : 0;
            var text = lines[line - 1].TrimEnd('\r');
            excerpt.Append(CultureInfo.InvariantCulture, $"{line,5} | {text}").Append(Environment.NewLine);
            if (column >= 1 && column <= text.Length + 1)
                excerpt.Append("      | ").Append(new string(' ', column - 1)).Append('^').Append(Environment.NewLine);
        }

        return excerpt.Length == 0 ? null : excerpt.ToString().TrimEnd();
    }

    [GeneratedRegex(@":(\d+):(\d+):")]
    private static partial Regex LogPosition();

    private string BuildLogOf(OpenClProgramHandle program)
    {
        nuint size;
        if (OpenClNative.clGetProgramBuildInfo(program, _device, OpenClNative.CL_PROGRAM_BUILD_LOG, 0, null, &size) != OpenClNative.CL_SUCCESS || size == 0)
            return string.Empty;

        var bytes = new byte[(int)size];
        fixed (byte* p = bytes)
        {
            if (OpenClNative.clGetProgramBuildInfo(program, _device, OpenClNative.CL_PROGRAM_BUILD_LOG, size, p, null) != OpenClNative.CL_SUCCESS)
                return string.Empty;
        }

        return DecodeCString(bytes).Trim();
    }

    // ---- buffers ---------------------------------------------------------------------------

    /// <summary>Allocates device memory for <paramref name="floats"/> single-precision values (contents undefined).</summary>
    public OpenClBuffer Allocate(long floats) => Allocate<float>(floats);

    /// <summary>Allocates device memory for <paramref name="count"/> values of <typeparamref name="T"/> (contents undefined).</summary>
    /// <remarks>A zero-length buffer is allowed (OpenCL itself forbids size 0, so a one-element placeholder backs it); copies and fills on it do nothing.</remarks>
    public OpenClBuffer Allocate<T>(long count) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ThrowIfDisposed();

        long bytes = checked(count * sizeof(T));
        long allocation = Math.Max(bytes, sizeof(T));
        int status;
        var handle = OpenClNative.clCreateBuffer(_context, OpenClNative.CL_MEM_READ_WRITE, (nuint)allocation, null, &status);
        if (status != OpenClNative.CL_SUCCESS)
        {
            handle.Dispose();
            throw new OpenClException("clCreateBuffer", status,
                $"{bytes} bytes requested on '{Device.DeviceName}', which allows at most {Device.MaxAllocationBytes} bytes per buffer " +
                $"and has {Device.GlobalMemoryBytes} bytes in total");
        }

        return new OpenClBuffer(this, handle, bytes, sizeof(T));
    }

    /// <summary>Allocates a buffer holding a copy of <paramref name="contents"/>.</summary>
    public OpenClBuffer Allocate<T>(ReadOnlySpan<T> contents) where T : unmanaged
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

    /// <summary>Copies <paramref name="source"/> into <paramref name="buffer"/> starting at element <paramref name="offset"/> (in units of <typeparamref name="T"/>). Blocks until done.</summary>
    public void Write<T>(OpenClBuffer buffer, ReadOnlySpan<T> source, long offset = 0) where T : unmanaged
    {
        long byteOffset = CheckRange(buffer, offset, source.Length, sizeof(T), nameof(offset));
        if (source.IsEmpty)
            return;

        fixed (T* data = source)
        {
            OpenClNative.Check(
                OpenClNative.clEnqueueWriteBuffer(_queue, buffer.Handle, OpenClNative.CL_TRUE, (nuint)byteOffset, (nuint)((long)source.Length * sizeof(T)), data, 0, null, null),
                "clEnqueueWriteBuffer");
        }
    }

    /// <summary>Copies from <paramref name="buffer"/>, starting at element <paramref name="offset"/> (in units of <typeparamref name="T"/>), into <paramref name="destination"/>. Waits for all earlier work first.</summary>
    public void Read<T>(OpenClBuffer buffer, Span<T> destination, long offset = 0) where T : unmanaged
    {
        long byteOffset = CheckRange(buffer, offset, destination.Length, sizeof(T), nameof(offset));
        if (destination.IsEmpty)
            return;

        fixed (T* data = destination)
        {
            OpenClNative.Check(
                OpenClNative.clEnqueueReadBuffer(_queue, buffer.Handle, OpenClNative.CL_TRUE, (nuint)byteOffset, (nuint)((long)destination.Length * sizeof(T)), data, 0, null, null),
                "clEnqueueReadBuffer");
        }
    }

    /// <summary>Sets every float of <paramref name="buffer"/> to <paramref name="value"/> (asynchronous).</summary>
    /// <remarks>Deliberately not generic: <c>Fill(buffer, 1)</c> must mean 1.0f, not the bit pattern of integer 1.</remarks>
    public void Fill(OpenClBuffer buffer, float value)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.ByteLength % sizeof(float) != 0)
            throw new ArgumentException($"The buffer is {buffer.ByteLength} bytes, not a whole number of floats.", nameof(buffer));
        Fill(buffer, value, 0, buffer.ByteLength / sizeof(float));
    }

    /// <summary>Sets <paramref name="count"/> elements of type <typeparamref name="T"/>, from element <paramref name="offset"/>, to <paramref name="value"/> (asynchronous).</summary>
    /// <remarks><typeparamref name="T"/> must be 1, 2, 4, 8, 16, 32, 64 or 128 bytes, as OpenCL requires of a fill pattern.</remarks>
    public void Fill<T>(OpenClBuffer buffer, T value, long offset, long count) where T : unmanaged
    {
        if (!BitOperations.IsPow2(sizeof(T)) || sizeof(T) > 128)
            throw new ArgumentException($"OpenCL fill patterns must be a power of two up to 128 bytes; {typeof(T).Name} is {sizeof(T)} bytes.", nameof(value));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        long byteOffset = CheckRange(buffer, offset, count, sizeof(T), nameof(offset));
        if (count == 0)
            return;

        // The pattern is copied by the driver before clEnqueueFillBuffer returns, so a stack
        // value is fine even though the fill itself runs later.
        OpenClNative.Check(
            OpenClNative.clEnqueueFillBuffer(_queue, buffer.Handle, &value, (nuint)sizeof(T), (nuint)byteOffset, (nuint)(count * sizeof(T)), 0, null, null),
            "clEnqueueFillBuffer");
    }

    /// <summary>
    /// Copies <paramref name="count"/> elements from <paramref name="source"/> to <paramref name="destination"/> on the device (asynchronous).
    /// Counts and offsets are in elements of the buffers' element type, which must have the same size.
    /// </summary>
    public void Copy(OpenClBuffer source, OpenClBuffer destination, long count, long sourceOffset = 0, long destinationOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (source.ElementSize != destination.ElementSize)
            throw new ArgumentException($"The source has {source.ElementSize}-byte elements but the destination has {destination.ElementSize}-byte elements.", nameof(destination));

        int size = source.ElementSize;
        long from = CheckRange(source, sourceOffset, count, size, nameof(sourceOffset));
        long to = CheckRange(destination, destinationOffset, count, size, nameof(destinationOffset));
        if (count == 0)
            return;

        OpenClNative.Check(
            OpenClNative.clEnqueueCopyBuffer(_queue, source.Handle, destination.Handle, (nuint)from, (nuint)to, (nuint)(count * size), 0, null, null),
            "clEnqueueCopyBuffer");
    }

    // ---- execution -------------------------------------------------------------------------

    /// <summary>Enqueues a one-dimensional launch of <paramref name="globalSize"/> work items (asynchronous).</summary>
    /// <param name="kernel">A kernel of a program built by this context, with all arguments set.</param>
    /// <param name="globalSize">Number of work items; 0 launches nothing.</param>
    /// <param name="localSize">Work-group size, or 0 to let the driver choose.</param>
    public void Launch(OpenClKernel kernel, long globalSize, long localSize = 0)
    {
        ReadOnlySpan<long> global = [globalSize];
        ReadOnlySpan<long> local = [localSize];
        Launch(kernel, global, localSize == 0 ? default : local);
    }

    /// <summary>Enqueues an NDRange launch (asynchronous).</summary>
    /// <param name="kernel">A kernel of a program built by this context, with all arguments set.</param>
    /// <param name="globalSize">One to three global sizes; if any is 0 nothing is launched.</param>
    /// <param name="localSize">Empty (or <c>default</c>/<c>null</c>) to let the driver choose, else one size per dimension, each dividing the global size.</param>
    public void Launch(OpenClKernel kernel, ReadOnlySpan<long> globalSize, ReadOnlySpan<long> localSize = default)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ThrowIfDisposed();
        if (!ReferenceEquals(kernel.Context, this))
            throw new ArgumentException("The kernel belongs to a different OpenCL context.", nameof(kernel));
        if (globalSize.Length is < 1 or > 3)
            throw new ArgumentException($"An OpenCL launch has 1 to 3 dimensions, not {globalSize.Length}.", nameof(globalSize));
        if (!localSize.IsEmpty && localSize.Length != globalSize.Length)
            throw new ArgumentException($"The local size has {localSize.Length} dimensions but the global size has {globalSize.Length}.", nameof(localSize));

        nuint* global = stackalloc nuint[3];
        nuint* local = stackalloc nuint[3];
        for (int d = 0; d < globalSize.Length; d++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(globalSize[d], nameof(globalSize));
            if (globalSize[d] == 0)
                return;
            global[d] = (nuint)globalSize[d];
            if (!localSize.IsEmpty)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(localSize[d], nameof(localSize));
                local[d] = (nuint)localSize[d];
            }
        }

        // Holding a reference on every buffer argument across the enqueue stops a concurrent or
        // earlier Dispose from releasing memory the kernel is about to use; once enqueued, OpenCL
        // itself keeps the memory alive until the command has finished.
        var leases = kernel.LeaseBufferArguments();
        try
        {
            int status = OpenClNative.clEnqueueNDRangeKernel(_queue, kernel.Handle, (uint)globalSize.Length, null, global, localSize.IsEmpty ? null : local, 0, null, null);
            if (status != OpenClNative.CL_SUCCESS)
                throw new OpenClException("clEnqueueNDRangeKernel", status, LaunchDetail(kernel, status, globalSize, localSize));
        }
        finally
        {
            foreach (var lease in leases)
                lease.Dispose();
        }
    }

    /// <summary>Blocks until every command submitted so far has completed.</summary>
    public void Finish()
    {
        ThrowIfDisposed();
        OpenClNative.Check(OpenClNative.clFinish(_queue), "clFinish");
    }

    /// <summary>Releases the queue and the context; idempotent. Pending commands still complete.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _queue.Dispose();
        _context.Dispose();
    }

    /// <summary>The device this context runs on, for logs.</summary>
    public override string ToString() => $"OpenClContext({Device})";

    // ---- helpers ---------------------------------------------------------------------------

    private string LaunchDetail(OpenClKernel kernel, int status, ReadOnlySpan<long> global, ReadOnlySpan<long> local)
    {
        var shape = $"kernel '{kernel.Name}', global [{string.Join(", ", global.ToArray())}]" +
                    (local.IsEmpty ? ", local chosen by the driver" : $", local [{string.Join(", ", local.ToArray())}]");
        return status switch
        {
            -52 => shape + "; not every kernel argument has been set",
            -54 => shape + $"; each global size must be a multiple of the local size and the local sizes' product at most {Device.MaxWorkGroupSize} (and within the kernel's own limit)",
            -55 => shape + "; a local size exceeds the device's per-dimension limit",
            -5 => shape + "; the device ran out of resources (too much local memory or too many registers per work-group?)",
            _ => shape,
        };
    }

    private long CheckRange(OpenClBuffer buffer, long offset, long count, int elementSize, string offsetName)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ThrowIfDisposed();
        if (!ReferenceEquals(buffer.Context, this))
            throw new ArgumentException("The buffer belongs to a different OpenCL context.", nameof(buffer));
        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        ArgumentOutOfRangeException.ThrowIfNegative(offset, offsetName);

        long byteOffset = checked(offset * elementSize);
        long byteCount = checked(count * elementSize);
        if (byteOffset > buffer.ByteLength || byteCount > buffer.ByteLength - byteOffset)
        {
            throw new ArgumentOutOfRangeException(offsetName,
                $"{count} elements of {elementSize} bytes at element {offset} do not fit in a buffer of {buffer.ByteLength} bytes.");
        }

        return byteOffset;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    private static string Describe(IReadOnlyList<FoundDevice> devices) =>
        devices.Count == 0
            ? "OpenCL is installed but reports no devices."
            : "Available OpenCL devices:" + string.Concat(devices.Select(d => Environment.NewLine + "  " + d.Info));

    private readonly record struct FoundDevice(nint Platform, nint Device, OpenClDeviceInfo Info);

    private static List<FoundDevice> Enumerate()
    {
        var found = new List<FoundDevice>();
        var platforms = Platforms();
        for (int p = 0; p < platforms.Length; p++)
        {
            var platformName = PlatformString(platforms[p], OpenClNative.CL_PLATFORM_NAME);

            // A platform without devices (a GPU driver with the card absent) or one that fails to
            // answer (a stale vendor registration) must not hide the platforms that work.
            uint count;
            int status = OpenClNative.clGetDeviceIDs(platforms[p], OpenClNative.CL_DEVICE_TYPE_ALL, 0, null, &count);
            if (status != OpenClNative.CL_SUCCESS || count == 0)
                continue;

            var devices = new nint[count];
            fixed (nint* ids = devices)
                OpenClNative.Check(OpenClNative.clGetDeviceIDs(platforms[p], OpenClNative.CL_DEVICE_TYPE_ALL, count, ids, null), "clGetDeviceIDs");

            for (int d = 0; d < devices.Length; d++)
            {
                var id = devices[d];
                var type = DeviceScalar<ulong>(id, OpenClNative.CL_DEVICE_TYPE);
                var info = new OpenClDeviceInfo(
                    p,
                    platformName,
                    d,
                    DeviceString(id, OpenClNative.CL_DEVICE_NAME),
                    (type & OpenClNative.CL_DEVICE_TYPE_GPU) != 0 ? OpenClDeviceType.Gpu
                        : (type & OpenClNative.CL_DEVICE_TYPE_CPU) != 0 ? OpenClDeviceType.Cpu
                        : (type & OpenClNative.CL_DEVICE_TYPE_ACCELERATOR) != 0 ? OpenClDeviceType.Accelerator
                        : OpenClDeviceType.Other,
                    (int)DeviceScalar<uint>(id, OpenClNative.CL_DEVICE_MAX_COMPUTE_UNITS),
                    (long)DeviceScalar<ulong>(id, OpenClNative.CL_DEVICE_GLOBAL_MEM_SIZE),
                    (long)DeviceScalar<ulong>(id, OpenClNative.CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                    (long)DeviceScalar<nuint>(id, OpenClNative.CL_DEVICE_MAX_WORK_GROUP_SIZE),
                    DeviceString(id, OpenClNative.CL_DEVICE_EXTENSIONS).Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("cl_khr_fp64"));
                found.Add(new FoundDevice(platforms[p], id, info));
            }
        }

        return found;
    }

    private const string InstallHint =
        "Install an OpenCL driver, e.g. on Debian/Ubuntu `apt-get install ocl-icd-libopencl1 pocl-opencl-icd` " +
        "for the CPU, or your GPU vendor's OpenCL ICD.";

    private static nint[] Platforms()
    {
        uint count;
        int status;
        try
        {
            status = OpenClNative.clGetPlatformIDs(0, null, &count);
        }
        catch (DllNotFoundException e)
        {
            throw new DeviceUnavailableException(
                $"OpenCL is not available: the OpenCL loader ({OpenClNative.Library}) could not be loaded. {InstallHint}", e);
        }

        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR when no vendor driver is registered
        // (nothing in /etc/OpenCL/vendors); some loaders instead report success with zero.
        if (status == OpenClNative.CL_PLATFORM_NOT_FOUND_KHR || (status == OpenClNative.CL_SUCCESS && count == 0))
        {
            throw new DeviceUnavailableException(
                $"OpenCL is not available: the OpenCL loader found no platform (no driver is registered in /etc/OpenCL/vendors). {InstallHint}");
        }

        OpenClNative.Check(status, "clGetPlatformIDs");
        var platforms = new nint[count];
        fixed (nint* ids = platforms)
            OpenClNative.Check(OpenClNative.clGetPlatformIDs(count, ids, &count), "clGetPlatformIDs");
        return platforms.AsSpan(0, (int)Math.Min(count, (uint)platforms.Length)).ToArray();
    }

    private static string PlatformString(nint platform, uint param)
    {
        nuint size;
        OpenClNative.Check(OpenClNative.clGetPlatformInfo(platform, param, 0, null, &size), "clGetPlatformInfo");
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes)
            OpenClNative.Check(OpenClNative.clGetPlatformInfo(platform, param, size, p, null), "clGetPlatformInfo");
        return DecodeCString(bytes).Trim();
    }

    private static string DeviceString(nint device, uint param)
    {
        nuint size;
        OpenClNative.Check(OpenClNative.clGetDeviceInfo(device, param, 0, null, &size), "clGetDeviceInfo");
        var bytes = new byte[(int)size];
        fixed (byte* p = bytes)
            OpenClNative.Check(OpenClNative.clGetDeviceInfo(device, param, size, p, null), "clGetDeviceInfo");
        return DecodeCString(bytes).Trim();
    }

    private static T DeviceScalar<T>(nint device, uint param) where T : unmanaged
    {
        T value = default;
        OpenClNative.Check(OpenClNative.clGetDeviceInfo(device, param, (nuint)sizeof(T), &value, null), "clGetDeviceInfo");
        return value;
    }

    private static string DecodeCString(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }
}

/// <summary>A compiled OpenCL program; create kernels from it with <see cref="CreateKernel"/>.</summary>
public sealed class OpenClProgram : IDisposable
{
    private readonly OpenClProgramHandle _handle;

    internal OpenClProgram(OpenClContext context, OpenClProgramHandle handle)
    {
        Context = context;
        _handle = handle;
    }

    internal OpenClContext Context { get; }

    /// <summary>Creates a kernel object for the <c>__kernel</c> function <paramref name="name"/>.</summary>
    /// <exception cref="OpenClException">No such kernel (CL_INVALID_KERNEL_NAME).</exception>
    public unsafe OpenClKernel CreateKernel(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);

        int status;
        var kernel = OpenClNative.clCreateKernel(_handle, name, &status);
        if (status != OpenClNative.CL_SUCCESS)
        {
            kernel.Dispose();
            throw new OpenClException("clCreateKernel", status,
                status == -46 ? $"the program has no __kernel function named '{name}'" : $"kernel '{name}'");
        }

        return new OpenClKernel(Context, kernel, name);
    }

    /// <summary>Releases the program; kernels already created from it stay usable.</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>
/// One kernel function with its argument values. Arguments persist between launches, so only the
/// ones that change need to be set again. Not thread-safe: use one kernel object per thread.
/// </summary>
public sealed unsafe class OpenClKernel : IDisposable
{
    // Buffers currently bound, by argument index, so a launch can refuse disposed ones
    // (OpenCL does not retain a memory object when it is set as an argument).
    private readonly Dictionary<int, OpenClBuffer> _buffers = new();

    internal OpenClKernel(OpenClContext context, OpenClKernelHandle handle, string name)
    {
        Context = context;
        Handle = handle;
        Name = name;
    }

    /// <summary>The kernel function's name.</summary>
    public string Name { get; }

    internal OpenClContext Context { get; }

    internal OpenClKernelHandle Handle { get; }

    /// <summary>
    /// CL_KERNEL_WORK_GROUP_SIZE: the most work items this kernel can run in one work-group on the context's device,
    /// which may be below the device's maximum for a kernel that needs many registers or much local memory.
    /// </summary>
    public long MaxWorkGroupSize
    {
        get
        {
            using (new HandleLease(Handle))
            {
                nuint size = 0;
                OpenClNative.Check(OpenClNative.clGetKernelWorkGroupInfo(Handle, Context.DeviceId, OpenClNative.CL_KERNEL_WORK_GROUP_SIZE, (nuint)sizeof(nuint), &size, null),
                    "clGetKernelWorkGroupInfo");
                return (long)size;
            }
        }
    }

    /// <summary>Binds <paramref name="buffer"/> to the <c>__global</c> pointer argument <paramref name="index"/>.</summary>
    public void SetArg(int index, OpenClBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        if (!ReferenceEquals(buffer.Context, Context))
            throw new ArgumentException("The buffer belongs to a different OpenCL context.", nameof(buffer));

        using (new HandleLease(buffer.Handle))
        {
            nint memory = buffer.Handle.DangerousGetHandle();
            Set(index, (nuint)sizeof(nint), &memory, "a buffer");
        }

        _buffers[index] = buffer;
    }

    /// <summary>Sets a by-value argument (int, float, a struct matching the kernel's, ...).</summary>
    public void SetArg<T>(int index, T value) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        Set(index, (nuint)sizeof(T), &value, $"a {sizeof(T)}-byte {typeof(T).Name}");
        _buffers.Remove(index);
    }

    /// <summary>Sizes the <c>__local</c> pointer argument <paramref name="index"/> to <paramref name="bytes"/> bytes per work-group.</summary>
    public void SetLocalMemory(int index, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Set(index, (nuint)bytes, null, $"{bytes} bytes of local memory");
        _buffers.Remove(index);
    }

    private void Set(int index, nuint size, void* value, string what)
    {
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        int status = OpenClNative.clSetKernelArg(Handle, (uint)index, size, value);
        if (status != OpenClNative.CL_SUCCESS)
            throw new OpenClException("clSetKernelArg", status, $"argument {index} of kernel '{Name}' set to {what}");
    }

    internal List<HandleLease> LeaseBufferArguments()
    {
        var leases = new List<HandleLease>(_buffers.Count);
        try
        {
            foreach (var (index, buffer) in _buffers)
            {
                if (buffer.IsDisposed)
                    throw new ObjectDisposedException($"Argument {index} of kernel '{Name}' is a buffer that has been disposed.");
                leases.Add(new HandleLease(buffer.Handle));
            }

            return leases;
        }
        catch
        {
            foreach (var lease in leases)
                lease.Dispose();
            throw;
        }
    }

    /// <summary>Releases the kernel; idempotent.</summary>
    public void Dispose()
    {
        Handle.Dispose();
        _buffers.Clear();
    }
}

/// <summary>A region of device memory owned by one <see cref="OpenClContext"/>.</summary>
public sealed class OpenClBuffer : IDisposable
{
    internal OpenClBuffer(OpenClContext context, OpenClMemHandle handle, long byteLength, int elementSize)
    {
        Context = context;
        Handle = handle;
        ByteLength = byteLength;
        ElementSize = elementSize;
    }

    /// <summary>Size in bytes as requested (a zero-length buffer reports 0).</summary>
    public long ByteLength { get; }

    /// <summary>Size of the element type the buffer was allocated with.</summary>
    public int ElementSize { get; }

    /// <summary>Number of elements of the allocation's element type.</summary>
    public long Length => ByteLength / ElementSize;

    /// <summary>True once <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => Handle.IsClosed;

    internal OpenClContext Context { get; }

    internal OpenClMemHandle Handle { get; }

    /// <summary>Releases the memory (after any queued command using it completes); idempotent.</summary>
    public void Dispose() => Handle.Dispose();
}

/// <summary>
/// Holds a SafeHandle's reference count up while its raw value is in native hands, so a Dispose
/// on another thread cannot release the object mid-call.
/// </summary>
internal readonly struct HandleLease : IDisposable
{
    private readonly SafeHandle? _handle;

    public HandleLease(SafeHandle handle)
    {
        bool added = false;
        // Throws ObjectDisposedException if the handle is already closed.
        handle.DangerousAddRef(ref added);
        _handle = added ? handle : null;
    }

    public void Dispose() => _handle?.DangerousRelease();
}
