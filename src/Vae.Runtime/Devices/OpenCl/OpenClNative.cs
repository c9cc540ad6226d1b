using System.Runtime.InteropServices;

namespace Vae.Devices.OpenCl;

/// <summary>
/// Raw OpenCL entry points, bound to the ICD loader (<c>libOpenCL.so.1</c>), which dispatches to
/// whichever vendor drivers are installed. Everything here is a thin, unchecked call; the safe
/// surface is <see cref="OpenClContext"/>.
/// </summary>
/// <remarks>
/// Platform and device ids are plain <see cref="nint"/>: root devices are not reference counted.
/// Every object that is (context, queue, program, kernel, memory) travels as a
/// <see cref="SafeHandle"/> subclass so that it is released exactly once, and so that the
/// marshaller's AddRef/Release around each call turns use-after-dispose into an
/// <see cref="ObjectDisposedException"/> instead of a dangling pointer handed to the driver.
/// </remarks>
internal static unsafe partial class OpenClNative
{
    // The SONAME of the Khronos/ocl-icd loader; the unversioned libOpenCL.so only exists with
    // the -dev package, so binding to it would fail on machines that can run OpenCL fine.
    internal const string Library = "libOpenCL.so.1";

    internal const int CL_SUCCESS = 0;
    internal const int CL_BUILD_PROGRAM_FAILURE = -11;
    internal const int CL_PLATFORM_NOT_FOUND_KHR = -1001;

    internal const uint CL_TRUE = 1;

    // cl_platform_info
    internal const uint CL_PLATFORM_NAME = 0x0902;

    // cl_device_type (a cl_bitfield, i.e. 64 bits)
    internal const ulong CL_DEVICE_TYPE_CPU = 1UL << 1;
    internal const ulong CL_DEVICE_TYPE_GPU = 1UL << 2;
    internal const ulong CL_DEVICE_TYPE_ACCELERATOR = 1UL << 3;
    internal const ulong CL_DEVICE_TYPE_ALL = 0xFFFFFFFFUL;

    // cl_device_info
    internal const uint CL_DEVICE_TYPE = 0x1000;
    internal const uint CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002;
    internal const uint CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
    internal const uint CL_KERNEL_WORK_GROUP_SIZE = 0x11B0;
    internal const uint CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010;
    internal const uint CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F;
    internal const uint CL_DEVICE_NAME = 0x102B;
    internal const uint CL_DEVICE_EXTENSIONS = 0x1030;

    // cl_context_properties
    internal const nint CL_CONTEXT_PLATFORM = 0x1084;

    // cl_program_build_info
    internal const uint CL_PROGRAM_BUILD_LOG = 0x1183;

    // cl_mem_flags (a cl_bitfield)
    internal const ulong CL_MEM_READ_WRITE = 1UL << 0;

    // ---- platforms and devices -------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial int clGetPlatformIDs(uint numEntries, nint* platforms, uint* numPlatforms);

    [LibraryImport(Library)]
    internal static partial int clGetPlatformInfo(nint platform, uint paramName, nuint paramValueSize, void* paramValue, nuint* paramValueSizeRet);

    [LibraryImport(Library)]
    internal static partial int clGetDeviceIDs(nint platform, ulong deviceType, uint numEntries, nint* devices, uint* numDevices);

    [LibraryImport(Library)]
    internal static partial int clGetDeviceInfo(nint device, uint paramName, nuint paramValueSize, void* paramValue, nuint* paramValueSizeRet);

    // ---- context and queue -----------------------------------------------------------------

    // pfn_notify/user_data are always null: errors are reported through return codes, and a
    // managed callback would have to outlive the context on a driver thread.
    [LibraryImport(Library)]
    internal static partial OpenClContextHandle clCreateContext(nint* properties, uint numDevices, nint* devices, nint pfnNotify, nint userData, int* errcodeRet);

    [LibraryImport(Library)]
    internal static partial OpenClQueueHandle clCreateCommandQueueWithProperties(OpenClContextHandle context, nint device, ulong* properties, int* errcodeRet);

    [LibraryImport(Library)]
    internal static partial int clFinish(OpenClQueueHandle queue);

    // ---- programs and kernels --------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial OpenClProgramHandle clCreateProgramWithSource(OpenClContextHandle context, uint count, byte** strings, nuint* lengths, int* errcodeRet);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int clBuildProgram(OpenClProgramHandle program, uint numDevices, nint* deviceList, string options, nint pfnNotify, nint userData);

