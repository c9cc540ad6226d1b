using Vae.Reference;
using Xunit;

namespace Vae.Runtime.Tests.Reference;

/// <summary>The oracle's hand-written gradient against central finite differences, in double precision.</summary>
public class ReferenceFiniteDifferenceTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var activation in Enum.GetValues<Activation>())
        // The mean squared error belongs to VQ-VAEs only (their oracle walk is checked in Kernels/VqModelTests).
        foreach (var likelihood in Enum.GetValues<Likelihood>().Where(l => l != Likelihood.MeanSquaredError))
            yield return [activation, likelihood];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_matches_central_differences(Activation activation, Likelihood likelihood)
    {
        // Two hidden layers a side so every activation sits between two affine maps, Beta != 1 and L = 2.
        var d = TestLayouts.Descriptor("Fd", input: 5, latent: 3, likelihood, beta: 0.7, latentSamples: 2, sigma: 0.8,
            encoder: [new LayerDescriptor(4, activation), new LayerDescriptor(3, Activation.Tanh)],
            decoder: [new LayerDescriptor(4, activation), new LayerDescriptor(3, Activation.Softplus)]);
        const int examples = 3;
        var x = TestData.Inputs(d, examples, 11);
        var eps = TestData.Noise(d, examples, 12);
        var p = TestData.Parameters(d, 13).Select(v => (double)v).ToArray();
        AssertMatchesCentralDifferences(d, p, x, eps, examples, h: 1e-6, every: 1);
    }

    /// <summary>
    /// A learned variance from a transposed convolution (the output's 2C channels: C mean planes, then C log-variance
    /// planes) through the whole oracle, every third parameter, with one decoder output saturated into a large log
    /// variance by its bias.
    /// </summary>
    [Fact]
    public void Gradient_of_a_convolutional_learned_variance_matches_central_differences()
    {
        using var device = Device.Cpu(1);
        using var model = new Vae.Runtime.Tests.Models.ConvLearnedVarianceVae(device, 1);
        var d = model.Architecture;
        const int examples = 2;
        var x = TestData.Inputs(d, examples, 21);
        var eps = TestData.Noise(d, examples, 22);
        var p = TestData.Parameters(d, 23).Select(v => (double)v).ToArray();
        var bias = d.Tensors.First(t => t.Name == "decoder.out.bias");
        p[bias.Offset + 3] = 6; // the second log-variance plane starts far from 0
        // The loss is in the hundreds: a step below 1e-5 loses the difference to rounding.
        AssertMatchesCentralDifferences(d, p, x, eps, examples, h: 1e-5, every: 3);
    }

    /// <summary>The oracle's gradient against (L(p + h e_i) - L(p - h e_i)) / 2h for every <paramref name="every"/>-th parameter, relative error under 1e-5.</summary>
    private static void AssertMatchesCentralDifferences(ModelDescriptor d, double[] p, float[] x, float[] eps, int examples, double h, int every)
    {
        var oracle = new ReferenceVae(d);
        var gradient = new double[p.Length];
        oracle.Loss(p, x, eps, examples, d.Beta, gradient);
        for (int i = 0; i < p.Length; i += every)
        {
            var plus = (double[])p.Clone();
            var minus = (double[])p.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (oracle.Loss(plus, x, eps, examples, d.Beta, null) - oracle.Loss(minus, x, eps, examples, d.Beta, null)) / (2 * h);
            double error = Math.Abs(numeric - gradient[i]) / Math.Max(1e-3, Math.Abs(numeric) + Math.Abs(gradient[i]));
            Assert.True(error < 1e-5, $"parameter {i} ({Name(d, i)}): analytic {gradient[i]:R}, numeric {numeric:R}");
        }
    }

    [Fact]
    public void Loss_of_a_hand_computed_model_is_exact()
    {
        // Input 1, latent 1, no hidden layers: every number can be worked out by hand.
        var d = TestLayouts.Descriptor("Hand", 1, 1, Likelihood.Gaussian, beta: 1, latentSamples: 1, sigma: 1, [], []);
        // encoder.mu.weight, encoder.logvar.weight, encoder.mu.bias, encoder.logvar.bias, decoder.out.weight, decoder.out.bias
        double[] p = [2, 0, 0.5, 0, 1, 0];
        float[] x = [1];
        float[] eps = [0.5f];
        // mu = 2.5, logvar = 0, z = 3, mean = 3, nll = 0.5 (3 - 1)^2 + 0.5 log(2 pi); KL = 0.5 (6.25 + 1 - 1 - 0).
        double expected = 0.5 * 4 + 0.5 * Math.Log(2 * Math.PI) + 0.5 * 6.25;
        Assert.Equal(expected, new ReferenceVae(d).Loss(p, x, eps, 1, 1, null), 12);
    }

    private static string Name(ModelDescriptor d, int index) =>
        d.Tensors.First(t => index >= t.Offset && index < t.Offset + t.Length).Name;
}
