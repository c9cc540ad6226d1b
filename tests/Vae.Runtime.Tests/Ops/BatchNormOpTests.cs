using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// BatchNorm2d alone: the double reference against central differences in both modes (training mode through the
/// batch statistics), its running-statistics update against PyTorch's formula worked by hand, and the CPU's fused
/// <see cref="BatchNorm"/> primitives against the reference, on one thread and two (the same bits), including
/// saturated inputs (a large mean over a small spread, a constant channel, activations deep in their tails).
/// </summary>
public unsafe class BatchNormOpTests
{
    private const int Rows = 3, Channels = 2, Area = 5;

    private static double[][] Split(double[] flat, int rows) =>
        Enumerable.Range(0, rows).Select(r => flat.AsSpan(r * flat.Length / rows, flat.Length / rows).ToArray()).ToArray();

    [Theory]
    [InlineData(true, 0.0, 1.0)]
    [InlineData(false, 0.0, 1.0)]
    [InlineData(true, 1e3, 1.0)]    // saturated: a mean a thousand times the spread (finite differences step relative to x)
    [InlineData(false, -40.0, 3.0)]
    public void Reference_gradient_matches_central_differences(bool training, double offset, double spread)
    {
        var rng = new Random(training ? 5 : 6);
        var x = ToDouble(Uniform(rng, Rows * Channels * Area, -1, 1)).Select(v => offset + spread * v).ToArray();
        var w = ToDouble(Uniform(rng, Channels, 0.5, 2));
        var b = ToDouble(Uniform(rng, Channels, -1, 1));
        var runningMean = new[] { offset + 0.1, offset - 0.2 };
        var runningVar = new[] { spread * spread * 0.4, spread * spread * 2.5 };
        var c = ToDouble(Uniform(rng, x.Length, -1, 1));

        // L = sum c y, whose gradient is the backward pass with dL/dy = c.
        double L(double[] xv, double[] wv, double[] bv)
        {
            double[][] y = training
                ? ReferenceBatchNorm.TrainingForward(Split(xv, Rows), Channels, Area, wv, bv, (double[])runningMean.Clone(), (double[])runningVar.Clone(), out _, out _)
                : ReferenceBatchNorm.EvaluationForward(Split(xv, Rows), Channels, Area, wv, bv, runningMean, runningVar);
            return y.SelectMany(r => r).Zip(c, (a, k) => a * k).Sum();
        }

        var dW = new double[Channels];
        var dB = new double[Channels];
        double[][] dx;
        if (training)
        {
            ReferenceBatchNorm.TrainingForward(Split(x, Rows), Channels, Area, w, b, (double[])runningMean.Clone(), (double[])runningVar.Clone(), out var mean, out var variance);
            dx = ReferenceBatchNorm.TrainingBackward(Split(x, Rows), Split(c, Rows), Channels, Area, w, mean, variance, dW, dB);
            // Through the batch statistics, a shift of a whole channel changes nothing: each channel's dx sums to zero.
            for (int ch = 0; ch < Channels; ch++)
                Assert.True(Math.Abs(dx.Sum(r => r.Skip(ch * Area).Take(Area).Sum())) < 1e-9 * w[ch] / Math.Sqrt(variance[ch] + ReferenceBatchNorm.Epsilon) * x.Length);
        }
        else
        {
            dx = ReferenceBatchNorm.EvaluationBackward(Split(x, Rows), Split(c, Rows), Channels, Area, w, runningMean, runningVar, dW, dB);
        }
        // f adds terms of size |c| (|w| |x_hat| + |b|); x_hat is up to a few, and (x - mean) rounds relative to |x|.
        double magnitude = x.Length * (2 * 4 + 1) * (1 + Math.Abs(offset) / spread);
        GradientMatchesCentralDifferences(v => L(v, w, b), x, dx.SelectMany(r => r).ToArray(), magnitude, $"dx (training {training}, offset {offset})");
        GradientMatchesCentralDifferences(v => L(x, v, b), w, dW, magnitude, "dweight");
        GradientMatchesCentralDifferences(v => L(x, w, v), b, dB, magnitude, "dbias");
    }

