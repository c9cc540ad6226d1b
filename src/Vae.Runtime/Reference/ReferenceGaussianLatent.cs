namespace Vae.Reference;

/// <summary>
/// The reference of the diagonal Gaussian latent in double precision, one example at a time: the reparameterised
/// sample z = mu + exp(logvar / 2) eps, the closed-form KL(N(mu, exp(logvar)) || N(0, I)) and the gradients of
/// both. The counterpart of <c>Kernels/Cpu/Reparameterization.cs</c>.
/// </summary>
public static class ReferenceGaussianLatent
{
    /// <summary>z[j] = mu[j] + exp(logVar[j] / 2) eps[j].</summary>
    public static double[] Sample(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar, ReadOnlySpan<double> eps)
    {
        CheckLengths(mu, logVar, eps.Length, nameof(eps));
        var z = new double[mu.Length];
        for (int j = 0; j < z.Length; j++) z[j] = mu[j] + Math.Exp(0.5 * logVar[j]) * eps[j];
        return z;
    }

    /// <summary>KL = sum_j 0.5 (mu^2 + exp(logvar) - 1 - logvar), in nats.</summary>
    public static double Kl(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar)
    {
        CheckLengths(mu, logVar, mu.Length, nameof(mu));
        double kl = 0;
        for (int j = 0; j < mu.Length; j++) kl += 0.5 * (mu[j] * mu[j] + Math.Exp(logVar[j]) - 1 - logVar[j]);
        return kl;
    }

    /// <summary>
    /// Adds dL/dmu += dL/dz and dL/dlogvar += dL/dz eps exp(logvar / 2) / 2 for one noise sample, so calling it for
    /// every sample sums them.
    /// </summary>
    public static void SampleBackward(ReadOnlySpan<double> logVar, ReadOnlySpan<double> eps, ReadOnlySpan<double> dz,
        Span<double> dMu, Span<double> dLogVar)
    {
        CheckLengths(logVar, logVar, eps.Length, nameof(eps));
        CheckLengths(logVar, logVar, dz.Length, nameof(dz));
        CheckGradients(logVar.Length, dMu, dLogVar);
        for (int j = 0; j < logVar.Length; j++)
        {
            dMu[j] += dz[j];
            dLogVar[j] += dz[j] * eps[j] * 0.5 * Math.Exp(0.5 * logVar[j]);
        }
    }

    /// <summary>
    /// Adds the gradient of <paramref name="beta"/> KL / <paramref name="batch"/> (the KL's share of a loss that is a
    /// mean over a batch): dmu += beta mu / batch, dlogvar += beta (exp(logvar) - 1) / (2 batch).
    /// </summary>
    public static void KlBackward(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar, double beta, int batch,
        Span<double> dMu, Span<double> dLogVar)
    {
        CheckLengths(mu, logVar, mu.Length, nameof(mu));
        CheckGradients(mu.Length, dMu, dLogVar);
        for (int j = 0; j < mu.Length; j++)
        {
            dMu[j] += beta * mu[j] / batch;
            dLogVar[j] += beta * 0.5 * (Math.Exp(logVar[j]) - 1) / batch;
        }
    }

    /// <summary>KL of each dimension: 0.5 (mu^2 + exp(logvar) - 1 - logvar).</summary>
    public static double[] KlPerDimension(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar)
    {
        CheckLengths(mu, logVar, mu.Length, nameof(mu));
        var kl = new double[mu.Length];
        for (int j = 0; j < kl.Length; j++) kl[j] = 0.5 * (mu[j] * mu[j] + Math.Exp(logVar[j]) - 1 - logVar[j]);
        return kl;
    }

    /// <summary>As <see cref="KlBackward(ReadOnlySpan{double}, ReadOnlySpan{double}, double, int, Span{double}, Span{double})"/>, each dimension's share multiplied by <paramref name="mask"/>[j] (free bits).</summary>
    public static void KlBackward(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar, double beta, int batch, ReadOnlySpan<double> mask,
        Span<double> dMu, Span<double> dLogVar)
    {
        CheckLengths(mu, logVar, mask.Length, nameof(mask));
        CheckGradients(mu.Length, dMu, dLogVar);
        for (int j = 0; j < mu.Length; j++)
        {
            dMu[j] += mask[j] * beta * mu[j] / batch;
            dLogVar[j] += mask[j] * beta * 0.5 * (Math.Exp(logVar[j]) - 1) / batch;
        }
    }

    /// <summary>log p(z) - log q(z|x) for z = mu + exp(logvar / 2) eps: sum_j (eps^2 - z^2 + logvar) / 2.</summary>
    public static double LogRatio(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar, ReadOnlySpan<double> eps)
    {
        var z = Sample(mu, logVar, eps);
        double ratio = 0;
        for (int j = 0; j < z.Length; j++) ratio += 0.5 * (eps[j] * eps[j] - z[j] * z[j] + logVar[j]);
        return ratio;
    }

    private static void CheckLengths(ReadOnlySpan<double> mu, ReadOnlySpan<double> logVar, int other, string otherName)
    {
        if (logVar.Length != mu.Length) throw new ArgumentException($"logVar has {logVar.Length} values for {mu.Length} means.", nameof(logVar));
        if (other != mu.Length) throw new ArgumentException($"{otherName} has {other} values for a latent of {mu.Length}.", otherName);
    }

    private static void CheckGradients(int latent, Span<double> dMu, Span<double> dLogVar)
    {
        if (dMu.Length != latent) throw new ArgumentException($"dMu has {dMu.Length} values for a latent of {latent}.", nameof(dMu));
        if (dLogVar.Length != latent) throw new ArgumentException($"dLogVar has {dLogVar.Length} values for a latent of {latent}.", nameof(dLogVar));
    }
}
