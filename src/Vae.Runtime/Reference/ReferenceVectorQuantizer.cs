using Vae.Noise;

namespace Vae.Reference;

/// <summary>
/// The reference of the vector quantiser (VQ-VAE, van den Oord et al. 2017) in double precision, written plainly:
/// N encoder outputs z [N, D] row-major, a codebook E [K, D] row-major, code indices [N]. The counterpart of
/// <c>Kernels/Cpu/VectorQuantizer.cs</c>, whose class remarks state the contract both follow; the objective and the EMA
/// step are those of the PyTorch peer <c>torch_vqvae.py</c>.
/// </summary>
public static class ReferenceVectorQuantizer
{
    /// <summary>The peer's Laplace smoothing of the EMA cluster sizes.</summary>
    public const double LaplaceEpsilon = 1e-5;

    /// <summary>The Philox counter word of the restart draws ("RSTR").</summary>
    public const uint RestartStream = 0x5253_5452u;

    /// <summary>
    /// The squared distance sum_d (z[d] - e[d])^2, added in ascending d: the distance the code choice is defined by on
    /// every target (float inputs widened to double give the same bits everywhere).
    /// </summary>
    public static double SquaredDistance(ReadOnlySpan<double> z, ReadOnlySpan<double> e)
    {
        if (e.Length != z.Length) throw new ArgumentException($"e has {e.Length} values for a z of {z.Length}.", nameof(e));
        double s = 0;
        for (int d = 0; d < z.Length; d++)
        {
            double t = z[d] - e[d];
            s += t * t;
        }
        return s;
    }

    /// <summary>
    /// The nearest code of one row <paramref name="z"/> [D]: the lowest index with the least
    /// <see cref="SquaredDistance"/>; a NaN distance never wins; 0 when every distance is NaN.
    /// </summary>
    public static int Nearest(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook)
    {
        int dim = z.Length;
        int codes = Codes(codebook, dim);
        int best = -1;
        double bestDistance = 0;
        for (int k = 0; k < codes; k++)
        {
            double d = SquaredDistance(z, codebook.Slice(k * dim, dim));
            if (best < 0 ? !double.IsNaN(d) : d < bestDistance)
            {
                best = k;
                bestDistance = d;
            }
        }
        return Math.Max(best, 0);
    }

    /// <summary>The nearest code of every row of <paramref name="z"/> [N, D].</summary>
    public static int[] Assign(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, int dim)
    {
        int rows = Rows(z, dim);
        Codes(codebook, dim);
        var codes = new int[rows];
        for (int n = 0; n < rows; n++) codes[n] = Nearest(z.Slice(n * dim, dim), codebook);
        return codes;
    }

    /// <summary>z_q [N, D] = E[codes[n]].</summary>
    public static double[] Gather(ReadOnlySpan<int> codes, ReadOnlySpan<double> codebook, int dim)
    {
        int k = Codes(codebook, dim);
        var zq = new double[codes.Length * dim];
        for (int n = 0; n < codes.Length; n++)
        {
            if ((uint)codes[n] >= (uint)k) throw new ArgumentOutOfRangeException(nameof(codes), codes[n], $"Code of row {n} is outside the codebook of {k} codes.");
            codebook.Slice(codes[n] * dim, dim).CopyTo(zq.AsSpan(n * dim, dim));
        }
        return zq;
    }

    /// <summary>The squared distance of each row to its assigned code.</summary>
    public static double[] Distances(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim)
    {
        int rows = CheckAssignment(z, codebook, codes, dim);
        var distance = new double[rows];
        for (int n = 0; n < rows; n++) distance[n] = SquaredDistance(z.Slice(n * dim, dim), codebook.Slice(codes[n] * dim, dim));
        return distance;
    }

    /// <summary>mean over the N D elements of (z - E[code])^2: the peer's <c>F.mse_loss(flat, e)</c>.</summary>
    public static double SquaredErrorMean(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim)
    {
        var distance = Distances(z, codebook, codes, dim);
        if (distance.Length == 0) return 0;
        double sum = 0;
        foreach (double d in distance) sum += d;
        return sum / ((double)distance.Length * dim);
    }

