namespace Vae;

/// <summary>
/// How a VQ-VAE's codebook is used over a data set: how often each code was chosen, the perplexity of that histogram and
/// the number of codes chosen at least once (<see cref="VaeModel.CodeUsage"/>).
/// </summary>
/// <param name="Counts">Positions that chose each code, [Codes].</param>
/// <param name="Perplexity">exp of the histogram's entropy, exp(-sum_k p_k log(p_k + 1e-10)): 1 when one code takes everything, K when all are used equally; NaN for no positions.</param>
/// <param name="CodesUsed">Codes chosen at least once.</param>
public sealed record CodebookUsage(long[] Counts, double Perplexity, int CodesUsed)
{
    /// <summary>The usage of a histogram of codes, computed as the PyTorch peer computes it (in double).</summary>
    /// <exception cref="ArgumentException">A count is negative.</exception>
    public static CodebookUsage FromCounts(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts)
        {
            if (c < 0) throw new ArgumentException("A code count is negative.", nameof(counts));
            total += c;
        }
        double entropy = 0;
        int used = 0;
        foreach (long c in counts)
        {
            double p = (double)c / total;
            entropy -= p * Math.Log(p + 1e-10);
            if (c > 0) used++;
        }
        return new CodebookUsage(counts.ToArray(), Math.Exp(entropy), used);
    }
}
