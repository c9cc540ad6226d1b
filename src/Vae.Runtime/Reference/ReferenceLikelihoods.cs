namespace Vae.Reference;

/// <summary>
/// The reference of every <see cref="Likelihood"/> in double precision, one row at a time: -log p(x | decoder output)
/// in nats with its constants, and its gradient with respect to the output. The counterpart of
/// <c>Kernels/Cpu/Likelihoods.cs</c>, without the gradient's batch scale (the caller applies it).
/// </summary>
public static class ReferenceLikelihoods
{
    /// <summary>
    /// Bernoulli with logits l: nll = sum_i softplus(l_i) - x_i l_i, written max(l, 0) + log(1 + exp(-|l|)) - x l so
    /// no logit overflows; dnll/dl = sigmoid(l) - x.
    /// </summary>
    public static double Bernoulli(ReadOnlySpan<double> x, ReadOnlySpan<double> logits, Span<double> dLogits)
    {
        CheckLengths(x, logits, nameof(logits), dLogits, nameof(dLogits));
        double nll = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double l = logits[i];
            nll += Math.Max(l, 0) - x[i] * l + Math.Log(1 + Math.Exp(-Math.Abs(l)));
            dLogits[i] = 1 / (1 + Math.Exp(-l)) - x[i];
        }
        return nll;
    }

    /// <summary>
    /// Gaussian with a fixed standard deviation: nll = sum_i (x_i - m_i)^2 / (2 sigma^2) + log(2 pi sigma^2) / 2;
    /// dnll/dm = (m - x) / sigma^2.
    /// </summary>
    public static double Gaussian(ReadOnlySpan<double> x, ReadOnlySpan<double> mean, double sigma, Span<double> dMean)
    {
        CheckLengths(x, mean, nameof(mean), dMean, nameof(dMean));
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "Sigma must be > 0.");
        double s2 = sigma * sigma;
        double nll = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double diff = mean[i] - x[i];
            nll += 0.5 * diff * diff / s2 + 0.5 * Math.Log(2 * Math.PI * s2);
            dMean[i] = diff / s2;
        }
        return nll;
    }

    /// <summary>
    /// Gaussian whose log variance v is a second decoder head: nll = sum_i (log(2 pi) + v_i + (x_i - m_i)^2 exp(-v_i)) / 2;
    /// dnll/dm = (m - x) exp(-v), dnll/dv = (1 - (x - m)^2 exp(-v)) / 2.
    /// </summary>
    public static double GaussianLearnedVariance(ReadOnlySpan<double> x, ReadOnlySpan<double> mean, ReadOnlySpan<double> logVar,
        Span<double> dMean, Span<double> dLogVar)
    {
        CheckLengths(x, mean, nameof(mean), dMean, nameof(dMean));
        CheckLengths(x, logVar, nameof(logVar), dLogVar, nameof(dLogVar));
        double nll = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double diff = x[i] - mean[i];
            double precision = Math.Exp(-logVar[i]);
            nll += 0.5 * (Math.Log(2 * Math.PI) + logVar[i] + diff * diff * precision);
            dMean[i] = -diff * precision;
            dLogVar[i] = 0.5 * (1 - diff * diff * precision);
        }
        return nll;
    }

    /// <summary>
    /// The mean squared error per value (a VQ-VAE's reconstruction loss, not a log-likelihood):
    /// loss = (1/n) sum_i (m_i - x_i)^2; dloss/dm = 2 (m - x) / n.
    /// </summary>
    public static double MeanSquaredError(ReadOnlySpan<double> x, ReadOnlySpan<double> mean, Span<double> dMean)
    {
        CheckLengths(x, mean, nameof(mean), dMean, nameof(dMean));
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double diff = mean[i] - x[i];
            sum += diff * diff;
            dMean[i] = 2 * diff / x.Length;
        }
        return x.Length == 0 ? 0 : sum / x.Length;
    }

    private static void CheckLengths(ReadOnlySpan<double> x, ReadOnlySpan<double> values, string valuesName, Span<double> gradient, string gradientName)
    {
        if (values.Length != x.Length) throw new ArgumentException($"{valuesName} has {values.Length} values for {x.Length} data values.", valuesName);
        if (gradient.Length != x.Length) throw new ArgumentException($"{gradientName} has {gradient.Length} values for {x.Length} data values.", gradientName);
    }
}
