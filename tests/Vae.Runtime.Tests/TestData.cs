using Vae.Noise;

namespace Vae.Runtime.Tests;

/// <summary>Deterministic inputs for tests: data in the likelihood's range and standard-normal noise.</summary>
internal static class TestData
{
    /// <summary>[examples, input] values: in [0, 1] for Bernoulli (some exactly 0 or 1), roughly N(0.5, 1) otherwise.</summary>
    public static float[] Inputs(ModelDescriptor d, int examples, ulong seed)
    {
        var x = new float[examples * d.Input];
        for (int i = 0; i < x.Length; i++)
        {
            var r = Philox.Philox4x32_10((uint)i, 7, 0, 0, (uint)seed, (uint)(seed >> 32));
            double u = (r.X0 + 0.5) / 4294967296.0;
            x[i] = d.Likelihood == Likelihood.Bernoulli
                ? (r.X1 % 4 == 0 ? 0f : r.X1 % 4 == 1 ? 1f : (float)u)
                : 0.5f + Philox.Normal(seed, 9, (uint)i, 0, 0);
        }
        return x;
    }

    /// <summary>[examples, L, Latent] standard-normal noise.</summary>
    public static float[] Noise(ModelDescriptor d, int examples, ulong seed)
    {
        var eps = new float[examples * d.LatentSamples * d.Latent];
        Philox.FillNormal(seed, 1234, 0, examples, d.LatentSamples, d.Latent, eps);
        return eps;
    }

    /// <summary>A conditional model's labels, every class used; empty for an unconditional model.</summary>
    public static int[] Labels(ModelDescriptor d, int examples, ulong seed) =>
        d.Classes == 0 ? [] : Enumerable.Range(0, examples).Select(i => (int)(Philox.Philox4x32_10((uint)i, 11, 0, 0, (uint)seed, 0).X0 % (uint)d.Classes)).ToArray();

    /// <summary>Initial parameters scaled up so that activations leave their linear regions and gradients are not tiny.</summary>
    public static float[] Parameters(ModelDescriptor d, ulong seed, float scale = 1.5f)
    {
        var p = VaeModel.InitialParameters(d, seed);
        for (int i = 0; i < p.Length; i++) p[i] *= scale;
        return p;
    }
}
