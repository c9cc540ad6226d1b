using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// Every likelihood alone: the double reference against central differences (logits out to +-100, log variances
/// out to +-20), and the CPU's <see cref="Likelihoods"/>, through its team entry points and through the targets the
/// output layer's fused epilogue evaluates, against the reference row by row.
/// </summary>
public class LikelihoodOpTests
{
    public static IEnumerable<object[]> Kinds() => Enum.GetValues<Likelihood>().Select(l => new object[] { l });

    private const double Sigma = 0.6;

    /// <summary>Outputs of one row: logits or means (and log variances) from the saturated to the ordinary.</summary>
    private static (double[] X, double[] Output, double[] LogVar) ReferenceRow(Likelihood likelihood)
    {
        double[] x = likelihood == Likelihood.Bernoulli ? [0, 1, 0.3, 0, 1, 0.5, 1, 0] : [0.5, -1.2, 3, 0, 2.5, -0.7, 1, 10];
        double[] output = likelihood == Likelihood.Bernoulli ? [100, -100, 30, -30, 2.5, -0.4, 100, -100] : [0.4, 2, -3, 60, 2.5, -0.2, -40, 11];
        double[] logVar = [-20, 20, 0.3, 5, -2, -0.5, 12, -6];
        return (x, output, logVar);
    }