    /// <summary>The commitment loss beta mean ||z_e - sg[e]||^2 (mean over positions and dimensions).</summary>
    public static double CommitmentLoss(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim, double beta) =>
        beta * SquaredErrorMean(z, codebook, codes, dim);

    /// <summary>The codebook loss mean ||sg[z_e] - e||^2 (Decay 0 only).</summary>
    public static double CodebookLoss(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim) =>
        SquaredErrorMean(z, codebook, codes, dim);

    /// <summary>
    /// dL/dz_e [N, D] = dL/dz_q (copied straight through) + 2 beta (z_e - E[code]) / (N D), the commitment loss's
    /// gradient, with the assignment held fixed.
    /// </summary>
    public static double[] StraightThroughBackward(ReadOnlySpan<double> dZq, ReadOnlySpan<double> z, ReadOnlySpan<double> codebook,
        ReadOnlySpan<int> codes, int dim, double beta)
    {
        int rows = CheckAssignment(z, codebook, codes, dim);
        if (dZq.Length != z.Length) throw new ArgumentException($"dZq has {dZq.Length} values for a z of {z.Length}.", nameof(dZq));
        var dz = new double[z.Length];
        double scale = 2 * beta / ((double)rows * dim);
        for (int n = 0; n < rows; n++)
        for (int d = 0; d < dim; d++)
        {
            int i = n * dim + d;
            dz[i] = dZq[i] + scale * (z[i] - codebook[codes[n] * dim + d]);
        }
        return dz;
    }

    /// <summary>dL/dE [K, D] of the codebook loss: 2 sum over the rows n assigned to k of (E[k] - z[n]) / (N D).</summary>
    public static double[] CodebookGradient(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim)
    {
        int rows = CheckAssignment(z, codebook, codes, dim);
        var dE = new double[codebook.Length];
        double scale = 2.0 / ((double)rows * dim);
        for (int n = 0; n < rows; n++)
        for (int d = 0; d < dim; d++)
            dE[codes[n] * dim + d] += scale * (codebook[codes[n] * dim + d] - z[n * dim + d]);
        return dE;
    }

    /// <summary>The number of rows assigned to each of <paramref name="k"/> codes.</summary>
    public static long[] Histogram(ReadOnlySpan<int> codes, int k)
    {
        var counts = new long[k];
        foreach (int c in codes) counts[c]++;
        return counts;
    }

    /// <summary>
    /// One EMA step of the peer, in place, returning this batch's counts n_i:
    /// N_i = gamma N_i + (1 - gamma) n_i; m_i = gamma m_i + (1 - gamma) sum_{n: code n = i} z_n; n = sum_i N_i;
    /// size_i = (N_i + 1e-5) / (n + K 1e-5) n; e_i = m_i / size_i. clusterSize [K], embedSum and codebook [K, D].
    /// </summary>
    public static long[] EmaStep(ReadOnlySpan<double> z, ReadOnlySpan<int> codes, int dim, double decay,
        Span<double> clusterSize, Span<double> embedSum, Span<double> codebook)
    {
        int k = Codes(codebook, dim);
        CheckAssignment(z, codebook, codes, dim);
        if (clusterSize.Length != k) throw new ArgumentException($"clusterSize has {clusterSize.Length} values for {k} codes.", nameof(clusterSize));
        if (embedSum.Length != codebook.Length) throw new ArgumentException($"embedSum has {embedSum.Length} values for a codebook of {codebook.Length}.", nameof(embedSum));
        var counts = Histogram(codes, k);
        var sums = new double[codebook.Length];
        for (int n = 0; n < codes.Length; n++)
        for (int d = 0; d < dim; d++)
            sums[codes[n] * dim + d] += z[n * dim + d];
        for (int i = 0; i < k; i++)
        {
            clusterSize[i] = decay * clusterSize[i] + (1 - decay) * counts[i];
            for (int d = 0; d < dim; d++) embedSum[i * dim + d] = decay * embedSum[i * dim + d] + (1 - decay) * sums[i * dim + d];
        }
        double total = 0;
        for (int i = 0; i < k; i++) total += clusterSize[i];
        for (int i = 0; i < k; i++)
        {
            double size = (clusterSize[i] + LaplaceEpsilon) / (total + k * LaplaceEpsilon) * total;
            for (int d = 0; d < dim; d++) codebook[i * dim + d] = embedSum[i * dim + d] / size;
        }
        return counts;
    }