    [Fact]
    public void Running_statistics_move_by_the_momentum_with_the_unbiased_variance()
    {
        // One channel of 1, 2, 3, 4: mean 2.5, biased variance 1.25 (the normalisation's), unbiased 5/3 (the running one's).
        double[][] x = [[1, 2], [3, 4]];
        double[] runningMean = [1], runningVar = [2];
        var y = ReferenceBatchNorm.TrainingForward(x, 1, 2, [1.0], [0.0], runningMean, runningVar, out var mean, out var variance);
        Assert.Equal(2.5, mean[0]);
        Assert.Equal(1.25, variance[0]);
        Assert.Equal(0.9 * 1 + 0.1 * 2.5, runningMean[0], 15);
        Assert.Equal(0.9 * 2 + 0.1 * 5.0 / 3, runningVar[0], 15);
        Assert.Equal(-1.5 / Math.Sqrt(1.25 + 1e-5), y[0][0], 15);
        // One value per channel has no unbiased variance; PyTorch refuses it, and so does the reference.
        Assert.Throws<ArgumentException>(() => ReferenceBatchNorm.TrainingForward([[1.0]], 1, 1, [1.0], [0.0], new double[1], new double[1], out _, out _));
    }

    public static IEnumerable<object[]> Saturation() =>
        from activation in new[] { Activation.Identity, Activation.Relu, Activation.Sigmoid, Activation.Tanh, Activation.Gelu }
        from input in new[] { "plain", "large mean", "constant channel", "tails" }
        select new object[] { activation, input };

