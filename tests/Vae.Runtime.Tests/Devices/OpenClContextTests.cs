using Vae.Devices.OpenCl;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// Runs against whatever OpenCL driver is installed (PoCL's CPU device in CI). Without one, each
/// test writes why to the test output and returns, unless VAE_REQUIRE_OPENCL=1 demands a driver.
/// </summary>
public sealed class OpenClContextTests
{
    private const string VectorAddSource = """
        __kernel void add(__global const float* a, __global const float* b, __global float* c, int n)
        {
            int i = get_global_id(0);
            if (i < n)
                c[i] = a[i] + b[i];
        }

        __kernel void saxpy(float alpha, __global const float* x, __global float* y)
        {
            int i = get_global_id(0);
            y[i] = alpha * x[i] + y[i];
        }
        """;

    // Each work-group folds its slice in local memory and writes one partial sum.
    private const string ReductionSource = """
        __kernel void partial_sums(__global const float* input, __global float* partial, __local float* scratch, int n)
        {
            int gid = get_global_id(0);
            int lid = get_local_id(0);
            int size = get_local_size(0);
            scratch[lid] = gid < n ? input[gid] : 0.0f;
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int stride = size / 2; stride > 0; stride /= 2)
            {
                if (lid < stride)
                    scratch[lid] += scratch[lid + stride];
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            if (lid == 0)
                partial[get_group_id(0)] = scratch[0];
        }
        """;

    private const string TransposeSource = """
        __kernel void transpose(__global const float* input, __global float* output, int rows, int cols)
        {
            int c = get_global_id(0);
            int r = get_global_id(1);
            output[c * rows + r] = input[r * cols + c];
        }
        """;

    private readonly ITestOutputHelper _output;

    public OpenClContextTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void ListDevices_FindsTheCpuDeviceOfPocl()
    {
        if (!OpenClPresent())
            return;

        var devices = OpenClContext.ListDevices();
        foreach (var device in devices)
            _output.WriteLine(device.ToString());

        Assert.NotEmpty(devices);
        Assert.All(devices, d =>
        {
            Assert.False(string.IsNullOrWhiteSpace(d.DeviceName));
            Assert.True(d.ComputeUnits > 0);
            Assert.True(d.GlobalMemoryBytes > 0);
            Assert.True(d.MaxWorkGroupSize > 0);
        });

        var pocl = devices.Where(d => d.PlatformName.Contains("Portable Computing Language", StringComparison.Ordinal)).ToList();
        if (pocl.Count == 0)
        {
            Assert.False(RequireOpenCl, "VAE_REQUIRE_OPENCL=1 but PoCL (pocl-opencl-icd) is not among the OpenCL platforms.");
            _output.WriteLine("PoCL is not installed; checked the other platforms only.");
            return;
        }

        Assert.Contains(pocl, d => d.Type == OpenClDeviceType.Cpu);
    }

