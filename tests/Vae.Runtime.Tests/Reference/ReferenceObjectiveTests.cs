using Vae.Reference;
using Xunit;

namespace Vae.Runtime.Tests.Reference;

/// <summary>
/// The oracle's objectives beyond the plain ELBO: the importance-weighted bound's gradient and the free-bits ELBO's
/// gradient against central differences; DReG, which is not the gradient of any loss with eps fixed, against the plain
/// estimator in expectation and exactly on the decoder.
/// </summary>
public class ReferenceObjectiveTests
{
    private static ModelDescriptor Model(Likelihood likelihood, Objective objective, int samples) =>
        TestLayouts.Descriptor("Objective", input: 5, latent: 3, likelihood, beta: 1, latentSamples: samples, sigma: 0.8,
            encoder: [new LayerDescriptor(4, Activation.Tanh)], decoder: [new LayerDescriptor(4, Activation.Softplus)], objective);

    // The mean squared error belongs to VQ-VAEs only, which have no importance-weighted bound.
    public static IEnumerable<object[]> Likelihoods() => Enum.GetValues<Likelihood>().Where(l => l != Likelihood.MeanSquaredError).Select(l => new object[] { l });

    [Theory]
    [MemberData(nameof(Likelihoods))]
    public void Importance_weighted_gradient_matches_central_differences(Likelihood likelihood)
    {
        var d = Model(likelihood, Objective.ImportanceWeighted, samples: 4);
        AssertGradientMatchesDifferences(d, freeBits: 0);
    }

    [Fact]
    public void Free_bits_gradient_matches_central_differences_with_dimensions_on_both_sides_of_the_floor()
    {
        var d = Model(Likelihood.Bernoulli, Objective.Elbo, samples: 2);
        const int examples = 4;
        var p = TestData.Parameters(d, 13).Select(v => (double)v).ToArray();
        var x = TestData.Inputs(d, examples, 11);
        // The mean KL of each dimension at these parameters, so the floor can be put between them.
        var eps = TestData.Noise(d, examples, 12);
        var oracle = new ReferenceVae(d);
        double unfloored = oracle.Loss(p, x, eps, examples, 1, null);
        double floor = FloorBetweenDimensions(d, p, x, examples);
        double floored = oracle.Loss(p, x, eps, examples, 1, null, freeBits: floor);
        Assert.True(floored > unfloored, $"the floor {floor} must lift some dimension: {floored} vs {unfloored}");
        AssertGradientMatchesDifferences(d, floor);
    }

    /// <summary>A floor halfway between the smallest and the largest batch-mean KL of a dimension (one Tanh encoder layer).</summary>
    private static double FloorBetweenDimensions(ModelDescriptor d, double[] p, float[] x, int examples)
    {
        double[] Slice(string name) => p.AsSpan(d.Tensor(name).Offset, d.Tensor(name).Length).ToArray();
        var means = new double[d.Latent];
        for (int b = 0; b < examples; b++)
        {
            var xb = Enumerable.Range(0, d.Input).Select(i => (double)x[b * d.Input + i]).ToArray();
            var h = ReferenceActivations.Forward(Activation.Tanh, ReferenceDense.Forward(Slice("encoder.0.weight"), Slice("encoder.0.bias"), xb));
            var mu = ReferenceDense.Forward(Slice("encoder.mu.weight"), Slice("encoder.mu.bias"), h);
            var logVar = ReferenceDense.Forward(Slice("encoder.logvar.weight"), Slice("encoder.logvar.bias"), h);
            var kl = ReferenceGaussianLatent.KlPerDimension(mu, logVar);
            for (int j = 0; j < d.Latent; j++) means[j] += kl[j] / examples;
        }
        Assert.True(means.Max() > 1.5 * means.Min(), $"the dimensions' KLs are too alike to separate: {string.Join(", ", means)}");
        return 0.5 * (means.Min() + means.Max());
    }

    private static void AssertGradientMatchesDifferences(ModelDescriptor d, double freeBits)
    {
        const int examples = 3;
        var x = TestData.Inputs(d, examples, 11);
        var eps = TestData.Noise(d, examples, 12);
        var p = TestData.Parameters(d, 13).Select(v => (double)v).ToArray();
        var oracle = new ReferenceVae(d);
        var gradient = new double[p.Length];
        oracle.Loss(p, x, eps, examples, d.Beta, gradient, freeBits: freeBits);

        const double h = 1e-6;
        for (int i = 0; i < p.Length; i++)
        {
            var plus = (double[])p.Clone();
            var minus = (double[])p.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (oracle.Loss(plus, x, eps, examples, d.Beta, null, freeBits: freeBits)
                              - oracle.Loss(minus, x, eps, examples, d.Beta, null, freeBits: freeBits)) / (2 * h);
            double error = Math.Abs(numeric - gradient[i]) / Math.Max(1e-3, Math.Abs(numeric) + Math.Abs(gradient[i]));
            Assert.True(error < 1e-5, $"parameter {i}: analytic {gradient[i]:R}, numeric {numeric:R}");
        }
    }

