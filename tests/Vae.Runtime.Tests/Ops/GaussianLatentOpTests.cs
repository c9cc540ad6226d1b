using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// The Gaussian latent alone (reparameterised sample and closed-form KL): the double reference against central
/// differences, and the CPU's <see cref="Reparameterization"/> against the reference.
/// </summary>
public class GaussianLatentOpTests
{
    /// <summary>Means and log variances from the ordinary to the extreme (exp(+-40) still fits a float).</summary>
    private static readonly double[] Mu = [0.3, -1.7, 100, -100, 0, 12];
    private static readonly double[] LogVar = [-0.4, 2.2, -40, 40, -30, 30];

    [Fact]
    public void Reference_gradient_matches_central_differences()
    {
        const int latent = 6, samples = 2, batch = 3;
        const double beta = 0.7;
        var rng = new Random(5);
        var eps = new double[samples][];
        var c = new double[samples][];
        for (int s = 0; s < samples; s++)
        {
            eps[s] = ToDouble(Uniform(rng, latent, -2.5, 2.5));
            c[s] = ToDouble(Uniform(rng, latent, -1, 1));
        }
        // L = sum_s c_s . z_s + beta KL / batch: the latent's share of a loss whose gradient with respect to z_s is c_s.
        double L(double[] mu, double[] logVar)
        {
            double sum = beta * ReferenceGaussianLatent.Kl(mu, logVar) / batch;
            for (int s = 0; s < samples; s++)
            {
                var z = ReferenceGaussianLatent.Sample(mu, logVar, eps[s]);
                for (int j = 0; j < latent; j++) sum += c[s][j] * z[j];
            }
            return sum;
        }
        var dMu = new double[latent];
        var dLogVar = new double[latent];
        for (int s = 0; s < samples; s++) ReferenceGaussianLatent.SampleBackward(LogVar, eps[s], c[s], dMu, dLogVar);
        ReferenceGaussianLatent.KlBackward(Mu, LogVar, beta, batch, dMu, dLogVar);

        // The terms of L: each c z (with z's own terms mu and sigma eps) and each KL term.
        double magnitude = 0;
        for (int j = 0; j < latent; j++)
        {
            double sigma = Math.Exp(0.5 * LogVar[j]);
            for (int s = 0; s < samples; s++) magnitude += Math.Abs(c[s][j]) * (Math.Abs(Mu[j]) + sigma * Math.Abs(eps[s][j]));
            magnitude += beta / batch * (Mu[j] * Mu[j] + sigma * sigma + 1 + Math.Abs(LogVar[j]));
        }
        GradientMatchesCentralDifferences(v => L(v, LogVar), Mu, dMu, magnitude, "dmu");
        GradientMatchesCentralDifferences(v => L(Mu, v), LogVar, dLogVar, magnitude, "dlogvar");
    }

    [Fact]
    public void Reference_values_by_hand()
    {
        // mu = 1, logvar = log 4: z = 1 + 2 eps; KL = 0.5 (1 + 4 - 1 - log 4).
        Assert.Equal([2.0], ReferenceGaussianLatent.Sample([1], [Math.Log(4)], [0.5]));
        Assert.Equal(0.5 * (4 - Math.Log(4)), ReferenceGaussianLatent.Kl([1], [Math.Log(4)]), 14);
        Assert.Equal(0.0, ReferenceGaussianLatent.Kl([0, 0], [0, 0]));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 6, 1)]
    [InlineData(7, 6, 3)]
    [InlineData(4, 17, 2)]
    public unsafe void Cpu_reparameterization_matches_the_reference(int rows, int latent, int samples)
    {
        var rng = new Random(rows * 100 + latent * 10 + samples);
        // Heads [rows, 2J]: the first row takes the extreme means and log variances above, the rest are ordinary.
        var heads = new PinnedFloats(Uniform(rng, rows * 2 * latent, -3, 3));
        for (int j = 0; j < Math.Min(latent, Mu.Length); j++)
        {
            heads.Values[j] = (float)Mu[j];
            heads.Values[latent + j] = (float)LogVar[j];
        }
        var eps = new PinnedFloats(Uniform(rng, rows * samples * latent, -3, 3));
        var dz = new PinnedFloats(Uniform(rng, rows * samples * latent, -1, 1));
        var z = new PinnedFloats(rows * samples * latent);
        var kl = new PinnedFloats(rows);
        var dHeads = new PinnedFloats(rows * 2 * latent);
        const double beta = 1.5;
        float klWeight = (float)(beta / rows);
        Reparameterization.Forward(rows, latent, samples, heads, eps, z, kl);
        Reparameterization.Backward(rows, latent, samples, heads, eps, dz, klWeight, Floats.Null, dHeads);

        for (int r = 0; r < rows; r++)
        {
            var mu = ToDouble(heads.Values.AsSpan(r * 2 * latent, latent));
            var logVar = ToDouble(heads.Values.AsSpan(r * 2 * latent + latent, latent));
            // exp(v) in float is off by |v| U relative besides its own rounding (v's last bit scales the result).
            double KlTerm(int j) => mu[j] * mu[j] + Math.Exp(logVar[j]) * (2 + Math.Abs(logVar[j])) + 1 + Math.Abs(logVar[j]);
            double klTerms = 0;
            for (int j = 0; j < latent; j++) klTerms += KlTerm(j);
            Within(ReferenceGaussianLatent.Kl(mu, logVar), kl.Values[r], (latent + 4) * U * klTerms + FloatFloor, $"kl[{r}]");

            var dMu = new double[latent];
            var dLogVar = new double[latent];
            var gMu = new double[latent];
            var gLogVar = new double[latent];
            for (int s = 0; s < samples; s++)
            {
                int row = r * samples + s;
                var e = ToDouble(eps.Values.AsSpan(row * latent, latent));
                var g = ToDouble(dz.Values.AsSpan(row * latent, latent));
                var expectedZ = ReferenceGaussianLatent.Sample(mu, logVar, e);
                for (int j = 0; j < latent; j++)
                {
                    double spread = Math.Exp(0.5 * logVar[j]) * Math.Abs(e[j]);
                    Within(expectedZ[j], z.Values[row * latent + j], 4 * U * (Math.Abs(mu[j]) + spread * (2 + Math.Abs(logVar[j]))) + FloatFloor,
                        $"z[{r}, {s}, {j}] (mu {mu[j]}, logvar {logVar[j]})");
                }
                ReferenceGaussianLatent.SampleBackward(logVar, e, g, dMu, dLogVar);
                // Bounds: the same sums over magnitudes.
                ReferenceGaussianLatent.SampleBackward(logVar, Abs(e), Abs(g), gMu, gLogVar);
            }
            ReferenceGaussianLatent.KlBackward(mu, logVar, beta, rows, dMu, dLogVar);
            for (int j = 0; j < latent; j++)
            {
                double std2 = Math.Exp(logVar[j]) * (2 + Math.Abs(logVar[j]));
                double muBound = (samples + 4) * U * (gMu[j] + beta / rows * Math.Abs(mu[j]));
                // The sample term scaled for exp's rounding, as for z.
                double logVarBound = (samples + 4) * U * (gLogVar[j] * (2 + Math.Abs(logVar[j])) + beta / rows * 0.5 * (std2 + 1));
                Within(dMu[j], dHeads.Values[r * 2 * latent + j], muBound + FloatFloor, $"dmu[{r}, {j}]");
                Within(dLogVar[j], dHeads.Values[r * 2 * latent + latent + j], logVarBound + FloatFloor, $"dlogvar[{r}, {j}] (logvar {logVar[j]})");
            }
        }
    }
}