    [Fact]
    public void VectorAdd_IsExact()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        const int n = 1000; // Deliberately not a multiple of any work-group size.
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => (float)(3 * i - 7)).ToArray();

        using var program = context.Build(VectorAddSource);
        using var kernel = program.CreateKernel("add");
        using var bufferA = context.Allocate<float>(a);
        using var bufferB = context.Allocate<float>(b);
        using var bufferC = context.Allocate(n);

        kernel.SetArg(0, bufferA);
        kernel.SetArg(1, bufferB);
        kernel.SetArg(2, bufferC);
        kernel.SetArg(3, n);
        context.Launch(kernel, [1024], [64]);

        var c = new float[n];
        context.Read<float>(bufferC, c);
        for (int i = 0; i < n; i++)
            Assert.Equal(a[i] + b[i], c[i]);
    }

    [Fact]
    public void Saxpy_WithScalarArgumentsAndDriverChosenWorkGroup()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        const int n = 257;
        var x = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        using var program = context.Build(VectorAddSource);
        using var kernel = program.CreateKernel("saxpy");
        using var bufferX = context.Allocate<float>(x);
        using var bufferY = context.Allocate(n);
        context.Fill(bufferY, 1);

        kernel.SetArg(0, 2.0f);
        kernel.SetArg(1, bufferX);
        kernel.SetArg(2, bufferY);
        context.Launch(kernel, n);
        context.Launch(kernel, [n], null); // Same launch again: arguments persist.
        context.Finish();

        var y = new float[n];
        context.Read<float>(bufferY, y);
        for (int i = 0; i < n; i++)
            Assert.Equal(1f + 4f * i, y[i]);
    }

    [Fact]
    public void Reduction_WithLocalMemory_IsExact()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        const int n = 10_000;
        const int group = 64;
        int groups = (n + group - 1) / group;
        // Small integers: every partial and the total are exactly representable.
        var input = Enumerable.Range(0, n).Select(i => (float)(i % 17 - 8)).ToArray();

        using var program = context.Build(ReductionSource);
        using var kernel = program.CreateKernel("partial_sums");
        using var inputBuffer = context.Allocate<float>(input);
        using var partialBuffer = context.Allocate(groups);
        kernel.SetArg(0, inputBuffer);
        kernel.SetArg(1, partialBuffer);
        kernel.SetLocalMemory(2, group * sizeof(float));
        kernel.SetArg(3, n);
        context.Launch(kernel, (long)groups * group, group);

        var partial = new float[groups];
        context.Read<float>(partialBuffer, partial);
        for (int g = 0; g < groups; g++)
        {
            float expected = 0;
            for (int i = g * group; i < Math.Min(n, (g + 1) * group); i++)
                expected += input[i];
            Assert.Equal(expected, partial[g]);
        }

        Assert.Equal(input.Sum(), partial.Sum());
    }

    [Fact]
    public void TwoDimensionalLaunch_Transposes()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        const int rows = 3, cols = 5;
        var input = Enumerable.Range(0, rows * cols).Select(i => (float)i).ToArray();
        using var program = context.Build(TransposeSource);
        using var kernel = program.CreateKernel("transpose");
        using var inputBuffer = context.Allocate<float>(input);
        using var outputBuffer = context.Allocate(rows * cols);
        kernel.SetArg(0, inputBuffer);
        kernel.SetArg(1, outputBuffer);
        kernel.SetArg(2, rows);
        kernel.SetArg(3, cols);
        context.Launch(kernel, [cols, rows]);

        var output = new float[rows * cols];
        context.Read<float>(outputBuffer, output);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
                Assert.Equal(input[r * cols + c], output[c * rows + r]);
        }
    }

    [Fact]
    public void SyntaxError_ThrowsWithTheBuildLog()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        const string broken = """
            __kernel void broken(__global float* x)
            {
                x[get_global_id(0)] = undeclared_thing * 2.0f;
            }
            """;

        var error = Assert.Throws<OpenClException>(() => context.Build(broken));
        _output.WriteLine(error.Message);

        Assert.Equal(-11, error.ErrorCode);
        Assert.Equal("CL_BUILD_PROGRAM_FAILURE", error.ErrorName);
        Assert.Contains("clBuildProgram failed with CL_BUILD_PROGRAM_FAILURE (-11)", error.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(error.BuildLog));
        Assert.Contains(error.BuildLog!, error.Message, StringComparison.Ordinal);
        // The compiler names the offending identifier and points at line 3 of the source.
        Assert.Contains("undeclared_thing", error.BuildLog, StringComparison.Ordinal);
        Assert.Contains(":3:", error.BuildLog, StringComparison.Ordinal);
        // ... and the message quotes that line of the source, whatever the driver's log style.
        Assert.Contains("    3 |     x[get_global_id(0)] = undeclared_thing * 2.0f;", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownKernelName_ThrowsInvalidKernelName()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        using var program = context.Build(VectorAddSource);
        var error = Assert.Throws<OpenClException>(() => program.CreateKernel("nope"));
        Assert.Equal("CL_INVALID_KERNEL_NAME", error.ErrorName);
        Assert.Contains("'nope'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Buffers_ReadWriteFillCopy_WithOffsets()
    {
        using var context = OpenOrSkip();
        if (context is null)
            return;

        using var buffer = context.Allocate(10);
        Assert.Equal(10, buffer.Length);
        Assert.Equal(40, buffer.ByteLength);

        context.Fill(buffer, -1f);
        context.Write<float>(buffer, [1f, 2f, 3f], offset: 4);
        var all = new float[10];
        context.Read<float>(buffer, all);
        Assert.Equal([-1f, -1f, -1f, -1f, 1f, 2f, 3f, -1f, -1f, -1f], all);

        var middle = new float[2];
        context.Read<float>(buffer, middle, offset: 5);
        Assert.Equal([2f, 3f], middle);

        context.Fill(buffer, 9f, offset: 0, count: 2);
        using var copy = context.Allocate(10);
        context.Fill(copy, 0f);
        context.Copy(buffer, copy, count: 5, sourceOffset: 0, destinationOffset: 5);
        context.Read<float>(copy, all);
        Assert.Equal([0f, 0f, 0f, 0f, 0f, 9f, 9f, -1f, -1f, 1f], all);

        // Other element types, and integer fills that are not floats in disguise.
        using var ints = context.Allocate<int>(4);
        context.Fill(ints, 7, offset: 0, count: 4);
        var intsBack = new int[4];
        context.Read<int>(ints, intsBack);
        Assert.Equal([7, 7, 7, 7], intsBack);

        // Out-of-range and empty accesses.
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Write<float>(buffer, new float[3], offset: 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Read<float>(buffer, new float[11]));
        Assert.Throws<ArgumentOutOfRangeException>(() => context.Read<float>(buffer, new float[1], offset: -1));
        using var doubles = context.Allocate<double>(4);
        Assert.Throws<ArgumentException>(() => context.Copy(buffer, doubles, 1));
        context.Write<float>(buffer, ReadOnlySpan<float>.Empty, offset: 10);

        using var empty = context.Allocate(0);
        Assert.Equal(0, empty.Length);
        context.Fill(empty, 1f);
        context.Read<float>(empty, Span<float>.Empty);
    }

    [Fact]
    public void Dispose_TwiceIsHarmless_AndUseAfterDisposeThrows()
    {
        var context = OpenOrSkip();
        if (context is null)
            return;

        var program = context.Build(VectorAddSource);
        var kernel = program.CreateKernel("saxpy");
        var x = context.Allocate(4);
        var y = context.Allocate(4);
        kernel.SetArg(0, 1f);
        kernel.SetArg(1, x);
        kernel.SetArg(2, y);

        // A launch must not reach the driver with a released buffer bound as an argument.
        x.Dispose();
        x.Dispose();
        Assert.True(x.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => context.Launch(kernel, 4));
        Assert.Throws<ObjectDisposedException>(() => context.Fill(x, 0f));

        // The program may go first: the kernel keeps what it needs.
        program.Dispose();
        program.Dispose();
        using (var x2 = context.Allocate(4))
        {
            context.Fill(x2, 1f);
            context.Fill(y, 1f);
            kernel.SetArg(1, x2);
            context.Launch(kernel, 4);
            var result = new float[4];
            context.Read<float>(y, result);
            Assert.Equal([2f, 2f, 2f, 2f], result);
        }

        kernel.Dispose();
        kernel.Dispose();
        context.Dispose();
        context.Dispose();
        Assert.Throws<ObjectDisposedException>(() => context.Allocate(1));
        Assert.Throws<ObjectDisposedException>(() => context.Finish());
        y.Dispose();
        y.Dispose();
    }

    [Fact]
    public void Create_WithUnknownName_ListsTheDevices()
    {
        if (!OpenClPresent())
            return;

        var error = Assert.Throws<DeviceUnavailableException>(() => OpenClContext.Create("no-such-device"));
        _output.WriteLine(error.Message);
        Assert.Contains("no-such-device", error.Message, StringComparison.Ordinal);
        foreach (var device in OpenClContext.ListDevices())
            Assert.Contains(device.DeviceName, error.Message, StringComparison.Ordinal);

        Assert.Throws<DeviceUnavailableException>(() => OpenClContext.Create(platformIndex: 99));
    }

    [Fact]
    public void Create_ByName_FindsTheDevice()
    {
        if (!OpenClPresent())
            return;

        var first = OpenClContext.ListDevices()[0];
        using var context = OpenClContext.Create(first.DeviceName.ToUpperInvariant());
        Assert.Equal(first, context.Device);
    }

    private static bool RequireOpenCl => Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1";

    private bool OpenClPresent()
    {
        try
        {
            if (OpenClContext.ListDevices().Count > 0)
                return true;
            return Unavailable("OpenCL is installed but reports no devices.");
        }
        catch (DeviceUnavailableException e)
        {
            return Unavailable(e.Message);
        }
    }

    private OpenClContext? OpenOrSkip() => OpenClPresent() ? OpenClContext.Create() : null;

    private bool Unavailable(string reason)
    {
        Assert.False(RequireOpenCl, "VAE_REQUIRE_OPENCL=1 but OpenCL cannot be used: " + reason);
        _output.WriteLine("Skipped: " + reason);
        return false;
    }
}