    [Theory]
    [MemberData(nameof(Saturation))]
    public void Cpu_primitives_match_the_reference_in_both_modes(Activation activation, string input)
    {
        switch (activation)
        {
            case Activation.Identity: Check<IdentityActivation>(activation, input); break;
            case Activation.Relu: Check<ReluActivation>(activation, input); break;
            case Activation.Sigmoid: Check<SigmoidActivation>(activation, input); break;
            case Activation.Tanh: Check<TanhActivation>(activation, input); break;
            case Activation.Gelu: Check<GeluActivation>(activation, input); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation));
        }
    }

    private static void Check<TAct>(Activation activation, string input) where TAct : struct, IActivation
    {
        const int rows = 7, channels = 3, area = 6;
        int n = rows * channels * area;
        var rng = new Random(input.Length * 31 + (int)activation);
        var values = Uniform(rng, n, -2, 2);
        var w = Uniform(rng, channels, 0.5, 2);
        var b = Uniform(rng, channels, -1, 1);
        switch (input)
        {
            case "large mean": for (int i = 0; i < n; i++) values[i] = 3000f + values[i] / 64; break;
            case "constant channel": for (int r = 0; r < rows; r++) for (int i = 0; i < area; i++) values[r * channels * area + area + i] = 0.75f; break;
            case "tails": w = [40f, 60f, 80f]; b = [30f, -30f, 0f]; break;
        }
        var runningMean0 = Uniform(rng, channels, -0.5, 0.5);
        var runningVar0 = Uniform(rng, channels, 0.3, 3);

        float[] Run(int threadCount, out float[] pre, out float[] outp, out float[] rm, out float[] rv, out float[] mean, out float[] invStd, out float[] dx, out float[] dW, out float[] dB, float[] dOut)
        {
            var px = new PinnedFloats(values);
            var pw = new PinnedFloats(w);
            var pb = new PinnedFloats(b);
            var prm = new PinnedFloats(runningMean0);
            var prv = new PinnedFloats(runningVar0);
            var pm = new PinnedFloats(channels);
            var ps = new PinnedFloats(channels);
            var ppre = new PinnedFloats(n);
            var pout = new PinnedFloats(n);
            var pd = new PinnedFloats(dOut);
            var pdw = new PinnedFloats(channels);
            var pdb = new PinnedFloats(channels);
            using var threads = new CpuThreads(threadCount);
            BatchNorm.TrainingForward<TAct>(threads, rows, channels, area, 1e-5f, 0.1f, px, pw, pb, prm, prv, pm, ps, ppre, pout);
            BatchNorm.Backward<TAct>(threads, rows, channels, area, pd, ppre, pout, px, pw, pm, ps, pdw, pdb);
            (pre, outp, rm, rv, mean, invStd, dx, dW, dB) = (ppre.Values[..n], pout.Values[..n], prm.Values[..channels], prv.Values[..channels],
                pm.Values[..channels], ps.Values[..channels], pd.Values[..n], pdw.Values[..channels], pdb.Values[..channels]);
            var evalPre = new PinnedFloats(n);
            var evalOut = new PinnedFloats(n);
            BatchNorm.EvaluationForward<TAct>(threads, rows, channels, area, 1e-5f, px, pw, pb, new PinnedFloats(runningMean0), new PinnedFloats(runningVar0), evalPre, evalOut);
            return evalPre.Values[..n];
        }

        var dOut = Uniform(rng, n, -1, 1);
        var evalPre1 = Run(1, out var pre, out var output, out var rm, out var rv, out var mean, out var invStd, out var dx, out var dW, out var dB, dOut);
        var evalPre2 = Run(2, out var pre2, out _, out var rm2, out var rv2, out _, out _, out var dx2, out var dW2, out var dB2, dOut);
        // The per-channel sums run in one fixed order whatever the thread count: the same bits.
        Assert.Equal(pre, pre2);
        Assert.Equal(rm, rm2);
        Assert.Equal(rv, rv2);
        Assert.Equal(dx, dx2);
        Assert.Equal(dW, dW2);
        Assert.Equal(dB, dB2);
        Assert.Equal(evalPre1, evalPre2);

        var xd = Split(ToDouble(values), rows);
        var rmd = ToDouble(runningMean0);
        var rvd = ToDouble(runningVar0);
        var expected = ReferenceBatchNorm.TrainingForward(xd, channels, area, ToDouble(w), ToDouble(b), rmd, rvd, out var meanD, out var varianceD);
        // x - mean rounds relative to |x| (the large mean) and is scaled by inv_std; the rest are a few roundings of y.
        double Tolerance(int c, double value) =>
            64 * U * (Math.Abs(value) + Math.Abs(w[c]) * (1 + xd.Max(r => Math.Abs(r[c * area])) * Math.Sqrt(1 / (varianceD[c] + 1e-5)))) + FloatFloor;
        for (int c = 0; c < channels; c++)
        {
            Within(meanD[c], mean[c], 4 * U * Math.Abs(meanD[c]) + FloatFloor, $"mean[{c}]");
            Within(1 / Math.Sqrt(varianceD[c] + 1e-5), invStd[c], 16 * U / Math.Sqrt(varianceD[c] + 1e-5), $"inv_std[{c}] ({input})");
            Within(rmd[c], rm[c], 8 * U * (Math.Abs(rmd[c]) + Math.Abs(meanD[c])), $"running_mean[{c}]");
            Within(rvd[c], rv[c], 8 * U * rvd[c] + 1e-6 * Math.Abs(meanD[c]) * U, $"running_var[{c}] ({input})");
        }
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < channels; c++)
        for (int i = 0; i < area; i++)
        {
            int at = (r * channels + c) * area + i;
            Within(expected[r][c * area + i], pre[at], Tolerance(c, expected[r][c * area + i]), $"{input} pre[{r}, {c}, {i}]");
            Within(ReferenceActivations.Activate(activation, pre[at]), output[at], ActivationTolerance(activation, pre[at], derivative: false), $"{input} out[{at}]");
        }

        // Backward from the float forward's activation derivative, through the reference.
        var dy = new double[rows][];
        for (int r = 0; r < rows; r++)
            dy[r] = Enumerable.Range(0, channels * area).Select(j => dOut[r * channels * area + j] * ReferenceActivations.Derivative(activation, pre[r * channels * area + j])).ToArray();
        var dWd = new double[channels];
        var dBd = new double[channels];
        var dxd = ReferenceBatchNorm.TrainingBackward(xd, dy, channels, area, ToDouble(w), meanD, varianceD, dWd, dBd);
        double scale = dy.SelectMany(v => v).Sum(Math.Abs) + 1;
        for (int c = 0; c < channels; c++)
        {
            double s = Math.Sqrt(1 / (varianceD[c] + 1e-5));
            Within(dBd[c], dB[c], 1e-5 * scale, $"{input} dbias[{c}]");
            Within(dWd[c], dW[c], 1e-5 * scale * (1 + xd.Max(r => Math.Abs(r[c * area])) * s * 1e-3), $"{input} dweight[{c}]");
            for (int r = 0; r < rows; r++)
            for (int i = 0; i < area; i++)
                Within(dxd[r][c * area + i], dx[(r * channels + c) * area + i], 1e-4 * Math.Abs(w[c]) * s * scale / (rows * area) * (1 + xd.Max(q => Math.Abs(q[c * area])) * s * 1e-3), $"{input} dx[{r}, {c}, {i}]");
        }

        // Evaluation mode: the running statistics, one value at a time.
        var expectedEval = ReferenceBatchNorm.EvaluationForward(xd, channels, area, ToDouble(w), ToDouble(b), ToDouble(runningMean0), ToDouble(runningVar0));
        for (int r = 0; r < rows; r++)
        for (int j = 0; j < channels * area; j++)
            Within(expectedEval[r][j], evalPre1[r * channels * area + j], 64 * U * (Math.Abs(expectedEval[r][j]) + Math.Abs(w[j / area]) * (1 + Math.Abs(xd[r][j])) / Math.Sqrt(runningVar0[j / area])) + FloatFloor, $"{input} evaluation pre[{r}, {j}]");
    }
}
