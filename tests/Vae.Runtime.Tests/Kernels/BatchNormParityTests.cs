using Vae.Noise;
using Vae.Reference;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Kernels;

/// <summary>
/// Convolutional models with BatchNorm2d on the CPU and OpenCL targets against the oracle: the training-mode loss and
/// every gradient (through the batch statistics), the running statistics and num_batches_tracked after the pass, and
/// the evaluation-mode loss with the running statistics. OpenCL runs on PoCL; without a driver its cases say so and
/// return, unless VAE_REQUIRE_OPENCL=1.
/// </summary>
public sealed class BatchNormParityTests(ITestOutputHelper output)
{
    public static readonly string[] Models = [nameof(ConvBatchNormVae), nameof(ConvBatchNormRgbVae), nameof(ConvBatchNormDecoderVae), nameof(ConvConditionalBatchNormVae)];

    public static IEnumerable<object[]> Cases() =>
        from target in new[] { "cpu", "opencl" }
        from model in Models
        from batch in new[] { 1, 7, 64 }
        select new object[] { target, model, batch };

    internal static VaeModel Create(string name, Device device, ulong seed = 1) => name switch
    {
        nameof(ConvBatchNormVae) => new ConvBatchNormVae(device, seed),
        nameof(ConvBatchNormRgbVae) => new ConvBatchNormRgbVae(device, seed),
        nameof(ConvBatchNormDecoderVae) => new ConvBatchNormDecoderVae(device, seed),
        nameof(ConvConditionalBatchNormVae) => new ConvConditionalBatchNormVae(device, seed),
        _ => throw new ArgumentException(name),
    };