    private static double Nll(Likelihood likelihood, double[] x, double[] output, double[] logVar, double[] d, double[] dLogVar) => likelihood switch
    {
        Likelihood.Bernoulli => ReferenceLikelihoods.Bernoulli(x, output, d),
        Likelihood.Gaussian => ReferenceLikelihoods.Gaussian(x, output, Sigma, d),
        Likelihood.GaussianLearnedVariance => ReferenceLikelihoods.GaussianLearnedVariance(x, output, logVar, d, dLogVar),
        Likelihood.MeanSquaredError => ReferenceLikelihoods.MeanSquaredError(x, output, d),
        _ => throw new ArgumentOutOfRangeException(nameof(likelihood), likelihood, null),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Reference_gradient_matches_central_differences(Likelihood likelihood)
    {
        var (x, output, logVar) = ReferenceRow(likelihood);
        int n = x.Length;
        var d = new double[n];
        var dLogVar = new double[n];
        Nll(likelihood, x, output, logVar, d, dLogVar);
        double magnitude = 0;
        for (int i = 0; i < n; i++)
        {
            double diff = Math.Abs(output[i]) + Math.Abs(x[i]);
            magnitude += likelihood switch
            {
                Likelihood.Bernoulli => 2 * Math.Abs(output[i]) + 1,
                Likelihood.Gaussian => diff * diff / (Sigma * Sigma) + 2,
                Likelihood.MeanSquaredError => (diff * diff + 2) / n,
                _ => Math.Abs(logVar[i]) + diff * diff * Math.Exp(-logVar[i]) + 2,
            };
        }
        double F(double[] o, double[] v) => Nll(likelihood, x, o, v, new double[n], new double[n]);
        GradientMatchesCentralDifferences(o => F(o, logVar), output, d, magnitude, $"{likelihood} d/doutput");
        if (likelihood == Likelihood.GaussianLearnedVariance)
            GradientMatchesCentralDifferences(v => F(output, v), logVar, dLogVar, magnitude, $"{likelihood} d/dlogvar");
    }

    [Fact]
    public void Reference_values_by_hand()
    {
        var d = new double[2];
        // Bernoulli: softplus(0) - 0 = log 2; softplus(100) - 100 = log(1 + e^-100), which is 0 in double.
        Assert.Equal(Math.Log(2), ReferenceLikelihoods.Bernoulli([1, 1], [0, 100], d), 14);
        Assert.Equal([-0.5, 1 / (1 + Math.Exp(-100)) - 1], d);
        // Gaussian with sigma 2 at distance 2: 0.5 + 0.5 log(2 pi 4) per value.
        Assert.Equal(2 * (0.5 + 0.5 * Math.Log(8 * Math.PI)), ReferenceLikelihoods.Gaussian([1, 1], [3, -1], 2, d), 13);
        Assert.Equal([0.5, -0.5], d);
        // Learned variance with logvar 0 is the unit Gaussian.
        var dv = new double[2];
        Assert.Equal(2 * (0.5 + 0.5 * Math.Log(2 * Math.PI)), ReferenceLikelihoods.GaussianLearnedVariance([1, 1], [2, 0], [0, 0], d, dv), 13);
        Assert.Equal([1.0, -1.0], d);
        Assert.Equal([0.0, 0.0], dv);
    }

    public static IEnumerable<object[]> Cases()
    {
        // (examples, samples, size): sizes below, at and past the 16-lane vector, odd tails, a wide row.
        (int, int, int)[] shapes = [(1, 1, 1), (3, 2, 7), (5, 1, 16), (4, 3, 17), (2, 2, 33), (20, 1, 100)];
        foreach (var likelihood in Enum.GetValues<Likelihood>())
        foreach (var (examples, samples, size) in shapes)
            yield return [likelihood, examples, samples, size];
    }

    /// <summary>Data and decoder outputs for a batch: saturated logits and extreme means and variances mixed in.</summary>
    private static (PinnedFloats X, PinnedFloats Output) Batch(Likelihood likelihood, int examples, int samples, int size)
    {
        var rng = new Random(examples * 1000 + samples * 100 + size + (int)likelihood);
        int rows = examples * samples, width = likelihood == Likelihood.GaussianLearnedVariance ? 2 * size : size;
        var x = new float[examples * size];
        var output = new float[rows * width];
        float[] saturated = [100f, -100f, 30f, -30f, 17f, -17f];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = likelihood == Likelihood.Bernoulli
                ? (i % 3 == 0 ? 0f : i % 3 == 1 ? 1f : (float)rng.NextDouble())
                : (float)(4 * rng.NextDouble() - 2);
        }
        for (int r = 0; r < rows; r++)
        for (int i = 0; i < size; i++)
        {
            int at = r * width + i;
            output[at] = likelihood == Likelihood.Bernoulli
                ? (i % 4 == 0 ? saturated[(r + i) % saturated.Length] : (float)(20 * rng.NextDouble() - 10))
                : (float)(20 * rng.NextDouble() - 10);
            // Log variances from -20 to 20: precision up to 5e8, and variances that swamp the error.
            if (likelihood == Likelihood.GaussianLearnedVariance) output[r * width + size + i] = (float)(40 * rng.NextDouble() - 20);
        }
        return (new PinnedFloats(x), new PinnedFloats(output));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_likelihood_matches_the_reference(Likelihood likelihood, int examples, int samples, int size)
    {
        var (x, output) = Batch(likelihood, examples, samples, size);
        int rows = examples * samples, width = likelihood == Likelihood.GaussianLearnedVariance ? 2 * size : size;
        float scale = 1f / rows;
        using var threads = new CpuThreads(2);
        foreach (bool withGradient in new[] { true, false })
        {
            var rowNll = new PinnedFloats(rows);
            var d = new PinnedFloats(rows * width);
            var dOut = withGradient ? d.Address : Floats.Null;
            switch (likelihood)
            {
                case Likelihood.Bernoulli: Likelihoods.Bernoulli(threads, rows, size, samples, output, x, rowNll, dOut, scale); break;
                case Likelihood.Gaussian: Likelihoods.Gaussian(threads, rows, size, samples, output, x, rowNll, dOut, scale, (float)Sigma); break;
                case Likelihood.GaussianLearnedVariance: Likelihoods.GaussianLearnedVariance(threads, rows, size, samples, output, x, rowNll, dOut, scale); break;
                case Likelihood.MeanSquaredError: Likelihoods.Run(threads, rows, output, Likelihoods.MeanSquaredErrorTarget(size, samples, x, rowNll, dOut, scale)); break;
                default: throw new ArgumentOutOfRangeException(nameof(likelihood), likelihood, null);
            }
            AssertRows(likelihood, size, samples, rows, x.Values, output.Values, scale, rowNll.Values, withGradient ? d.Values : null);
        }
    }

    /// <summary>
    /// The output layer's fused path: <see cref="Linear.ForwardToLikelihood"/> on an identity input, so the layer's
    /// output is exactly the chosen values (products with 1 and 0 and a zero bias round nothing) and the target's
    /// epilogue runs on them, in the GEMM's threads when the rows are split, in a second pass when columns are.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_likelihood_target_after_the_output_layer_matches_the_reference(Likelihood likelihood, int examples, int samples, int size)
    {
        var (x, wanted) = Batch(likelihood, examples, samples, size);
        int rows = examples * samples, width = likelihood == Likelihood.GaussianLearnedVariance ? 2 * size : size;
        float scale = 1f / rows;
        // input [rows, rows] = I and weight [width, rows] = wanted^T, so input W^T = wanted.
        var input = new PinnedFloats(rows * rows);
        for (int r = 0; r < rows; r++) input.Values[r * rows + r] = 1f;
        var weight = new PinnedFloats(width * rows);
        for (int r = 0; r < rows; r++)
        for (int o = 0; o < width; o++)
            weight.Values[o * rows + r] = wanted.Values[r * width + o];
        var bias = new PinnedFloats(width);
        var output = new PinnedFloats(rows * width);
        var packed = new PinnedFloats(rows * width);
        var rowNll = new PinnedFloats(rows);
        var d = new PinnedFloats(rows * width);
        using var threads = new CpuThreads(2);
        var target = likelihood switch
        {
            Likelihood.Bernoulli => Likelihoods.BernoulliTarget(size, samples, x, rowNll, d, scale),
            Likelihood.Gaussian => Likelihoods.GaussianTarget(size, samples, x, rowNll, d, scale, (float)Sigma),
            Likelihood.GaussianLearnedVariance => Likelihoods.GaussianLearnedVarianceTarget(size, samples, x, rowNll, d, scale),
            Likelihood.MeanSquaredError => Likelihoods.MeanSquaredErrorTarget(size, samples, x, rowNll, d, scale),
            _ => throw new ArgumentOutOfRangeException(nameof(likelihood), likelihood, null),
        };
        Linear.ForwardToLikelihood(threads, rows, rows, width, input, weight, bias, output, packed, target);

        Assert.Equal(wanted.Values.AsSpan(0, rows * width).ToArray(), output.Values.AsSpan(0, rows * width).ToArray());
        AssertRows(likelihood, size, samples, rows, x.Values, output.Values, scale, rowNll.Values, d.Values);
    }

    /// <summary>Each row's nll and each gradient value against the reference, within the float32 rule of <see cref="OpChecks"/>.</summary>
    private static void AssertRows(Likelihood likelihood, int size, int samples, int rows, float[] xs, float[] outputs, float scale,
        float[] rowNll, float[]? gradient)
    {
        int width = likelihood == Likelihood.GaussianLearnedVariance ? 2 * size : size;
        for (int r = 0; r < rows; r++)
        {
            var x = ToDouble(xs.AsSpan(r / samples * size, size));
            var o = ToDouble(outputs.AsSpan(r * width, size));
            var v = likelihood == Likelihood.GaussianLearnedVariance ? ToDouble(outputs.AsSpan(r * width + size, size)) : new double[size];
            var d = new double[size];
            var dv = new double[size];
            double expected = Nll(likelihood, x, o, v, d, dv);

            // Per value: the magnitude of the terms its nll adds, and the error bound of each gradient value.
            double terms = 0;
            var bound = new double[size];
            var boundV = new double[size];
            for (int i = 0; i < size; i++)
            {
                double spread = Math.Abs(o[i]) + Math.Abs(x[i]); // bounds |m - x| and the rounding of m - x
                switch (likelihood)
                {
                    case Likelihood.Bernoulli:
                        // softplus(l) - x l as max(l, 0) - x l + log(1 + e): the 1 is one of the terms.
                        terms += Math.Max(o[i], 0) + Math.Abs(x[i] * o[i]) + 1;
                        bound[i] = 8 * U * scale * (Math.Abs(d[i] + x[i]) + Math.Abs(x[i]));
                        break;
                    case Likelihood.MeanSquaredError:
                        // The sum of squares, then one division by the row's size.
                        terms += spread * spread / size;
                        bound[i] = 4 * U * scale * 2 * spread / size;
                        break;
                    case Likelihood.Gaussian:
                        terms += spread * spread / (Sigma * Sigma) + Math.Abs(Math.Log(Sigma)) + 1;
                        bound[i] = 4 * U * scale * spread / (Sigma * Sigma);
                        break;
                    default:
                    {
                        // exp(-v) carries |v| U of relative error on top of its rounding.
                        double precision = Math.Exp(-v[i]) * (2 + Math.Abs(v[i]));
                        terms += Math.Abs(v[i]) + spread * spread * precision + 1;
                        bound[i] = 4 * U * scale * spread * precision;
                        boundV[i] = 4 * U * scale * 0.5 * (1 + spread * spread * precision);
                        break;
                    }
                }
            }
            Within(expected, rowNll[r], (size + 8) * U * terms + FloatFloor, $"{likelihood} nll of row {r}");
            if (gradient is null) continue;
            for (int i = 0; i < size; i++)
            {
                Within(scale * d[i], gradient[r * width + i], bound[i] + FloatFloor, $"{likelihood} d[{r}, {i}] at output {o[i]:R}, x {x[i]:R}");
                if (likelihood == Likelihood.GaussianLearnedVariance)
                    Within(scale * dv[i], gradient[r * width + size + i], boundV[i] + FloatFloor, $"{likelihood} dlogvar[{r}, {i}] at {v[i]:R}");
            }
        }
    }
}
