using System.Reflection;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// No GPU is available here: every generated CUDA file is compiled to PTX with clang-14 (NVRTC's built-ins supplied
/// by a prelude) and must contain every kernel the launch sequence uses; and Device.Cuda() must fail clearly.
/// </summary>
public sealed class CudaSourceTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Models() =>
        new[] { typeof(DefaultVae), typeof(TinyVae), typeof(DeepVae), typeof(LearnedVarianceVae), typeof(LinearVae), typeof(MixedVae), typeof(WideVae) }
            .Select(t => new object[] { t.Name });

    private static string Source(string model, string field) =>
        (string)typeof(DefaultVae).Assembly.GetType("Vae.Runtime.Tests.Models." + model)!
            .GetField(field, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_generated_cuda_file_compiles_to_ptx_with_every_kernel(string model)
    {
        if (!ClangPtx.Available)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_CLANG") == "1", "VAE_REQUIRE_CLANG=1 but clang-14 is missing");
            output.WriteLine("Skipped: clang-14 is not installed.");
            return;
        }
        var cuda = Source(model, "CudaSource");
        var ptx = ClangPtx.Compile(cuda);
        var entries = ClangPtx.EntryPoints(ptx).ToHashSet();
        var expected = KernelNames(Source(model, "OpenClSource"));
        Assert.NotEmpty(expected);
        Assert.Contains("adam", expected);
        Assert.Contains("draw_noise", expected);
        foreach (var name in expected) Assert.Contains(name, entries);
        output.WriteLine($"{model}: {entries.Count} entry points, {ptx.Length} characters of PTX");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_cuda_and_opencl_files_differ_only_in_their_prelude(string model)
    {
        static string Body(string source) => source[source.IndexOf("#define INPUT", StringComparison.Ordinal)..];
        Assert.Equal(Body(Source(model, "OpenClSource")), Body(Source(model, "CudaSource")));
    }

    [Fact]
    public void Without_a_driver_cuda_fails_with_a_message_naming_what_to_install()
    {
        if (Vae.Devices.Cuda.CudaContext.DeviceCount() > 0) return; // a machine with a GPU runs the real thing elsewhere
        var e = Assert.Throws<DeviceUnavailableException>(() => Device.Cuda());
        Assert.Contains("libcuda.so.1", e.Message);
    }

    [Fact]
    public void Best_falls_back_to_a_working_device()
    {
        using var device = Device.Best(2);
        Assert.Contains(device.Kind, new[] { "cpu", "opencl", "cuda" });
        using var model = new TinyVae(device, 1);
        Assert.True(double.IsFinite(model.Elbo(new float[] { 0.5f, 0.25f })));
    }

    /// <summary>The kernel names declared in a source: every "VAE_KERNEL void name(".</summary>
    private static HashSet<string> KernelNames(string source) =>
        System.Text.RegularExpressions.Regex.Matches(source, @"VAE_KERNEL void (\w+)\(").Select(m => m.Groups[1].Value).ToHashSet();
}