    [LibraryImport(Library)]
    internal static partial int clGetProgramBuildInfo(OpenClProgramHandle program, nint device, uint paramName, nuint paramValueSize, void* paramValue, nuint* paramValueSizeRet);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial OpenClKernelHandle clCreateKernel(OpenClProgramHandle program, string kernelName, int* errcodeRet);

    [LibraryImport(Library)]
    internal static partial int clSetKernelArg(OpenClKernelHandle kernel, uint argIndex, nuint argSize, void* argValue);

    [LibraryImport(Library)]
    internal static partial int clGetKernelWorkGroupInfo(OpenClKernelHandle kernel, nint device, uint paramName, nuint paramValueSize, void* paramValue, nuint* paramValueSizeRet);

    [LibraryImport(Library)]
    internal static partial int clEnqueueNDRangeKernel(OpenClQueueHandle queue, OpenClKernelHandle kernel, uint workDim, nuint* globalWorkOffset, nuint* globalWorkSize, nuint* localWorkSize, uint numEventsInWaitList, nint* eventWaitList, nint* evt);

    // ---- buffers ---------------------------------------------------------------------------

    [LibraryImport(Library)]
    internal static partial OpenClMemHandle clCreateBuffer(OpenClContextHandle context, ulong flags, nuint size, void* hostPtr, int* errcodeRet);

    [LibraryImport(Library)]
    internal static partial int clEnqueueWriteBuffer(OpenClQueueHandle queue, OpenClMemHandle buffer, uint blockingWrite, nuint offset, nuint size, void* ptr, uint numEventsInWaitList, nint* eventWaitList, nint* evt);

    [LibraryImport(Library)]
    internal static partial int clEnqueueReadBuffer(OpenClQueueHandle queue, OpenClMemHandle buffer, uint blockingRead, nuint offset, nuint size, void* ptr, uint numEventsInWaitList, nint* eventWaitList, nint* evt);

    [LibraryImport(Library)]
    internal static partial int clEnqueueCopyBuffer(OpenClQueueHandle queue, OpenClMemHandle srcBuffer, OpenClMemHandle dstBuffer, nuint srcOffset, nuint dstOffset, nuint size, uint numEventsInWaitList, nint* eventWaitList, nint* evt);

    [LibraryImport(Library)]
    internal static partial int clEnqueueFillBuffer(OpenClQueueHandle queue, OpenClMemHandle buffer, void* pattern, nuint patternSize, nuint offset, nuint size, uint numEventsInWaitList, nint* eventWaitList, nint* evt);

    // ---- release (called only from the SafeHandles below) ----------------------------------

    [LibraryImport(Library)]
    internal static partial int clReleaseContext(nint context);

    [LibraryImport(Library)]
    internal static partial int clReleaseCommandQueue(nint queue);

    [LibraryImport(Library)]
    internal static partial int clReleaseProgram(nint program);

    [LibraryImport(Library)]
    internal static partial int clReleaseKernel(nint kernel);

    [LibraryImport(Library)]
    internal static partial int clReleaseMemObject(nint memObject);

    // ---- errors ----------------------------------------------------------------------------

    /// <summary>Throws <see cref="OpenClException"/> unless <paramref name="status"/> is CL_SUCCESS.</summary>
    internal static void Check(int status, string function, string? detail = null)
    {
        if (status != CL_SUCCESS)
            throw new OpenClException(function, status, detail);
    }

