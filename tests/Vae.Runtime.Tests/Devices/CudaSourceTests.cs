using System.Reflection;
using Vae.Devices;
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
        new[] { typeof(DefaultVae), typeof(TinyVae), typeof(DeepVae), typeof(LearnedVarianceVae), typeof(LinearVae), typeof(MixedVae), typeof(WideVae), typeof(SiluVae), typeof(IwaeVae), typeof(DregVae), typeof(FreeBitsVae), typeof(ConditionalVae), typeof(ConditionalLinearVae), typeof(ConvVae), typeof(ConvOnlyVae), typeof(ConvStride3Vae), typeof(ConvKernelsVae), typeof(ConvIwaeVae), typeof(ConvOddVae), typeof(ConvDeepVae), typeof(ConvWideVae), typeof(ConvLearnedVarianceVae), typeof(ConvBatchNormVae), typeof(ConvBatchNormRgbVae), typeof(ConvBatchNormDecoderVae), typeof(DenseVq), typeof(ConvVq), typeof(TinyVq), typeof(WideVq), typeof(PeerVqVae), typeof(ColourVq), typeof(ConvConditionalVae), typeof(ConvConditionalHeadsVae), typeof(ConvConditionalDecoderVae), typeof(ConvConditionalBatchNormVae), typeof(ConvConditionalPlanesVae) }
            .Select(t => new object[] { t.Name });

    private static string DeviceSource(string model) =>
        (string)typeof(DefaultVae).Assembly.GetType("Vae.Runtime.Tests.Models." + model)!
            .GetField("DeviceSource", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

    private bool SkipWithoutClang()
    {
        if (ClangPtx.Available) return false;
        Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_CLANG") == "1", "VAE_REQUIRE_CLANG=1 but clang-14 is missing");
        output.WriteLine("Skipped: clang-14 is not installed.");
        return true;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_generated_cuda_program_compiles_to_ptx_with_every_kernel(string model)
    {
        if (SkipWithoutClang()) return;
        var source = DeviceSources.Cuda(DeviceSource(model));
        var ptx = ClangPtx.Compile(source);
        var entries = ClangPtx.EntryPoints(ptx).ToHashSet();
        var expected = KernelNames(source);
        Assert.Contains("vae_adam", expected);
        Assert.Contains("vae_draw_noise", expected);
        Assert.Contains("likelihood", expected);
        foreach (var name in expected) Assert.Contains(name, entries);
        output.WriteLine($"{model}: {entries.Count} entry points, {ptx.Length} characters of PTX");
    }

    /// <summary>
    /// CUDA compiles the work-group variant of the dense GEMMs (the CUDA prelude selects it): their PTX stages operands
    /// in shared memory behind barriers, which the register tiles never do.
    /// </summary>
    [Fact]
    public void The_cuda_dense_gemms_are_the_work_group_variant()
    {
        if (SkipWithoutClang()) return;
        var ptx = ClangPtx.Compile(DeviceSources.Cuda(DeviceSource(nameof(DefaultVae))));
        foreach (var kernel in new[] { "encoder_0_forward", "decoder_out_weight_grad", "decoder_out_input_grad" })
        {
            int start = ptx.IndexOf(".entry " + kernel + "(", StringComparison.Ordinal);
            Assert.True(start >= 0, kernel + " is missing from the PTX");
            int end = ptx.IndexOf(".entry ", start + 7, StringComparison.Ordinal);
            string body = end < 0 ? ptx[start..] : ptx[start..end];
            Assert.Contains("bar.sync", body);
            Assert.Contains("st.shared", body);
        }
    }

    /// <summary>The device library (Philox, noise, optimisers, stable math) is a real file that compiles on its own.</summary>
    [Fact]
    public void The_device_library_compiles_alone_for_cuda()
    {
        if (SkipWithoutClang()) return;
        var entries = ClangPtx.EntryPoints(ClangPtx.Compile(DeviceSources.Cuda(""))).ToHashSet();
        Assert.Equal(new HashSet<string> { "vae_draw_noise", "vae_adam", "vae_sgd", "vae_scale" }, entries);
    }

    /// <summary>A model's kernels appear once, in the one dialect-neutral source; each dialect only adds its prelude in front.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Both_dialects_compile_the_same_model_source_after_their_prelude(string model)
    {
        var source = DeviceSource(model);
        Assert.EndsWith(source, DeviceSources.OpenCl(source), StringComparison.Ordinal);
        Assert.EndsWith(source, DeviceSources.Cuda(source), StringComparison.Ordinal);
        Assert.Contains(DeviceSources.Library, DeviceSources.OpenCl(source), StringComparison.Ordinal);
        Assert.DoesNotContain("__kernel", source, StringComparison.Ordinal);
        Assert.DoesNotContain("__global__", source, StringComparison.Ordinal);
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