    [Fact]
    public void Dreg_agrees_with_the_plain_estimator_on_the_decoder_and_in_expectation_on_the_encoder()
    {
        var plainModel = Model(Likelihood.Gaussian, Objective.ImportanceWeighted, samples: 5);
        var dregModel = Model(Likelihood.Gaussian, Objective.ImportanceWeightedDReG, samples: 5);
        const int examples = 2, draws = 4000;
        var x = TestData.Inputs(plainModel, examples, 21);
        var p = TestData.Parameters(plainModel, 22).Select(v => (double)v).ToArray();
        var plain = new ReferenceVae(plainModel);
        var dreg = new ReferenceVae(dregModel);
        var sumPlain = new double[p.Length];
        var sumDreg = new double[p.Length];
        var sumSquaresPlain = new double[p.Length];
        var sumSquaresDreg = new double[p.Length];
        var g1 = new double[p.Length];
        var g2 = new double[p.Length];
        var rng = new Random(23);
        var eps = new float[examples * 5 * plainModel.Latent];
        for (int n = 0; n < draws; n++)
        {
            for (int i = 0; i < eps.Length; i++) eps[i] = (float)Normal(rng);
            double lossPlain = plain.Loss(p, x, eps, examples, 1, g1);
            double lossDreg = dreg.Loss(p, x, eps, examples, 1, g2);
            Assert.Equal(lossPlain, lossDreg, 12);
            foreach (var t in plainModel.Tensors.Where(t => t.Name.StartsWith("decoder.", StringComparison.Ordinal)))
                for (int i = t.Offset; i < t.Offset + t.Length; i++)
                    Assert.True(Math.Abs(g1[i] - g2[i]) <= 1e-12 * (1 + Math.Abs(g1[i])), $"{t.Name}: {g1[i]} vs {g2[i]}");
            for (int i = 0; i < p.Length; i++)
            {
                sumPlain[i] += g1[i];
                sumDreg[i] += g2[i];
                sumSquaresPlain[i] += g1[i] * g1[i];
                sumSquaresDreg[i] += g2[i] * g2[i];
            }
        }
        // Both estimate the same gradient: their means differ by no more than a few standard errors.
        int checkedCount = 0;
        foreach (var t in plainModel.Tensors.Where(t => t.Name.StartsWith("encoder.", StringComparison.Ordinal)))
            for (int i = t.Offset; i < t.Offset + t.Length; i++)
            {
                double meanPlain = sumPlain[i] / draws, meanDreg = sumDreg[i] / draws;
                double variance = (sumSquaresPlain[i] / draws - meanPlain * meanPlain + sumSquaresDreg[i] / draws - meanDreg * meanDreg) / draws;
                double standardError = Math.Sqrt(Math.Max(variance, 0)) + 1e-12;
                Assert.True(Math.Abs(meanPlain - meanDreg) < 5 * standardError,
                    $"{t.Name}[{i - t.Offset}]: plain {meanPlain:G6}, DReG {meanDreg:G6}, standard error {standardError:G3}");
                checkedCount++;
            }
        Assert.True(checkedCount > 0);
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}

/// <summary>The conditional model's oracle against central differences, with and without hidden layers.</summary>
public class ReferenceConditionalTests
{
    [Theory]
    [InlineData(true, Objective.Elbo)]
    [InlineData(false, Objective.Elbo)]
    [InlineData(true, Objective.ImportanceWeighted)]
    public void Conditional_gradient_matches_central_differences(bool hidden, Objective objective)
    {
        var d = TestLayouts.Descriptor("Conditional", input: 4, latent: 2, Likelihood.Bernoulli, beta: 1, latentSamples: 2, sigma: 1,
            encoder: hidden ? [new LayerDescriptor(3, Activation.Tanh)] : [], decoder: hidden ? [new LayerDescriptor(3, Activation.Softplus)] : [],
            objective, classes: 3);
        const int examples = 3;
        var x = TestData.Inputs(d, examples, 11);
        var eps = TestData.Noise(d, examples, 12);
        int[] labels = [2, 0, 1];
        var p = TestData.Parameters(d, 13).Select(v => (double)v).ToArray();
        var oracle = new ReferenceVae(d);
        var gradient = new double[p.Length];
        oracle.Loss(p, x, eps, examples, 1, gradient, labels: labels);
        const double h = 1e-6;
        for (int i = 0; i < p.Length; i++)
        {
            var plus = (double[])p.Clone();
            var minus = (double[])p.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (oracle.Loss(plus, x, eps, examples, 1, null, labels: labels) - oracle.Loss(minus, x, eps, examples, 1, null, labels: labels)) / (2 * h);
            double error = Math.Abs(numeric - gradient[i]) / Math.Max(1e-3, Math.Abs(numeric) + Math.Abs(gradient[i]));
            Assert.True(error < 1e-5, $"parameter {i}: analytic {gradient[i]:R}, numeric {numeric:R}");
        }
        // The label matters: another labelling gives another loss.
        Assert.NotEqual(oracle.Loss(p, x, eps, examples, 1, null, labels: labels), oracle.Loss(p, x, eps, examples, 1, null, labels: new[] { 0, 0, 0 }));
    }
}