    /// <summary>exp(-sum_k p_k log(p_k + 1e-10)), p = counts / sum(counts): the peer's perplexity; NaN for no counts.</summary>
    public static double Perplexity(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (long c in counts) total += c;
        double entropy = 0;
        foreach (long c in counts)
        {
            double p = (double)c / total;
            entropy -= p * Math.Log(p + 1e-10);
        }
        return Math.Exp(entropy);
    }

    /// <summary>The number of codes chosen at least once.</summary>
    public static int CodesUsed(ReadOnlySpan<long> counts)
    {
        int used = 0;
        foreach (long c in counts) if (c > 0) used++;
        return used;
    }

    /// <summary>idle[k] = 0 for a code the step used, else idle[k] + 1 (saturating): consecutive unused steps.</summary>
    public static void UpdateIdle(ReadOnlySpan<long> counts, Span<int> idle)
    {
        for (int k = 0; k < counts.Length; k++) idle[k] = counts[k] > 0 ? 0 : idle[k] == int.MaxValue ? int.MaxValue : idle[k] + 1;
    }

    /// <summary>
    /// The batch row for the j-th code restarted at <paramref name="step"/>: ((X0 &lt;&lt; 32) | X1) mod N of
    /// Philox4x32-10 with counter (j, step, "RSTR", 0) and key (seed low 32 bits, seed high 32 bits).
    /// </summary>
    public static int RestartRow(ulong seed, uint step, int j, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        var (x0, x1, _, _) = Philox.Philox4x32_10((uint)j, step, RestartStream, 0, (uint)seed, (uint)(seed >> 32));
        return (int)((((ulong)x0 << 32) | x1) % (ulong)rows);
    }

    /// <summary>
    /// Restarts, in ascending code order, every code idle for at least <paramref name="restartAfter"/> steps (0: never):
    /// the j-th becomes z[<see cref="RestartRow"/>(seed, step, j, N)]; with EMA state (non-empty spans) its cluster size
    /// becomes 1 and its embedding sum that row; its idle counter 0. Returns the codes restarted, in order.
    /// </summary>
    public static List<int> RestartDeadCodes(ReadOnlySpan<double> z, int dim, Span<int> idle, int restartAfter, ulong seed, uint step,
        Span<double> codebook, Span<double> clusterSize, Span<double> embedSum)
    {
        int rows = Rows(z, dim);
        int k = Codes(codebook, dim);
        var restarted = new List<int>();
        if (restartAfter <= 0 || rows == 0) return restarted;
        for (int i = 0; i < k; i++)
        {
            if (idle[i] < restartAfter) continue;
            var row = z.Slice(RestartRow(seed, step, restarted.Count, rows) * dim, dim);
            row.CopyTo(codebook.Slice(i * dim, dim));
            if (!embedSum.IsEmpty) row.CopyTo(embedSum.Slice(i * dim, dim));
            if (!clusterSize.IsEmpty) clusterSize[i] = 1;
            idle[i] = 0;
            restarted.Add(i);
        }
        return restarted;
    }

    private static int Rows(ReadOnlySpan<double> z, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        if (z.Length % dim != 0) throw new ArgumentException($"z has {z.Length} values, not a whole number of rows of {dim}.", nameof(z));
        return z.Length / dim;
    }

    private static int Codes(ReadOnlySpan<double> codebook, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        if (codebook.Length == 0 || codebook.Length % dim != 0)
            throw new ArgumentException($"codebook has {codebook.Length} values, not a whole, nonzero number of codes of {dim}.", nameof(codebook));
        return codebook.Length / dim;
    }

    private static int CheckAssignment(ReadOnlySpan<double> z, ReadOnlySpan<double> codebook, ReadOnlySpan<int> codes, int dim)
    {
        int rows = Rows(z, dim);
        int k = Codes(codebook, dim);
        if (codes.Length != rows) throw new ArgumentException($"codes has {codes.Length} indices for {rows} rows.", nameof(codes));
        foreach (int c in codes)
            if ((uint)c >= (uint)k) throw new ArgumentOutOfRangeException(nameof(codes), c, $"A code index is outside the codebook of {k} codes.");
        return rows;
    }
}
