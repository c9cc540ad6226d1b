using Vae.Devices.Cuda;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// Without a GPU these check the "not available" paths and compile-only PTX through clang; on a
/// machine with an NVIDIA GPU they run real kernels through NVRTC (or clang's PTX) and the driver.
/// </summary>
public sealed class CudaTests
{
    private const string SaxpySource = """
        extern "C" __global__ void saxpy(float a, const float* x, float* y, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n)
                y[i] = a * x[i] + y[i];
        }
        """;

    // Exercises the prelude's stand-ins: special registers, math, shared memory, shuffles, atomics.
    private const string PreludeKernels = """
        extern "C" __global__ void activations(const float* __restrict__ x, float* __restrict__ y, float* count, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n)
            {
                float v = x[i];
                y[i] = expf(v) + logf(v + 4.0f) + tanhf(v) + sqrtf(v + 4.0f) + log1pf(fabsf(v)) + fmaxf(v, 0.0f) + erff(v) + sinf(v);
                atomicAdd(count, 1.0f);
            }
        }

        extern "C" __global__ void block_sums(const float* x, float* sums, int n)
        {
            __shared__ float partial[32];
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            float v = i < n ? x[i] : 0.0f;
            for (int offset = warpSize / 2; offset > 0; offset /= 2)
                v += __shfl_down_sync(0xffffffffu, v, offset);
            if (threadIdx.x % warpSize == 0)
                partial[threadIdx.x / warpSize] = v;
            __syncthreads();
            if (threadIdx.x == 0)
            {
                float total = 0.0f;
                for (unsigned int w = 0; w < blockDim.x / warpSize; w++)
                    total += partial[w];
                sums[blockIdx.x] = total;
            }
        }
        """;

    private readonly ITestOutputHelper _output;

