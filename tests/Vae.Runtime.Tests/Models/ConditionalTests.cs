using Vae.Runtime.Tests.Devices;
using Xunit;

namespace Vae.Runtime.Tests.Models;

/// <summary>The conditional model's surface: labels are checked, follow their examples, and reach the decoder on every target.</summary>
public class ConditionalTests
{
    [Fact]
    public void Labels_are_required_exactly_where_the_model_is_conditional()
    {
        using var device = Device.Cpu(2);
        using var plain = new TinyVae(device, 1);
        using var conditional = new ConditionalVae(device, 1);
        var x = TestData.Inputs(conditional.Architecture, 2, 3);
        var mu = new float[2 * conditional.Architecture.Latent];
        var e = Assert.Throws<ArgumentException>(() => plain.Encode(new float[2], new[] { 0, 1 }, new float[2], new float[2]));
        Assert.Contains("not conditional", e.Message);
        e = Assert.Throws<ArgumentException>(() => conditional.Encode(x, mu, new float[mu.Length]));
        Assert.Contains("conditional on 4 classes", e.Message);
        Assert.Throws<ArgumentException>(() => conditional.Encode(x, new[] { 1 }, mu, new float[mu.Length]));
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => conditional.Encode(x, new[] { 1, 4 }, mu, new float[mu.Length]));
        Assert.Contains("classes 0 to 3", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => conditional.Sample(new[] { -1 }, 0));
    }

    [Fact]
    public void The_label_reaches_the_decoder_and_samples_follow_it()
    {
        using var device = Device.Cpu(2);
        using var model = new ConditionalVae(device, 2);
        model.SetParameters(TestData.Parameters(model.Architecture, 3));
        var a = model.Sample(new[] { 0, 0 }, seed: 5);
        var b = model.Sample(new[] { 3, 0 }, seed: 5);
        int input = model.Architecture.Input;
        Assert.NotEqual(a.AsSpan(0, input).ToArray(), b.AsSpan(0, input).ToArray());
        Assert.Equal(a.AsSpan(input).ToArray(), b.AsSpan(input).ToArray());
    }

    [Fact]
    public void Training_with_labels_lowers_the_loss_of_labelled_data()
    {
        using var device = Device.Cpu(2);
        using var model = new ConditionalVae(device, 4);
        var d = model.Architecture;
        // Each class has its own pattern: the label tells the decoder most of x.
        const int n = 256;
        var labels = Enumerable.Range(0, n).Select(i => i % d.Classes).ToArray();
        var x = new float[n * d.Input];
        for (int i = 0; i < n; i++)
        for (int k = 0; k < d.Input; k++)
            x[i * d.Input + k] = (k + labels[i]) % d.Classes == 0 ? 1f : 0f;
        double before = -model.Elbo(x, labels);
        var trainer = new Trainer(model, new Adam(1e-2f), batchSize: 32, shuffleSeed: 7);
        trainer.Fit(x, labels, epochs: 20);
        double after = -model.Elbo(x, labels);
        Assert.True(after < 0.5 * before, $"loss {before} -> {after}");
        Assert.Throws<ArgumentException>(() => trainer.TrainEpoch(x, labels.AsMemory(0, 10)));
    }

    [Theory]
    [InlineData(nameof(ConvConditionalVae))]
    [InlineData(nameof(ConvConditionalHeadsVae))]
    public void The_label_reaches_a_convolutional_encoder_after_its_convolutions(string name)
    {
        using var device = Device.Cpu(2);
        using var model = Kernels.CpuParityTests.Create(name, device, 2);
        var d = model.Architecture;
        model.SetParameters(TestData.Parameters(d, 3));
        var x = TestData.Inputs(d, 2, 4);
        var muA = new float[2 * d.Latent];
        var muB = new float[2 * d.Latent];
        model.Encode(x, new[] { 0, 1 }, muA, new float[muA.Length]);
        model.Encode(x, new[] { 2, 1 }, muB, new float[muB.Length]);
        Assert.NotEqual(muA.AsSpan(0, d.Latent).ToArray(), muB.AsSpan(0, d.Latent).ToArray());
        Assert.Equal(muA.AsSpan(d.Latent).ToArray(), muB.AsSpan(d.Latent).ToArray());
    }

    [Theory]
    [InlineData(nameof(ConditionalVae))]
    [InlineData(nameof(ConvConditionalVae))]
    [InlineData(nameof(ConvConditionalHeadsVae))]
    public void Opencl_encodes_decodes_and_scores_labelled_data_as_the_cpu_does(string name)
    {
        Device opencl;
        try { opencl = Device.OpenCl(); }
        catch (DeviceUnavailableException e)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + e.Message);
            return;
        }
        using (opencl)
        using (var cpu = Device.Cpu(2))
        {
            using var a = Kernels.CpuParityTests.Create(name, opencl, 6);
            using var b = Kernels.CpuParityTests.Create(name, cpu, 6);
            var d = a.Architecture;
            const int n = 13;
            var x = TestData.Inputs(d, n, 7);
            var labels = TestData.Labels(d, n, 8);
            var muA = new float[n * d.Latent];
            var muB = new float[n * d.Latent];
            a.Encode(x, labels, muA, new float[muA.Length]);
            b.Encode(x, labels, muB, new float[muB.Length]);
            Close(muB, muA, "mu");
            var meanA = new float[n * d.Input];
            var meanB = new float[n * d.Input];
            a.Decode(muA, labels, meanA);
            b.Decode(muB, labels, meanB);
            Close(meanB, meanA, "mean");
            double nllA = a.NegativeLogLikelihood(x, labels, 20, seed: 3), nllB = b.NegativeLogLikelihood(x, labels, 20, seed: 3);
            Assert.True(Math.Abs(nllA - nllB) < 1e-3 * Math.Abs(nllB), $"{nllA} vs {nllB}");
        }
    }

    private static void Close(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {expected[i]} vs {actual[i]}");
    }
}
