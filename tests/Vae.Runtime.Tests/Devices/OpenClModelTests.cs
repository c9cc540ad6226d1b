using Vae.Devices;
using Vae.Noise;
using Vae.Reference;
using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// The generated OpenCL kernels, run for real (PoCL's CPU device in CI), against the oracle and against the CPU
/// target. Without an OpenCL driver each test says so and returns, unless VAE_REQUIRE_OPENCL=1.
/// </summary>
public sealed class OpenClModelTests(ITestOutputHelper output)
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
    [MemberData(nameof(CpuParityTests.Cases), MemberType = typeof(CpuParityTests))]
    public void Loss_and_every_gradient_tensor_match_the_oracle(string name, int batch)
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        AssertMatchesOracle(device, name, batch);
    }

    /// <summary>The loss and every gradient tensor of architecture <paramref name="name"/> on <paramref name="device"/> against the oracle.</summary>
    internal static void AssertMatchesOracle(Device device, string name, int batch)
    {
        using var model = CpuParityTests.Create(name, device);
        var d = model.Architecture;
        var p = TestData.Parameters(d, 5);
        model.SetParameters(p);
        var x = TestData.Inputs(d, batch, 6);
        var eps = TestData.Noise(d, batch, 7);
        var labels = TestData.Labels(d, batch, 8);
        var gradients = new float[d.ParameterCount];
        double loss = model.ComputeGradients(x, labels, eps, gradients);

        var expected = new double[d.ParameterCount];
        double expectedLoss = new ReferenceVae(d).Loss(p.Select(v => (double)v).ToArray(), x, eps, batch, d.Beta, expected,
            freeBits: model.FreeBits, labels: labels);
        CpuParityTests.AssertClose(expectedLoss, loss, 1e-4, "loss");
        foreach (var t in d.Tensors) CpuParityTests.AssertTensorClose(expected.AsSpan(t.Offset, t.Length), gradients.AsSpan(t.Offset, t.Length), t.Name);
    }

    [Theory]
    [InlineData(nameof(DeepVae))]
    [InlineData(nameof(LearnedVarianceVae))]
    public void Encode_decode_and_the_likelihood_agree_with_the_cpu_target(string name)
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var cpu = Device.Cpu(2);
        using var a = CpuParityTests.Create(name, device);
        using var b = CpuParityTests.Create(name, cpu);
        var d = a.Architecture;
        var x = TestData.Inputs(d, 20, 3);
        var muA = new float[20 * d.Latent]; var lvA = new float[20 * d.Latent];
        var muB = new float[20 * d.Latent]; var lvB = new float[20 * d.Latent];
        a.Encode(x, muA, lvA);
        b.Encode(x, muB, lvB);
        AssertAll(muB, muA, "mu");
        AssertAll(lvB, lvA, "logvar");
        var meanA = new float[20 * d.Input]; var meanB = new float[20 * d.Input];
        a.Decode(muB, meanA);
        b.Decode(muB, meanB);
        AssertAll(meanB, meanA, "mean");
        Assert.Equal(b.Elbo(x, seed: 4), a.Elbo(x, seed: 4), 3);
        double nllA = a.NegativeLogLikelihood(x, 30, seed: 5), nllB = b.NegativeLogLikelihood(x, 30, seed: 5);
        Assert.True(Math.Abs(nllA - nllB) < 1e-3 * Math.Abs(nllB), $"importance-sampled NLL {nllA} vs {nllB}");
    }

    [Fact]
    public void Device_noise_matches_the_host_philox()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var model = new DeepVae(device, 1);
        var backend = (AcceleratorBackend<Vae.Devices.OpenCl.OpenClBuffer>)model.Backend;
        var onDevice = backend.DrawNoise(seed: 0x1234_5678_9ABCul, step: 77, examples: 33);
        var onHost = new float[onDevice.Length];
        Philox.FillNormal(0x1234_5678_9ABCul, 77, 0, 33, model.Architecture.LatentSamples, model.Architecture.Latent, onHost);
        // Same Philox bits and the same float Box-Muller; only the device's log/sin/cos may differ by a few ulp.
        for (int i = 0; i < onHost.Length; i++)
            Assert.True(Math.Abs(onHost[i] - onDevice[i]) <= 1e-5f * (1 + Math.Abs(onHost[i])), $"eps[{i}]: host {onHost[i]}, device {onDevice[i]}");
    }

    [Fact]
    public void Device_noise_is_keyed_by_the_global_example_index()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var model = new DeepVae(device, 1);
        var backend = (AcceleratorBackend<Vae.Devices.OpenCl.OpenClBuffer>)model.Backend;
        var whole = backend.DrawNoise(seed: 99, step: 5, examples: 12);
        var tail = backend.DrawNoise(seed: 99, step: 5, examples: 7, firstExample: 5);
        int per = model.Architecture.LatentSamples * model.Architecture.Latent;
        Assert.Equal(whole.AsSpan(5 * per).ToArray(), tail);
    }

    [Fact]
    public void Split_batches_with_their_global_offsets_give_the_whole_batch_gradient()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        GlobalExampleIndex.AssertSplitMatchesWhole(device, output);
    }

    [Fact]
    public void Free_bits_hold_some_dimensions_at_the_floor_as_the_oracle_does()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        FreeBitsCheck.AssertMatchesOracle(device);
    }

    [Fact]
    public void The_device_library_compiles_alone_for_opencl()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var program = ((Vae.Devices.OpenCl.OpenClDevice)device).Context.Build(DeviceSources.OpenCl(""), "-cl-std=CL1.2");
        foreach (var kernel in new[] { "vae_draw_noise", "vae_adam", "vae_sgd", "vae_scale" })
            using (program.CreateKernel(kernel)) { }
    }

    [Fact]
    public void Hundreds_of_training_steps_agree_with_the_cpu_target()
    {
        using var device = OpenOrSkip();
        if (device is null) return;
        using var cpu = Device.Cpu(2);
        using var a = new WideVae(device, 11);
        using var b = new WideVae(cpu, 11);
        var data = TestData.Inputs(a.Architecture, 2048, 8);
        var optimizerA = new Adam(1e-3f);
        var optimizerB = new Adam(1e-3f);
        double worst = 0;
        const int steps = 300;
        for (int step = 0; step < steps; step++)
        {
            var batch = data.AsSpan(step * 32 % 2048 * 129, 32 * 129);
            double la = a.TrainStep(batch, optimizerA);
            double lb = b.TrainStep(batch, optimizerB);
            worst = Math.Max(worst, Math.Abs(la - lb) / Math.Abs(lb));
        }
        output.WriteLine($"largest relative loss difference over {steps} steps: {worst:G3}");
        Assert.True(worst < 1e-4, $"losses drifted apart by {worst:G3} relative");
    }

    private static void AssertAll(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {expected[i]} vs {actual[i]}");
    }
}
