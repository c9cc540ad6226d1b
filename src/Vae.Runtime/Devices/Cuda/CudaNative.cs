using System.Runtime.InteropServices;

namespace Vae.Devices.Cuda;

/// <summary>
/// The CUDA driver API (<c>libcuda.so.1</c>), bound at run time through
/// <see cref="NativeLibrary"/> and unmanaged function pointers.
/// </summary>
/// <remarks>
/// Why not <c>[LibraryImport]</c>: the driver is absent on most machines, and binding by hand lets
/// <see cref="CudaContext.DeviceCount"/> answer 0 without exceptions, lets a missing or too-old
/// driver be reported once with an install hint, and picks between symbol versions
/// (<c>cuDevicePrimaryCtxRelease_v2</c> vs. the original) without a DllImportResolver, of which an
/// assembly may only have one. The <c>_v2</c> entry points are the ones cuda.h maps the plain
/// names to since CUDA 3.2/11.0 (64-bit device pointers and sizes).
/// </remarks>
internal static unsafe class CudaNative
{
    internal const int CUDA_SUCCESS = 0;
    internal const int CUDA_ERROR_NO_DEVICE = 100;

    // CUdevice_attribute
    internal const int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
    internal const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    internal const int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    // CUjit_option
    internal const int CU_JIT_INFO_LOG_BUFFER = 3;
    internal const int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
    internal const int CU_JIT_ERROR_LOG_BUFFER = 5;
    internal const int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

    private static readonly string[] Candidates = OperatingSystem.IsWindows()
        ? ["nvcuda.dll"]
        : ["libcuda.so.1", "libcuda.so"];

    private static readonly Lazy<Loaded> State = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The bound driver, or null when it could not be bound (<see cref="Require"/> says why).</summary>
    internal static Api? Driver => State.Value.Api;

    /// <summary>The result of <c>cuInit(0)</c>, called once per process; meaningless without a driver.</summary>
    internal static int InitResult => State.Value.InitResult;

    /// <summary>The bound driver, or a <see cref="DeviceUnavailableException"/> with an install hint.</summary>
    internal static Api Require()
    {
        var state = State.Value;
        if (state.Api is null)
        {
            throw new DeviceUnavailableException(
                $"CUDA is not available: no NVIDIA driver (libcuda.so.1) was found ({state.Error}). " +
                "Install the NVIDIA driver for your GPU (on Debian `apt-get install nvidia-driver libcuda1` from non-free, " +
                "or your distribution's NVIDIA driver package), or use the OpenCL or CPU backend.");
        }

        if (state.InitResult != CUDA_SUCCESS)
        {
            var name = ErrorName(state.Api, state.InitResult);
            throw new DeviceUnavailableException(
                $"CUDA is not available: cuInit failed with {name} ({state.InitResult})" +
                (state.InitResult == CUDA_ERROR_NO_DEVICE ? "; the NVIDIA driver is installed but sees no GPU." : "; check that the NVIDIA kernel module is loaded and matches libcuda.so.1 (nvidia-smi)."),
                new CudaException("cuInit", state.InitResult, name));
        }

        return state.Api;
    }

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    internal static void Check(Api api, int result, string function, string? detail = null)
    {
        if (result != CUDA_SUCCESS)
            throw new CudaException(function, result, ErrorName(api, result), detail);
    }

    /// <summary>The CUresult's symbolic name from the driver itself (e.g. CUDA_ERROR_INVALID_PTX).</summary>
    internal static string ErrorName(Api api, int result)
    {
        byte* name = null;
        if (api.cuGetErrorName(result, &name) == CUDA_SUCCESS && name is not null)
            return Marshal.PtrToStringUTF8((nint)name) ?? "CUDA_ERROR_UNKNOWN";
        return "CUDA_ERROR_UNKNOWN";
    }

    private sealed record Loaded(Api? Api, string? Error, int InitResult);

