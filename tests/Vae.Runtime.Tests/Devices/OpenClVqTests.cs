using Vae.Devices.OpenCl;
using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// The generated VQ-VAE kernels run for real on OpenCL (PoCL's CPU device, which has cl_khr_fp64): the codes exactly,
/// the loss and gradients against the double oracle, and training steps (first-batch initialisation, EMA, the codebook
/// gradient, idle counters, dead-code restarts) against the CPU target. Without a driver each test says so and returns,
/// unless VAE_REQUIRE_OPENCL=1.
/// </summary>
public sealed class OpenClVqTests(ITestOutputHelper output)
{
    private Device? OpenOrSkip()
    {
        try
        {
            return Device.OpenCl();
        }
        catch (DeviceUnavailableException e)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + e.Message);
            output.WriteLine("Skipped: " + e.Message);
            return null;
        }
    }

    [Theory]
    [MemberData(nameof(VqModelTests.Cases), MemberType = typeof(VqModelTests))]
    public void Loss_gradients_and_codes_match_the_oracle(string name, int batch)
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        VqModelTests.AssertMatchesOracle(device, name, batch);
    }

    /// <summary>Codes that the float shortlist cannot separate: two codes at the same distance (ties go to the lowest index) and codes one ulp apart far from the origin.</summary>
    [Fact]
    public void Ties_and_near_ties_choose_the_cpus_codes()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var cpu = Device.Cpu(2);
        using var a = new TinyVq(device, 1);
        using var b = new TinyVq(cpu, 1);
        // TinyVq: D = 1, K = 2, z_e = a dense layer's three outputs per example. Equal codes tie (code 0 wins); codes 1000
        // and 1000 + 2 ulp are far from every z_e and closer to each other than the float distances can tell apart.
        var x = VqModelTests.Inputs(a.Architecture, 40, 5);
        foreach (var (e0, e1) in new[] { (0.25f, 0.25f), (1000f, MathF.BitIncrement(MathF.BitIncrement(1000f))), (-3f, 3f) })
        {
            foreach (var m in new[] { a, b })
            {
                m.SetTensor("quantizer.codebook", [e0, e1]);
                m.SetTensor("quantizer.initialized", [1f]);
            }
            var codes = a.EncodeCodes(x);
            Assert.Equal(b.EncodeCodes(x), codes);
            if (e0 == e1) Assert.All(codes, c => Assert.Equal(0, c));
        }
    }

    /// <summary>
    /// Training steps on both targets from the same seed: the first initialises the codebook from the batch, the later ones
    /// run the EMA step or the codebook gradient and the idle counters, then a step in which every code is due for a
    /// restart except those the batch chooses. State, parameters and codes agree.
    /// </summary>
    [Theory]
    [InlineData(nameof(DenseVq))]
    [InlineData(nameof(ConvVq))]
    [InlineData(nameof(WideVq))]
    [InlineData(nameof(ColourVq))]
    public void Training_steps_with_ema_and_restarts_match_the_cpu(string name)
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var cpu = Device.Cpu(2);
        using var a = VqModelTests.Create(name, device, seed: 6);
        using var b = VqModelTests.Create(name, cpu, seed: 6);
        var d = a.Architecture;
        var q = d.Quantizer!;
        var batches = Enumerable.Range(0, 4).Select(i => VqModelTests.Inputs(d, 7, 40 + i)).ToArray();
        var adamA = new Adam(1e-3f);
        var adamB = new Adam(1e-3f);
        for (int i = 0; i < 3; i++)
        {
            double la = a.TrainStep(batches[i], adamA), lb = b.TrainStep(batches[i], adamB);
            Assert.True(Math.Abs(la - lb) <= 1e-4 * Math.Max(1, Math.Abs(lb)), $"step {i}: loss {la} vs the CPU's {lb}");
            AssertSame(a, b, $"after step {i}");
        }
        Assert.Equal(1f, a.GetTensor("quantizer.initialized")[0]);

        // Every code is due for a restart unless this batch chooses it (RestartAfter 0 would turn restarts off: none here).
        int after = Math.Max(1, q.RestartAfter);
        var idle = Enumerable.Repeat((float)after, q.Codes).ToArray();
        a.SetTensor("quantizer.idle", idle);
        b.SetTensor("quantizer.idle", idle);
        var before = b.GetTensor("quantizer.codebook");
        a.TrainStep(batches[3], adamA);
        b.TrainStep(batches[3], adamB);
        AssertSame(a, b, "after the restart step");
        if (q.RestartAfter > 0)
        {
            var codebook = b.GetTensor("quantizer.codebook");
            Assert.All(b.GetTensor("quantizer.idle"), v => Assert.Equal(0f, v));
            int moved = Enumerable.Range(0, q.Codes).Count(k => !codebook.AsSpan(k * q.Dimension, q.Dimension).SequenceEqual(before.AsSpan(k * q.Dimension, q.Dimension)));
            Assert.True(moved > 0, "no code moved");
            output.WriteLine($"{name}: {moved} of {q.Codes} codes moved in the restart step");
        }
    }

    private static void AssertSame(VaeModel device, VaeModel cpu, string when)
    {
        var d = cpu.Architecture;
        foreach (var t in d.Tensors.Where(t => t.Role == TensorRole.State || t.Name == "quantizer.codebook"))
        {
            var expected = cpu.GetTensor(t.Name);
            var actual = device.GetTensor(t.Name);
            double scale = Math.Max(1, expected.Max(v => Math.Abs(v)));
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"{d.Name} {when}: {t.Name}[{i}] = {actual[i]}, CPU {expected[i]}");
        }
        var p = cpu.GetParameters();
        var pd = device.GetParameters();
        for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(p[i] - pd[i]) <= 1e-4 * Math.Max(1, Math.Abs(p[i])), $"{d.Name} {when}: parameter {i} = {pd[i]}, CPU {p[i]}");
        var x = VqModelTests.Inputs(d, 9, 99);
        Assert.Equal(cpu.EncodeCodes(x), device.EncodeCodes(x));
        var fromCodes = new float[x.Length];
        var fromCodesCpu = new float[x.Length];
        var codes = cpu.EncodeCodes(x);
        device.DecodeCodes(codes, fromCodes);
        cpu.DecodeCodes(codes, fromCodesCpu);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(fromCodes[i] - fromCodesCpu[i]) <= 1e-4 * Math.Max(1, Math.Abs(fromCodesCpu[i])), $"{d.Name} {when}: decoded[{i}]");
    }

    /// <summary>A device without doubles refuses a VQ-VAE by name before compiling (and still takes a Gaussian model).</summary>
    [Fact]
    public void A_device_without_doubles_refuses_a_vq_vae_with_the_reason()
    {
        using var cpu = Device.Cpu(1);
        using var vq = new TinyVq(cpu);
        using var gaussian = new ConvOddVae(cpu);
        var noDoubles = new OpenClDeviceInfo(0, "Some Platform", 0, "Some GPU", OpenClDeviceType.Gpu, 8, 1L << 30, 1L << 28, 256, DoublePrecision: false);
        string? reason = OpenClDevice.RefusalFor(vq.Architecture, noDoubles);
        Assert.NotNull(reason);
        Assert.Contains("'TinyVq' is a VQ-VAE", reason);
        Assert.Contains("'Some GPU' (Some Platform) has no doubles", reason);
        Assert.Contains("cl_khr_fp64", reason);
        Assert.Null(OpenClDevice.RefusalFor(vq.Architecture, noDoubles with { DoublePrecision = true }));
        Assert.Null(OpenClDevice.RefusalFor(gaussian.Architecture, noDoubles));

        // PoCL has doubles, and says so in the listing.
        using var device = OpenOrSkip();
        if (device is null) return;
        var info = ((OpenClDevice)device).Context.Device;
        Assert.True(info.DoublePrecision, info.ToString());
        Assert.EndsWith(", doubles)", info.ToString());
    }
}