    /// <summary>The symbolic name of an OpenCL status code, as spelled in cl.h.</summary>
    internal static string ErrorName(int status) => status switch
    {
        0 => "CL_SUCCESS",
        -1 => "CL_DEVICE_NOT_FOUND",
        -2 => "CL_DEVICE_NOT_AVAILABLE",
        -3 => "CL_COMPILER_NOT_AVAILABLE",
        -4 => "CL_MEM_OBJECT_ALLOCATION_FAILURE",
        -5 => "CL_OUT_OF_RESOURCES",
        -6 => "CL_OUT_OF_HOST_MEMORY",
        -7 => "CL_PROFILING_INFO_NOT_AVAILABLE",
        -8 => "CL_MEM_COPY_OVERLAP",
        -9 => "CL_IMAGE_FORMAT_MISMATCH",
        -10 => "CL_IMAGE_FORMAT_NOT_SUPPORTED",
        -11 => "CL_BUILD_PROGRAM_FAILURE",
        -12 => "CL_MAP_FAILURE",
        -13 => "CL_MISALIGNED_SUB_BUFFER_OFFSET",
        -14 => "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
        -15 => "CL_COMPILE_PROGRAM_FAILURE",
        -16 => "CL_LINKER_NOT_AVAILABLE",
        -17 => "CL_LINK_PROGRAM_FAILURE",
        -18 => "CL_DEVICE_PARTITION_FAILED",
        -19 => "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
        -30 => "CL_INVALID_VALUE",
        -31 => "CL_INVALID_DEVICE_TYPE",
        -32 => "CL_INVALID_PLATFORM",
        -33 => "CL_INVALID_DEVICE",
        -34 => "CL_INVALID_CONTEXT",
        -35 => "CL_INVALID_QUEUE_PROPERTIES",
        -36 => "CL_INVALID_COMMAND_QUEUE",
        -37 => "CL_INVALID_HOST_PTR",
        -38 => "CL_INVALID_MEM_OBJECT",
        -39 => "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR",
        -40 => "CL_INVALID_IMAGE_SIZE",
        -41 => "CL_INVALID_SAMPLER",
        -42 => "CL_INVALID_BINARY",
        -43 => "CL_INVALID_BUILD_OPTIONS",
        -44 => "CL_INVALID_PROGRAM",
        -45 => "CL_INVALID_PROGRAM_EXECUTABLE",
        -46 => "CL_INVALID_KERNEL_NAME",
        -47 => "CL_INVALID_KERNEL_DEFINITION",
        -48 => "CL_INVALID_KERNEL",
        -49 => "CL_INVALID_ARG_INDEX",
        -50 => "CL_INVALID_ARG_VALUE",
        -51 => "CL_INVALID_ARG_SIZE",
        -52 => "CL_INVALID_KERNEL_ARGS",
        -53 => "CL_INVALID_WORK_DIMENSION",
        -54 => "CL_INVALID_WORK_GROUP_SIZE",
        -55 => "CL_INVALID_WORK_ITEM_SIZE",
        -56 => "CL_INVALID_GLOBAL_OFFSET",
        -57 => "CL_INVALID_EVENT_WAIT_LIST",
        -58 => "CL_INVALID_EVENT",
        -59 => "CL_INVALID_OPERATION",
        -60 => "CL_INVALID_GL_OBJECT",
        -61 => "CL_INVALID_BUFFER_SIZE",
        -62 => "CL_INVALID_MIP_LEVEL",
        -63 => "CL_INVALID_GLOBAL_WORK_SIZE",
        -64 => "CL_INVALID_PROPERTY",
        -65 => "CL_INVALID_IMAGE_DESCRIPTOR",
        -66 => "CL_INVALID_COMPILER_OPTIONS",
        -67 => "CL_INVALID_LINKER_OPTIONS",
        -68 => "CL_INVALID_DEVICE_PARTITION_COUNT",
        -69 => "CL_INVALID_PIPE_SIZE",
        -70 => "CL_INVALID_DEVICE_QUEUE",
        -71 => "CL_INVALID_SPEC_ID",
        -72 => "CL_MAX_SIZE_RESTRICTION_EXCEEDED",
        -1001 => "CL_PLATFORM_NOT_FOUND_KHR",
        _ => "unknown OpenCL error",
    };
}

/// <summary>
/// Base for the reference-counted OpenCL objects. Zero is the only invalid value: the create
/// functions return NULL on failure, and a failed create leaves an invalid handle whose
/// disposal does nothing.
/// </summary>
internal abstract class OpenClHandle : SafeHandle
{
    protected OpenClHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;
}

// The source-generated marshaller instantiates these for return values, hence the public
// parameterless constructors (implicit) on internal types.

internal sealed class OpenClContextHandle : OpenClHandle
{
    protected override bool ReleaseHandle() => OpenClNative.clReleaseContext(handle) == OpenClNative.CL_SUCCESS;
}

internal sealed class OpenClQueueHandle : OpenClHandle
{
    protected override bool ReleaseHandle() => OpenClNative.clReleaseCommandQueue(handle) == OpenClNative.CL_SUCCESS;
}

internal sealed class OpenClProgramHandle : OpenClHandle
{
    protected override bool ReleaseHandle() => OpenClNative.clReleaseProgram(handle) == OpenClNative.CL_SUCCESS;
}

internal sealed class OpenClKernelHandle : OpenClHandle
{
    protected override bool ReleaseHandle() => OpenClNative.clReleaseKernel(handle) == OpenClNative.CL_SUCCESS;
}

internal sealed class OpenClMemHandle : OpenClHandle
{
    protected override bool ReleaseHandle() => OpenClNative.clReleaseMemObject(handle) == OpenClNative.CL_SUCCESS;
}