    private static Loaded Load()
    {
        nint library = 0;
        foreach (var candidate in Candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out library))
                break;
        }

        if (library == 0)
            return new Loaded(null, $"tried {string.Join(", ", Candidates)}", 0);

        try
        {
            var api = new Api(library);
            // cuInit is idempotent but not free; its answer cannot change within a process.
            return new Loaded(api, null, api.cuInit(0));
        }
        catch (EntryPointNotFoundException e)
        {
            // Keep the library loaded: unloading a driver library mid-process is never worth the risk.
            return new Loaded(null, $"the driver library is too old: {e.Message}", 0);
        }
    }

    /// <summary>Resolved driver entry points. Field names are the C names without version suffixes.</summary>
    internal sealed class Api
    {
        public readonly delegate* unmanaged<uint, int> cuInit;
        public readonly delegate* unmanaged<int, byte**, int> cuGetErrorName;
        public readonly delegate* unmanaged<int*, int> cuDeviceGetCount;
        public readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
        public readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
        public readonly delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem;
        public readonly delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
        public readonly delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
        public readonly delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
        public readonly delegate* unmanaged<nint, int> cuCtxSetCurrent;
        public readonly delegate* unmanaged<int> cuCtxSynchronize;
        public readonly delegate* unmanaged<nint*, void*, uint, int*, void**, int> cuModuleLoadDataEx;
        public readonly delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
        public readonly delegate* unmanaged<nint, int> cuModuleUnload;
        public readonly delegate* unmanaged<ulong*, nuint, int> cuMemAlloc;
        public readonly delegate* unmanaged<ulong, int> cuMemFree;
        public readonly delegate* unmanaged<ulong, void*, nuint, int> cuMemcpyHtoD;
        public readonly delegate* unmanaged<void*, ulong, nuint, int> cuMemcpyDtoH;
        public readonly delegate* unmanaged<ulong, uint, nuint, int> cuMemsetD32;

        // (f, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes, hStream, kernelParams, extra)
        public readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;

        public Api(nint library)
        {
            cuInit = (delegate* unmanaged<uint, int>)Export(library, "cuInit");
            cuGetErrorName = (delegate* unmanaged<int, byte**, int>)Export(library, "cuGetErrorName");
            cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(library, "cuDeviceGetCount");
            cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export(library, "cuDeviceGet");
            cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export(library, "cuDeviceGetName");
            cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Export(library, "cuDeviceTotalMem_v2");
            cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(library, "cuDeviceGetAttribute");
            cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)Export(library, "cuDevicePrimaryCtxRetain");
            cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)Export(library, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
            cuCtxSetCurrent = (delegate* unmanaged<nint, int>)Export(library, "cuCtxSetCurrent");
            cuCtxSynchronize = (delegate* unmanaged<int>)Export(library, "cuCtxSynchronize");
            cuModuleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)Export(library, "cuModuleLoadDataEx");
            cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)Export(library, "cuModuleGetFunction");
            cuModuleUnload = (delegate* unmanaged<nint, int>)Export(library, "cuModuleUnload");
            cuMemAlloc = (delegate* unmanaged<ulong*, nuint, int>)Export(library, "cuMemAlloc_v2");
            cuMemFree = (delegate* unmanaged<ulong, int>)Export(library, "cuMemFree_v2");
            cuMemcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)Export(library, "cuMemcpyHtoD_v2");
            cuMemcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)Export(library, "cuMemcpyDtoH_v2");
            cuMemsetD32 = (delegate* unmanaged<ulong, uint, nuint, int>)Export(library, "cuMemsetD32_v2");
            cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)Export(library, "cuLaunchKernel");
        }
    }

    /// <summary>The first of <paramref name="names"/> that the library exports.</summary>
    internal static nint Export(nint library, params ReadOnlySpan<string> names)
    {
        foreach (var name in names)
        {
            if (NativeLibrary.TryGetExport(library, name, out var address))
                return address;
        }

        throw new EntryPointNotFoundException($"none of {string.Join(", ", names.ToArray())} is exported");
    }
}
