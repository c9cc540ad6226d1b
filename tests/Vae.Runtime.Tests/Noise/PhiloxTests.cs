using Vae.Noise;
using Xunit;

namespace Vae.Runtime.Tests.Noise;

public sealed class PhiloxTests
{
    // Known-answer vectors for philox4x32 with 10 rounds from Random123's tests/kat_vectors
    // (columns: counter[4], key[2], expected[4]).
    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u,
                0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
                0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
                0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Philox4x32_10_MatchesRandom123KnownAnswers(
        uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        var (x0, x1, x2, x3) = Philox.Philox4x32_10(c0, c1, c2, c3, k0, k1);
        Assert.Equal(e0, x0);
        Assert.Equal(e1, x1);
        Assert.Equal(e2, x2);
        Assert.Equal(e3, x3);
    }

    [Fact]
    public void Normal_FollowsTheDocumentedConvention()
    {
        // Rebuild one group by hand from the spec so a change to the counter/key layout or the transform is caught.
        const ulong seed = 0x0123456789ABCDEFul;
        const uint step = 17, example = 5, sample = 2;
        const int index = 9; // group 2, position 1
        var (r0, r1, _, _) = Philox.Philox4x32_10(index / 4, sample, example, step, 0x89ABCDEFu, 0x01234567u);
        float u0 = ((r0 >> 8) + 0.5f) * (1f / 16777216f);
        float u1 = ((r1 >> 8) + 0.5f) * (1f / 16777216f);
        float expected = MathF.Sqrt(-2f * MathF.Log(u0)) * MathF.Sin(6.2831855f * u1);

        Assert.Equal(expected, Philox.Normal(seed, step, example, sample, index));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 2, 4)]
    [InlineData(2, 3, 7)]
    [InlineData(4, 1, 10)]
    [InlineData(1, 5, 33)]
    public void FillNormal_AgreesWithNormalForEveryIndex(int examples, int samples, int latent)
    {
        const ulong seed = 42;
        const uint step = 3;
        const int firstExample = 11;
        var eps = new float[examples * samples * latent];
        Philox.FillNormal(seed, step, firstExample, examples, samples, latent, eps);

        for (int e = 0; e < examples; e++)
        {
            for (int s = 0; s < samples; s++)
            {
                for (int j = 0; j < latent; j++)
                {
                    float expected = Philox.Normal(seed, step, (uint)(firstExample + e), (uint)s, j);
                    Assert.Equal(expected, eps[((e * samples) + s) * latent + j]);
                }
            }
        }
    }

    [Fact]
    public void FillNormal_SplitBatchMatchesWholeBatch()
    {
        var whole = new float[6 * 2 * 5];
        Philox.FillNormal(7, 1, 0, 6, 2, 5, whole);
        var first = new float[2 * 2 * 5];
        var rest = new float[4 * 2 * 5];
        Philox.FillNormal(7, 1, 0, 2, 2, 5, first);
        Philox.FillNormal(7, 1, 2, 4, 2, 5, rest);
        Assert.Equal(whole, first.Concat(rest).ToArray());
    }

    [Fact]
    public void FillNormal_LeavesElementsBeyondTheRequestedSizeUntouched()
    {
        var eps = new float[10];
        Array.Fill(eps, float.MaxValue);
        Philox.FillNormal(1, 0, 0, 1, 1, 7, eps);
        Assert.All(eps.Take(7), v => Assert.NotEqual(float.MaxValue, v));
        Assert.All(eps.Skip(7), v => Assert.Equal(float.MaxValue, v));
    }

    [Fact]
    public void FillNormal_HasStandardNormalMoments()
    {
        // 100,000 draws: the standard error of the mean is ~0.0032, of the variance ~0.0045, of the kurtosis ~0.015,
        // of P(|x| < 1) ~0.0015. The bounds below are 6+ standard errors wide (a fixed seed cannot fail by chance),
        // yet a wrong transform (missing factor 2, swapped log, angle in the wrong unit, uniform bias) misses them by far.
        const int examples = 100, samples = 10, latent = 100;
        var eps = new float[examples * samples * latent];
        Philox.FillNormal(20240601, 9, 0, examples, samples, latent, eps);

        double sum = 0, sum2 = 0, sum4 = 0;
        int withinOne = 0;
        foreach (float v in eps)
        {
            Assert.True(float.IsFinite(v));
            sum += v;
            sum2 += (double)v * v;
            sum4 += (double)v * v * v * v;
            if (MathF.Abs(v) < 1f) withinOne++;
        }

        double n = eps.Length;
        double mean = sum / n;
        double variance = (sum2 / n) - (mean * mean);
        double kurtosis = (sum4 / n) / (variance * variance);
        double fractionWithinOne = withinOne / n;

        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.97, 1.03);
        Assert.InRange(kurtosis, 2.9, 3.1);
        Assert.InRange(fractionWithinOne, 0.6827 - 0.01, 0.6827 + 0.01);
    }

    [Fact]
    public void PairsFromOneRadiusAreUncorrelated()
    {
        // Positions 0 and 1 share a radius; a cos/cos or sin/sin mistake would correlate them strongly.
        const int latent = 4;
        const int examples = 25000;
        var eps = new float[examples * latent];
        Philox.FillNormal(99, 0, 0, examples, 1, latent, eps);
        double cross01 = 0, cross23 = 0;
        for (int e = 0; e < examples; e++)
        {
            cross01 += (double)eps[e * latent] * eps[e * latent + 1];
            cross23 += (double)eps[e * latent + 2] * eps[e * latent + 3];
        }

        Assert.InRange(cross01 / examples, -0.04, 0.04);
        Assert.InRange(cross23 / examples, -0.04, 0.04);
    }

    [Fact]
    public void DifferentCoordinatesGiveDifferentValues()
    {
        float baseline = Philox.Normal(5, 10, 20, 30, 6);
        Assert.NotEqual(baseline, Philox.Normal(6, 10, 20, 30, 6));
        Assert.NotEqual(baseline, Philox.Normal(5 | (1ul << 32), 10, 20, 30, 6));
        Assert.NotEqual(baseline, Philox.Normal(5, 11, 20, 30, 6));
        Assert.NotEqual(baseline, Philox.Normal(5, 10, 21, 30, 6));
        Assert.NotEqual(baseline, Philox.Normal(5, 10, 20, 31, 6));
        Assert.NotEqual(baseline, Philox.Normal(5, 10, 20, 30, 7));
        Assert.NotEqual(baseline, Philox.Normal(5, 10, 20, 30, 10));

        // Whole rows for neighbouring steps must not coincide either.
        var a = new float[64];
        var b = new float[64];
        Philox.FillNormal(5, 10, 0, 1, 1, 64, a);
        Philox.FillNormal(5, 11, 0, 1, 1, 64, b);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void DrawsAreDeterministic()
    {
        var a = new float[3 * 2 * 9];
        var b = new float[3 * 2 * 9];
        Philox.FillNormal(123456789012345ul, 77, 4, 3, 2, 9, a);
        Philox.FillNormal(123456789012345ul, 77, 4, 3, 2, 9, b);
        Assert.Equal(a, b);
        Assert.Equal(Philox.Normal(1, 2, 3, 4, 5), Philox.Normal(1, 2, 3, 4, 5));
    }

    [Fact]
    public void UniformMappingStaysInsideTheLogDomain()
    {
        Assert.Equal(1f / 33554432f, Philox.ToUniform(0u));
        Assert.Equal(1f / 33554432f, Philox.ToUniform(0xFFu));
        Assert.Equal(0.5f - (0.5f / 16777216f), Philox.ToUniform(0x7FFFFF00u));

        // Above 2^23 the +0.5 rounds to even; at the very top it reaches 1, where the radius is 0 (not NaN).
        Assert.Equal(1f, Philox.ToUniform(0xFFFFFFFFu));
        foreach (uint r in new[] { 0u, 1u, 0x80000000u, 0xFFFFFEFFu, 0xFFFFFFFFu })
        {
            var (a, b) = Philox.BoxMuller(Philox.ToUniform(r), Philox.ToUniform(~r));
            Assert.True(float.IsFinite(a) && float.IsFinite(b), $"r = {r:x8}");
        }
    }

    [Fact]
    public void ArgumentErrorsAreReported()
    {
        var ex = Assert.Throws<ArgumentException>(() => Philox.FillNormal(1, 0, 0, 2, 3, 4, new float[23]));
        Assert.Equal("eps", ex.ParamName);
        Assert.Contains("24", ex.Message);

        Assert.Throws<ArgumentOutOfRangeException>(() => Philox.FillNormal(1, 0, -1, 1, 1, 1, new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Philox.FillNormal(1, 0, 0, -1, 1, 1, new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Philox.FillNormal(1, 0, 0, 1, -1, 1, new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Philox.FillNormal(1, 0, 0, 1, 1, -1, new float[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Philox.Normal(1, 0, 0, 0, -1));

        // Empty requests are fine and touch nothing.
        Philox.FillNormal(1, 0, 0, 0, 5, 5, Span<float>.Empty);
    }
}
