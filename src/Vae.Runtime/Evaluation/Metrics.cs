using Vae.Noise;

namespace Vae.Evaluation;

/// <summary>
/// Figures that compare models whatever objective trained them: the standard ELBO (one sample, closed-form KL,
/// KL weight 1) and the number of active latent units.
/// </summary>
public static class Metrics
{
    /// <summary>
    /// The mean ELBO over a data set in nats per example: -log p(x|z) for one z = mu + exp(logvar / 2) eps per example
    /// (eps keyed by (seed, step 0, example index), as <see cref="VaeModel.Elbo(ReadOnlySpan{float}, ulong)"/> draws it)
    /// minus the closed-form KL, with KL weight 1 and no free bits. For an ELBO model with one latent sample it is what
    /// <see cref="VaeModel.Elbo(ReadOnlySpan{float}, ulong)"/> gives at KL weight 1; for an importance-weighted model it is the ELBO, not its bound.
    /// </summary>
    public static double Elbo(VaeModel model, ReadOnlySpan<float> data, ulong seed = 0) => Elbo(model, data, default, seed);

    /// <summary>The same for a conditional model's labelled data set.</summary>
    public static double Elbo(VaeModel model, ReadOnlySpan<float> data, ReadOnlySpan<int> labels, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        var d = model.Architecture;
        if (data.Length % d.Input != 0)
            throw new ArgumentException($"data has {data.Length} values, not a whole number of examples of Input = {d.Input}.", nameof(data));
        int n = data.Length / d.Input, j = d.Latent;
        int chunk = Math.Max(1, Math.Min(n, model.Backend.MaxExamples));
        var mu = new float[chunk * j];
        var logVar = new float[chunk * j];
        var z = new float[chunk * j];
        var nll = new float[chunk];
        double total = 0;
        for (int start = 0; start < n; start += chunk)
        {
            int count = Math.Min(chunk, n - start);
            var x = data.Slice(start * d.Input, count * d.Input);
            var y = labels.IsEmpty ? ReadOnlySpan<int>.Empty : labels.Slice(start, count);
            model.Encode(x, y, mu.AsSpan(0, count * j), logVar.AsSpan(0, count * j));
            Philox.FillNormal(seed, 0, start, count, 1, j, z.AsSpan(0, count * j));
            double kl = 0;
            for (int i = 0; i < count * j; i++)
            {
                float std = MathF.Exp(0.5f * logVar[i]);
                kl += 0.5 * ((double)mu[i] * mu[i] + (double)std * std - 1 - logVar[i]);
                z[i] = mu[i] + std * z[i];
            }
            var floatLabels = new float[y.Length];
            for (int i = 0; i < y.Length; i++) floatLabels[i] = y[i];
            model.Backend.DecoderNegativeLogLikelihood(z.AsSpan(0, count * j), x, floatLabels, count, 1, nll.AsSpan(0, count));
            for (int b = 0; b < count; b++) total -= nll[b];
            total -= kl;
        }
        return n == 0 ? 0 : total / n;
    }

    /// <summary>
    /// Active units (Burda et al. 2016): latent dimension j is active when Cov_x(E_q[z_j | x]) = Var_x(mu_j(x)) exceeds
    /// <paramref name="threshold"/> (0.01 in the paper) over the data set. Returns the count and each dimension's variance.
    /// </summary>
    public static (int Active, double[] Variances) ActiveUnits(VaeModel model, ReadOnlySpan<float> data, double threshold = 0.01) =>
        ActiveUnits(model, data, default, threshold);

    /// <summary>The same for a conditional model's labelled data set (the means are those of q(z|x, y)).</summary>
    public static (int Active, double[] Variances) ActiveUnits(VaeModel model, ReadOnlySpan<float> data, ReadOnlySpan<int> labels, double threshold = 0.01)
    {
        ArgumentNullException.ThrowIfNull(model);
        var d = model.Architecture;
        if (data.Length % d.Input != 0)
            throw new ArgumentException($"data has {data.Length} values, not a whole number of examples of Input = {d.Input}.", nameof(data));
        int n = data.Length / d.Input, j = d.Latent;
        var mu = new float[n * j];
        model.Encode(data, labels, mu, new float[n * j]);
        var variances = new double[j];
        for (int k = 0; k < j; k++)
        {
            double mean = 0;
            for (int b = 0; b < n; b++) mean += mu[b * j + k];
            mean /= Math.Max(1, n);
            double sum = 0;
            for (int b = 0; b < n; b++) sum += (mu[b * j + k] - mean) * (mu[b * j + k] - mean);
            variances[k] = n == 0 ? 0 : sum / n;
        }
        return (variances.Count(v => v > threshold), variances);
    }
}