    private Device? Open(string target)
    {
        if (target == "cpu") return Device.Cpu(2);
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

    /// <summary>
    /// Parameters with every BatchNorm weight and bias away from 1 and 0, and running statistics away from PyTorch's
    /// initial 0 and 1, so that no term of either mode vanishes.
    /// </summary>
    internal static (float[] Parameters, float[] State) Values(ModelDescriptor d, ulong seed)
    {
        var p = TestData.Parameters(d, seed);
        var state = new float[d.StateCount];
        uint k = 0;
        float Uniform(float low, float high) => low + (high - low) * (float)((Philox.Philox4x32_10(k++, 31, 0, 0, (uint)seed, 0).X0 + 0.5) / 4294967296.0);
        foreach (var t in d.Tensors)
        for (int i = 0; i < t.Length && t.Type == TensorType.Float32; i++)
        {
            if (t.Name.EndsWith(".bn.weight", StringComparison.Ordinal)) p[t.Offset + i] = Uniform(0.5f, 2f);
            else if (t.Name.EndsWith(".bn.bias", StringComparison.Ordinal)) p[t.Offset + i] = Uniform(-0.5f, 0.5f);
            else if (t.Name.EndsWith(".running_mean", StringComparison.Ordinal)) state[t.Offset - d.ParameterCount + i] = Uniform(-0.3f, 0.3f);
            else if (t.Name.EndsWith(".running_var", StringComparison.Ordinal)) state[t.Offset - d.ParameterCount + i] = Uniform(0.3f, 3f);
        }
        return (p, state);
    }

    /// <summary>For the bias of a convolution that BatchNorm follows, that BatchNorm's bias; null for every other tensor.</summary>
    internal static TensorDescriptor? BiasBeforeBatchNorm(ModelDescriptor d, TensorDescriptor t) =>
        t.Name.EndsWith(".bias", StringComparison.Ordinal) && !t.Name.EndsWith(".bn.bias", StringComparison.Ordinal)
            ? d.Tensors.FirstOrDefault(n => n.Name == t.Name[..^".bias".Length] + ".bn.bias")
            : null;

    /// <summary>Whether a training batch of <paramref name="batch"/> leaves some BatchNorm layer one value per channel.</summary>
    internal static bool SingleValuePerChannel(ModelDescriptor d, int batch) =>
        d.BatchNormLayers.Any(l => (long)batch * (l.PerSample ? d.LatentSamples : 1) * l.Area < 2);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Both_modes_every_gradient_and_the_running_statistics_match_the_oracle(string target, string name, int batch)
    {
        using var device = Open(target);
        if (device is null) return;
        using var model = Create(name, device);
        var d = model.Architecture;
        var (p, state) = Values(d, 5);
        model.SetParameters(p);
        model.SetState(state);
        var x = TestData.Inputs(d, batch, 6);
        var eps = TestData.Noise(d, batch, 7);
        var labels = TestData.Labels(d, batch, 8);
        var oracle = new ReferenceVae(d);
        var pd = p.Select(v => (double)v).ToArray();
        var sd = state.Select(v => (double)v).ToArray();
        var gradients = new float[d.ParameterCount];

        if (SingleValuePerChannel(d, batch))
        {
            // PyTorch refuses training with one value per channel ("Expected more than 1 value per channel when
            // training"); so does the model, before it changes anything.
            var e = Assert.Throws<ArgumentException>(() => model.ComputeGradients(x, labels, eps, gradients));
            Assert.Contains("more than 1 value per channel", e.Message);
            Assert.Equal(state, model.GetState());
            Assert.All(d.Tensors.Where(t => t.Type == TensorType.Int64), t => Assert.Equal(new long[] { 0 }, model.GetInt64Tensor(t.Name)));
        }
        else
        {
            double loss = model.ComputeGradients(x, labels, eps, gradients);
            var expected = new double[d.ParameterCount];
            var expectedState = new double[d.StateCount];
            double expectedLoss = oracle.Loss(pd, x, eps, batch, d.Beta, expected, labels: labels, training: true, state: sd, updatedState: expectedState);
            CpuParityTests.AssertClose(expectedLoss, loss, 1e-4, "training-mode loss");
            foreach (var t in d.Tensors.Where(t => t.Role == TensorRole.Parameter))
            {
                if (BiasBeforeBatchNorm(d, t) is { } norm)
                {
                    // BatchNorm subtracts each channel's mean, so the convolution's bias has no effect and its gradient
                    // is exactly zero; the float one is rounding, far below the model's gradients.
                    Assert.All(expected.AsSpan(t.Offset, t.Length).ToArray(), g => Assert.True(Math.Abs(g) < 1e-12, $"{t.Name}: the oracle's gradient {g} is not zero"));
                    Assert.NotNull(norm);
                    double scale = expected.Max(v => Math.Abs(v));
                    Assert.All(gradients.AsSpan(t.Offset, t.Length).ToArray(), g => Assert.True(Math.Abs(g) <= 1e-4 * scale, $"{t.Name}: {g} is not zero next to {scale}"));
                    continue;
                }
                CpuParityTests.AssertTensorClose(expected.AsSpan(t.Offset, t.Length), gradients.AsSpan(t.Offset, t.Length), t.Name);
            }
            var after = model.GetState();
            foreach (var t in d.Tensors.Where(t => t.Role == TensorRole.State && t.Type == TensorType.Float32))
                CpuParityTests.AssertTensorClose(expectedState.AsSpan(t.Offset - d.ParameterCount, t.Length), after.AsSpan(t.Offset - d.ParameterCount, t.Length), t.Name);
            Assert.All(d.Tensors.Where(t => t.Type == TensorType.Int64), t => Assert.Equal(new long[] { 1 }, model.GetInt64Tensor(t.Name)));
            sd = after.Select(v => (double)v).ToArray();
        }

        // Evaluation mode, with the running statistics the model now holds.
        var perExample = new float[batch];
        double forwardLoss = model.Loss(x, labels, eps, perExample);
        var expectedPerExample = new double[batch];
        double expectedForwardLoss = oracle.Loss(pd, x, eps, batch, d.Beta, null, expectedPerExample, labels: labels, state: sd);
        CpuParityTests.AssertClose(expectedForwardLoss, forwardLoss, 1e-4, "evaluation-mode loss");
        for (int b = 0; b < batch; b++) CpuParityTests.AssertClose(expectedPerExample[b], perExample[b], 1e-4, $"example {b} loss");

        // Evaluation mode makes each example independent of its batch, as in PyTorch's model.eval().
        var alone = new float[1];
        model.Loss(x.AsSpan(0, d.Input), labels.AsSpan(0, Math.Min(1, labels.Length)), eps.AsSpan(0, d.LatentSamples * d.Latent), alone);
        CpuParityTests.AssertClose(perExample[0], alone[0], 1e-5, "example 0 alone");
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("opencl")]
    public void A_training_step_moves_the_running_statistics_as_the_oracle_and_a_failed_step_changes_nothing(string target)
    {
        using var device = Open(target);
        if (device is null) return;
        using var model = Create(nameof(ConvBatchNormVae), device);
        var d = model.Architecture;
        const int batch = 9;
        var (p, state) = Values(d, 3);
        model.SetParameters(p);
        model.SetState(state);
        var x = TestData.Inputs(d, batch, 4);
        var eps = TestData.Noise(d, batch, 5);
        var oracle = new ReferenceVae(d);
        var adam = new Adam(1e-3f);

        var expectedState = new double[d.StateCount];
        oracle.Loss(p.Select(v => (double)v).ToArray(), x, eps, batch, d.Beta, null, training: true, state: state.Select(v => (double)v).ToArray(), updatedState: expectedState);
        model.TrainStep(x, eps, adam);
        var after = model.GetState();
        CpuParityTests.AssertTensorClose(expectedState, after, "state after one step");
        Assert.Equal(new long[] { 1 }, model.GetInt64Tensor("encoder.0.bn.num_batches_tracked"));
        Assert.Equal(new long[] { 1 }, model.GetInt64Tensor("decoder.1.bn.num_batches_tracked"));
        Assert.Equal(after.AsSpan(0, 3).ToArray(), model.GetTensor("encoder.0.bn.running_mean"));
        // The optimiser moved the BatchNorm weight (a parameter) but never the state.
        Assert.NotEqual(p.AsSpan(d.Tensor("encoder.0.bn.weight").Offset, 3).ToArray(), model.GetTensor("encoder.0.bn.weight"));

        // A step whose loss is not finite throws and leaves the running statistics and the counters as they were.
        var poisoned = model.GetParameters();
        poisoned[d.Tensor("decoder.out.bias").Offset] = float.NaN;
        model.SetParameters(poisoned);
        Assert.Throws<NonFiniteLossException>(() => model.TrainStep(x, eps, adam));
        Assert.Equal(after, model.GetState());
        Assert.Equal(new long[] { 1 }, model.GetInt64Tensor("encoder.0.bn.num_batches_tracked"));
        Assert.Equal(1, model.Step);
    }

    [Theory]
    [InlineData(nameof(ConvBatchNormVae))]
    [InlineData(nameof(ConvBatchNormRgbVae))]
    public void Encode_and_decode_use_the_running_statistics_on_both_targets(string name)
    {
        using var device = Open("opencl");
        if (device is null) return;
        using var cpu = Device.Cpu(2);
        using var a = Create(name, device);
        using var b = Create(name, cpu);
        var d = a.Architecture;
        var (p, state) = Values(d, 8);
        foreach (var m in new[] { a, b })
        {
            m.SetParameters(p);
            m.SetState(state);
        }
        const int batch = 5;
        var x = TestData.Inputs(d, batch, 9);
        var (muA, lvA, muB, lvB) = (new float[batch * d.Latent], new float[batch * d.Latent], new float[batch * d.Latent], new float[batch * d.Latent]);
        a.Encode(x, muA, lvA);
        b.Encode(x, muB, lvB);
        for (int i = 0; i < muA.Length; i++)
        {
            CpuParityTests.AssertClose(muB[i], muA[i], 1e-4, "mu", scale: 1);
            CpuParityTests.AssertClose(lvB[i], lvA[i], 1e-4, "logvar", scale: 1);
        }
        // One row decodes as it does in a batch: evaluation mode has no batch statistics.
        var meanA = new float[batch * d.Input];
        var meanB = new float[d.Input];
        a.Decode(muB, meanA);
        b.Decode(muB.AsSpan(0, d.Latent), meanB);
        for (int i = 0; i < d.Input; i++) CpuParityTests.AssertClose(meanB[i], meanA[i], 1e-4, "mean", scale: 1);
    }
}