    public CudaTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void Create_WithoutGpu_ThrowsDeviceUnavailable()
    {
        if (CudaNative.Driver is null)
            Assert.Equal(0, CudaContext.DeviceCount());

        if (CudaContext.DeviceCount() > 0)
        {
            // With a GPU, only an impossible ordinal is unavailable.
            var wrong = Assert.Throws<DeviceUnavailableException>(() => CudaContext.Create(CudaContext.DeviceCount()));
            Assert.Contains("no CUDA device", wrong.Message, StringComparison.Ordinal);
            return;
        }

        var error = Assert.Throws<DeviceUnavailableException>(() => CudaContext.Create());
        _output.WriteLine(error.Message);
        Assert.StartsWith("CUDA is not available", error.Message, StringComparison.Ordinal);
        if (CudaNative.Driver is null)
        {
            Assert.Contains("libcuda.so.1", error.Message, StringComparison.Ordinal);
            Assert.Contains("install the NVIDIA driver", error.Message, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Throws<DeviceUnavailableException>(() => CudaContext.Create(3));
    }

    [Fact]
    public void MissingNvrtc_IsReportedAsUnavailable()
    {
        if (CudaContext.IsNvrtcAvailable())
        {
            _output.WriteLine("NVRTC is installed; nothing to check.");
            return;
        }

        var error = Assert.Throws<DeviceUnavailableException>(() => NvrtcNative.Require());
        _output.WriteLine(error.Message);
        Assert.Contains("libnvrtc", error.Message, StringComparison.Ordinal);
        Assert.Contains("CUDA toolkit", error.Message, StringComparison.Ordinal);
        Assert.Contains(NvrtcNative.LibraryVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Saxpy_ThroughNvrtcAndTheDriver()
    {
        if (CudaContext.DeviceCount() == 0)
        {
            _output.WriteLine("Skipped: no CUDA device.");
            return;
        }

        using var context = CudaContext.Create();
        _output.WriteLine(context.ToString());
        string ptx;
        if (CudaContext.IsNvrtcAvailable())
        {
            ptx = context.CompileToPtx(SaxpySource);
            var compileError = Assert.Throws<CudaException>(() => context.CompileToPtx("extern \"C\" __global__ void f() { nope; }"));
            Assert.Contains("NVRTC_ERROR_COMPILATION", compileError.Message, StringComparison.Ordinal);
            Assert.Contains("nope", compileError.Log, StringComparison.Ordinal);
        }
        else if (ClangPtx.Available)
        {
            _output.WriteLine("NVRTC is missing; using clang's PTX instead.");
            ptx = ClangPtx.Compile(SaxpySource, ClangArch(context));
        }
        else
        {
            _output.WriteLine("Skipped: neither NVRTC nor clang is available to produce PTX.");
            return;
        }

        using var module = context.LoadPtx(ptx);
        var saxpy = module.GetFunction("saxpy");
        Assert.Throws<CudaException>(() => module.GetFunction("missing"));

        const int n = 1000;
        var x = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        using var xBuffer = context.Allocate<float>(x);
        using var yBuffer = context.Allocate(n);
        context.Fill(yBuffer, 1f);

        context.Launch(saxpy, (n + 255) / 256, 256, new CudaKernelArguments().Add(2f).Add(xBuffer).Add(yBuffer).Add(n));
        LaunchWithRawPointers(context, saxpy, xBuffer, yBuffer, n);
        context.Synchronize();

        var y = new float[n];
        context.Read<float>(yBuffer, y);
        for (int i = 0; i < n; i++)
            Assert.Equal(1f + 4f * i, y[i]);

        var tail = new float[3];
        context.Read<float>(yBuffer, tail, offset: n - 3);
        Assert.Equal(y[^3..], tail);
    }

    [Fact]
    public void Dispose_FreesWhatTheContextStillOwns()
    {
        if (CudaContext.DeviceCount() == 0)
        {
            _output.WriteLine("Skipped: no CUDA device.");
            return;
        }

        var context = CudaContext.Create();
        var buffer = context.Allocate(16);
        var bad = Assert.Throws<CudaException>(() => context.LoadPtx("this is not PTX"));
        _output.WriteLine(bad.Message);
        Assert.StartsWith("CUDA_ERROR_", bad.ErrorName, StringComparison.Ordinal);

        context.Dispose();
        context.Dispose();
        Assert.True(buffer.IsDisposed);
        buffer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buffer.DevicePointer);
        Assert.Throws<ObjectDisposedException>(() => context.Allocate(1));
        Assert.Throws<ObjectDisposedException>(() => context.Synchronize());
    }

    [Fact]
    public void ClangPrelude_RunsOnTheGpu()
    {
        if (CudaContext.DeviceCount() == 0 || !ClangPtx.Available)
        {
            _output.WriteLine("Skipped: needs a CUDA device and clang.");
            return;
        }

        using var context = CudaContext.Create();
        using var module = context.LoadPtx(ClangPtx.Compile(PreludeKernels, ClangArch(context)));

        const int n = 777;
        var x = Enumerable.Range(0, n).Select(i => -3f + 6f * i / n).ToArray();
        using var xBuffer = context.Allocate<float>(x);
        using var yBuffer = context.Allocate(n);
        using var count = context.Allocate(1);
        context.Fill(count, 0f);
        context.Launch(module.GetFunction("activations"), (n + 127) / 128, 128, new CudaKernelArguments().Add(xBuffer).Add(yBuffer).Add(count).Add(n));

        var y = new float[n];
        context.Read<float>(yBuffer, y);
        for (int i = 0; i < n; i++)
        {
            double v = x[i];
            double expected = Math.Exp(v) + Math.Log(v + 4) + Math.Tanh(v) + Math.Sqrt(v + 4) + Math.Log(1 + Math.Abs(v)) + Math.Max(v, 0) + Erf(v) + Math.Sin(v);
            Assert.True(Math.Abs(y[i] - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"x={v}: {y[i]} vs {expected}");
        }

        var counted = new float[1];
        context.Read<float>(count, counted);
        Assert.Equal(n, counted[0]);

        const int blocks = 5, threads = 256;
        var ones = Enumerable.Repeat(1f, blocks * threads - 100).ToArray();
        using var onesBuffer = context.Allocate<float>(ones);
        using var sums = context.Allocate(blocks);
        context.Launch(module.GetFunction("block_sums"), blocks, threads, new CudaKernelArguments().Add(onesBuffer).Add(sums).Add(ones.Length));
        var blockSums = new float[blocks];
        context.Read<float>(sums, blockSums);
        Assert.Equal([256f, 256f, 256f, 256f, 156f], blockSums);
    }

    [Fact]
    public void ClangPtx_CompilesTheMathAndAtomicsPrelude()
    {
        if (!ClangAvailable())
            return;

        var ptx = ClangPtx.Compile(PreludeKernels);
        Assert.Equal(["activations", "block_sums"], ClangPtx.EntryPoints(ptx));
        Assert.Contains(".visible .entry activations(", ptx, StringComparison.Ordinal);
        Assert.Contains(".target sm_80", ptx, StringComparison.Ordinal);
        Assert.Contains("atom.global.add.f32", ptx, StringComparison.Ordinal);
        Assert.Contains("ex2.approx", ptx, StringComparison.Ordinal);
        Assert.Contains("lg2.approx", ptx, StringComparison.Ordinal);
        Assert.Contains("shfl.sync.down", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        Assert.Contains("%tid.x", ptx, StringComparison.Ordinal);
        // Everything must be resolved inside the module: no calls out to a missing libdevice.
        Assert.DoesNotContain(".extern", ptx, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\bcall(\.uni)?\s", ptx);
    }

    [Fact]
    public void ClangPtx_ReportsErrorsAtTheCallersLine()
    {
        if (!ClangAvailable())
            return;

        const string broken = """
            extern "C" __global__ void broken(float* x)
            {
                x[threadIdx.x] = undeclared_thing;
            }
            """;

        var error = Assert.Throws<InvalidOperationException>(() => ClangPtx.Compile(broken));
        _output.WriteLine(error.Message);
        Assert.Contains("kernel.cu:3:", error.Message, StringComparison.Ordinal);
        Assert.Contains("undeclared_thing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EntryPoints_ParsesVisibleEntries()
    {
        const string ptx = """
            .version 7.0
            .target sm_80
            .address_size 64

            	// .globl	first
            .visible .entry first(
            	.param .u64 first_param_0
            )
            {
            	ret;
            }
            .func helper()
            .visible .entry _Z6secondPf(
            )
            """;
        Assert.Equal(["first", "_Z6secondPf"], ClangPtx.EntryPoints(ptx));
        Assert.Empty(ClangPtx.EntryPoints(".func nothing()"));
    }

    [Fact]
    public void CudaException_NamesTheCallAndCarriesTheLog()
    {
        var error = new CudaException("cuModuleLoadDataEx", 218, "CUDA_ERROR_INVALID_PTX", "on test", "ptxas fatal: bad");
        Assert.StartsWith("cuModuleLoadDataEx failed with CUDA_ERROR_INVALID_PTX (218): on test", error.Message, StringComparison.Ordinal);
        Assert.Contains("ptxas fatal: bad", error.Message, StringComparison.Ordinal);
        Assert.Equal(218, error.ErrorCode);
        Assert.Equal("ptxas fatal: bad", error.Log);
    }

    [Fact]
    public void KernelArguments_PackEachValueInItsOwnSlot()
    {
        var arguments = new CudaKernelArguments().Add(7).Add(2.5f).Add(123456789012L).Add((byte)9);
        Assert.Equal(4, arguments.Count);
        var slots = arguments.Offsets;
        Assert.Equal([0, 16, 32, 48], slots);
        Assert.Equal(7, BitConverter.ToInt32(arguments.Values, slots[0]));
        Assert.Equal(2.5f, BitConverter.ToSingle(arguments.Values, slots[1]));
        Assert.Equal(123456789012L, BitConverter.ToInt64(arguments.Values, slots[2]));
        Assert.Equal(9, arguments.Values[slots[3]]);

        var many = new CudaKernelArguments();
        for (int i = 0; i < 40; i++)
            many.Add((long)i);
        Assert.Equal(39L, BitConverter.ToInt64(many.Values, many.Offsets[39]));
    }

    private static unsafe void LaunchWithRawPointers(CudaContext context, CudaFunction saxpy, CudaBuffer x, CudaBuffer y, int n)
    {
        float a = 2f;
        ulong xPointer = x.DevicePointer, yPointer = y.DevicePointer;
        ReadOnlySpan<nint> arguments = [(nint)(&a), (nint)(&xPointer), (nint)(&yPointer), (nint)(&n)];
        context.Launch(saxpy, new CudaDim3((uint)((n + 127) / 128)), new CudaDim3(128), 0, arguments);
    }

    private static string ClangArch(CudaContext context)
    {
        // clang 14 targets up to sm_86; newer GPUs JIT the older PTX forward.
        int capability = Math.Min(context.ComputeCapability.Major * 10 + context.ComputeCapability.Minor, 86);
        return "sm_" + capability;
    }

    private bool ClangAvailable()
    {
        if (ClangPtx.Available)
            return true;
        Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_CLANG") == "1", $"VAE_REQUIRE_CLANG=1 but {ClangPtx.Compiler} cannot produce PTX.");
        _output.WriteLine($"Skipped: {ClangPtx.Compiler} is not available to produce PTX.");
        return false;
    }

    // Abramowitz & Stegun 7.1.26 in double precision is far more accurate than the tolerance used.
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        return Math.Sign(x) * (1 - poly * Math.Exp(-x * x));
    }
}
