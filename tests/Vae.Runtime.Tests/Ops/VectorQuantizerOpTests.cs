using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// The vector quantiser alone: the double reference against central differences (assignments held fixed) and by
/// hand, and the CPU's <see cref="VectorQuantizer"/> against the reference: the chosen indices exactly (ties to the
/// lowest index, cancellation that fools the GEMM form), gathers and distances bit for bit, gradients and the EMA step
/// within float's rounding, the EMA step against the peer's float operations bit for bit, perplexity, restarts, the
/// NCHW transposes, and every kernel's independence of the thread count.
/// </summary>
public class VectorQuantizerOpTests
{
    private const double Decay = 0.99;

    [Fact]
    public void Reference_gradients_match_central_differences()
    {
        const int rows = 5, dim = 3, k = 4;
        const double beta = 0.3;
        var rng = new Random(11);
        var z = ToDouble(Uniform(rng, rows * dim, -1, 1));
        var e = ToDouble(Uniform(rng, k * dim, -1, 1));
        var c = ToDouble(Uniform(rng, rows * dim, -1, 1));
        var codes = ReferenceVectorQuantizer.Assign(z, e, dim);

        // With the assignment fixed, the straight-through forward z + sg[e - z] has the identity as its derivative, so
        // the quantiser's share of a loss whose gradient at z_q is c is c.z + the commitment loss.
        double Lz(double[] v)
        {
            double sum = ReferenceVectorQuantizer.CommitmentLoss(v, e, codes, dim, beta);
            for (int i = 0; i < v.Length; i++) sum += c[i] * v[i];
            return sum;
        }
        var dz = ReferenceVectorQuantizer.StraightThroughBackward(c, z, e, codes, dim, beta);
        GradientMatchesCentralDifferences(Lz, z, dz, 10, "dz");

        var dE = ReferenceVectorQuantizer.CodebookGradient(z, e, codes, dim);
        GradientMatchesCentralDifferences(v => ReferenceVectorQuantizer.CodebookLoss(z, v, codes, dim), e, dE, 10, "dE");
        // Codes no row chose get no gradient.
        var counts = ReferenceVectorQuantizer.Histogram(codes, k);
        for (int i = 0; i < k; i++)
            if (counts[i] == 0)
                for (int d = 0; d < dim; d++) Assert.Equal(0.0, dE[i * dim + d]);
    }

    [Fact]
    public void Reference_values_by_hand()
    {
        // Codes (0, 0), (2, 0), (0, 3); rows (1.5, 0) -> 1 (0.25 against 2.25), (0, 1) -> 0 (1 against 4 and 5).
        double[] e = [0, 0, 2, 0, 0, 3];
        double[] z = [1.5, 0, 0, 1];
        var codes = ReferenceVectorQuantizer.Assign(z, e, 2);
        Assert.Equal([1, 0], codes);
        Assert.Equal([2.0, 0, 0, 0], ReferenceVectorQuantizer.Gather(codes, e, 2));
        // mean over 4 elements of (0.25 + 1) = 0.3125; beta 0.25 -> 0.078125.
        Assert.Equal(0.3125, ReferenceVectorQuantizer.CodebookLoss(z, e, codes, 2));
        Assert.Equal(0.078125, ReferenceVectorQuantizer.CommitmentLoss(z, e, codes, 2, 0.25));
        // dz = dzq + 2 beta (z - e) / 4.
        Assert.Equal([1 - 0.0625, 0, 0, 0.125], ReferenceVectorQuantizer.StraightThroughBackward([1, 0, 0, 0], z, e, codes, 2, 0.25));
        // dE = 2 (e - z) / 4 per assigned row.
        Assert.Equal([0, -0.5, 0.25, 0, 0, 0], ReferenceVectorQuantizer.CodebookGradient(z, e, codes, 2));
    }

    public static TheoryData<int, int, int, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (int k in new[] { 2, 3, 17, 128, 512 })
        foreach (int dim in new[] { 1, 3, 16, 64 })
        foreach (int rows in new[] { 1, 7, 64 * 49 })
        foreach (bool grid in new[] { false, true })
            data.Add(k, dim, rows, grid);
        return data;
    }

    /// <summary>
    /// A codebook and encoder outputs made to be hard: duplicate codes, rows that are codes, rows midway between two
    /// codes, and (grid) every value a multiple of 1/4, so that many distances tie exactly.
    /// </summary>
    private static (float[] Z, float[] E) Problem(int k, int dim, int rows, bool grid, int seed)
    {
        var rng = new Random(seed);
        float Value(double lo, double hi) => grid ? MathF.Round((float)(lo + (hi - lo) * rng.NextDouble()) * 4) / 4 : (float)(lo + (hi - lo) * rng.NextDouble());
        var e = new float[k * dim];
        for (int i = 0; i < e.Length; i++) e[i] = Value(-1, 1);
        if (k >= 3) Array.Copy(e, 0, e, (k - 1) * dim, dim);       // the last code repeats the first
        if (k >= 6) Array.Copy(e, 2 * dim, e, 4 * dim, dim);       // and code 4 repeats code 2
        var z = new float[rows * dim];
        for (int n = 0; n < rows; n++)
        {
            var row = z.AsSpan(n * dim, dim);
            int a = rng.Next(k), b = rng.Next(k);
            switch (n % 4)
            {
                case 1: e.AsSpan(a * dim, dim).CopyTo(row); break;
                case 2: for (int d = 0; d < dim; d++) row[d] = (e[a * dim + d] + e[b * dim + d]) / 2; break;
                default: for (int d = 0; d < dim; d++) row[d] = Value(-1.5, 1.5); break;
            }
        }
        return (z, e);
    }

    private sealed class Run
    {
        public required PinnedInts Indices, Counts;
        public required PinnedFloats Zq, Distance, DZ, DE, ClusterSize, EmbedSum, Codebook;
        public double Loss;
    }

    private static Run RunAll(int threadCount, int k, int dim, int rows, float[] z, float[] e, float[] dZq, float[] clusterSize, float[] embedSum, float beta)
    {
        var r = new Run
        {
            Indices = new PinnedInts(rows), Counts = new PinnedInts(k),
            Zq = new PinnedFloats(rows * dim), Distance = new PinnedFloats(rows), DZ = new PinnedFloats(rows * dim),
            DE = new PinnedFloats(k * dim), ClusterSize = new PinnedFloats(clusterSize), EmbedSum = new PinnedFloats(embedSum),
            Codebook = new PinnedFloats(e),
        };
        var zp = new PinnedFloats(z);
        var ep = new PinnedFloats(e);
        var dzq = new PinnedFloats(dZq);
        using var threads = new CpuThreads(threadCount);
        VectorQuantizer.Forward(threads, rows, dim, k, zp, ep, r.Indices, r.Zq, r.Distance);
        r.Loss = VectorQuantizer.SquaredErrorMean(rows, dim, r.Distance);
        VectorQuantizer.StraightThroughBackward(threads, rows, dim, dzq, zp, r.Zq, VectorQuantizer.CommitmentScale(beta, rows, dim), r.DZ);
        VectorQuantizer.CodebookGradient(threads, rows, dim, k, zp, r.Indices, ep, VectorQuantizer.CodebookScale(rows, dim), r.DE);
        VectorQuantizer.EmaUpdate(threads, rows, dim, k, zp, r.Indices, Decay, r.ClusterSize, r.EmbedSum, r.Codebook, r.Counts);
        return r;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Cpu_matches_the_reference(int k, int dim, int rows, bool grid)
    {
        int seed = k * 7919 + dim * 104729 + rows * 31 + (grid ? 1 : 0);
        var (z, e) = Problem(k, dim, rows, grid, seed);
        var rng = new Random(seed + 1);
        var dZq = Uniform(rng, rows * dim, -1, 1);
        var clusterSize = Uniform(rng, k, 0, 5);
        var embedSum = Uniform(rng, k * dim, -3, 3);
        const float beta = 0.25f;
        var run = RunAll(2, k, dim, rows, z, e, dZq, clusterSize, embedSum, beta);
        string what = $"K {k} D {dim} N {rows}{(grid ? " grid" : "")}";

        var zd = ToDouble(z);
        var ed = ToDouble(e);
        var codes = ReferenceVectorQuantizer.Assign(zd, ed, dim);
        for (int n = 0; n < rows; n++)
            Assert.True(codes[n] == run.Indices.Values[n], $"{what}: row {n} chose {run.Indices.Values[n]}, the reference {codes[n]}");
        for (int n = 0; n < rows; n++)
            Assert.True(e.AsSpan(codes[n] * dim, dim).SequenceEqual(run.Zq.Values.AsSpan(n * dim, dim)), $"{what}: zq row {n} is not code {codes[n]}");
        var distance = ReferenceVectorQuantizer.Distances(zd, ed, codes, dim);
        for (int n = 0; n < rows; n++) Assert.Equal((float)distance[n], run.Distance.Values[n]);
        double loss = ReferenceVectorQuantizer.CodebookLoss(zd, ed, codes, dim);
        Within(loss, run.Loss, (rows + 2) * U * loss + FloatFloor, $"{what} loss");

        // Straight-through with commitment: three float roundings and the rounded scale.
        var dz = ReferenceVectorQuantizer.StraightThroughBackward(ToDouble(dZq), zd, ed, codes, dim, beta);
        double scale = 2.0 * beta / ((double)rows * dim);
        for (int n = 0; n < rows; n++)
        for (int d = 0; d < dim; d++)
        {
            int i = n * dim + d;
            double bound = 4 * U * (Math.Abs(dZq[i]) + scale * (Math.Abs(z[i]) + Math.Abs(e[codes[n] * dim + d])));
            Within(dz[i], run.DZ.Values[i], bound + FloatFloor, $"{what} dz[{n}, {d}]");
        }

        // Codebook gradient and EMA: sums over each code's rows.
        var counts = ReferenceVectorQuantizer.Histogram(codes, k);
        var absSums = new double[k * dim];
        for (int n = 0; n < rows; n++)
        for (int d = 0; d < dim; d++)
            absSums[codes[n] * dim + d] += Math.Abs(z[n * dim + d]);
        var dE = ReferenceVectorQuantizer.CodebookGradient(zd, ed, codes, dim);
        double codebookScale = 2.0 / ((double)rows * dim);
        for (int i = 0; i < k; i++)
        {
            Assert.Equal(counts[i], run.Counts.Values[i]);
            for (int d = 0; d < dim; d++)
            {
                int j = i * dim + d;
                double bound = (counts[i] + 4) * U * codebookScale * (counts[i] * Math.Abs(e[j]) + absSums[j]);
                Within(dE[j], run.DE.Values[j], bound + FloatFloor, $"{what} dE[{i}, {d}]");
            }
        }

        var cs = ToDouble(clusterSize);
        var es = ToDouble(embedSum);
        var eNew = (double[])ed.Clone();
        ReferenceVectorQuantizer.EmaStep(zd, codes, dim, Decay, cs, es, eNew);
        double total = cs.Sum();
        for (int i = 0; i < k; i++)
        {
            Within(cs[i], run.ClusterSize.Values[i], 4 * U * cs[i] + FloatFloor, $"{what} cluster_size[{i}]");
            double size = (cs[i] + 1e-5) / (total + k * 1e-5) * total;
            for (int d = 0; d < dim; d++)
            {
                int j = i * dim + d;
                double esBound = 4 * U * (Decay * Math.Abs(embedSum[j]) + (1 - Decay) * absSums[j]) + FloatFloor;
                Within(es[j], run.EmbedSum.Values[j], esBound, $"{what} embed_sum[{i}, {d}]");
                Within(eNew[j], run.Codebook.Values[j], 2 * (14 * U * Math.Abs(eNew[j]) + esBound / size) + FloatFloor, $"{what} codebook[{i}, {d}]");
            }
        }
    }

    [Fact]
    public void Every_kernel_gives_the_same_bits_on_one_two_and_three_threads()
    {
        const int k = 128, dim = 16, rows = 64 * 49;
        var (z, e) = Problem(k, dim, rows, grid: false, seed: 3);
        var rng = new Random(4);
        var dZq = Uniform(rng, rows * dim, -1, 1);
        var clusterSize = Uniform(rng, k, 0, 5);
        var embedSum = Uniform(rng, k * dim, -3, 3);
        var one = RunAll(1, k, dim, rows, z, e, dZq, clusterSize, embedSum, 0.25f);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = RunAll(threads, k, dim, rows, z, e, dZq, clusterSize, embedSum, 0.25f);
            Assert.Equal(one.Indices.Values, many.Indices.Values);
            Assert.Equal(one.Counts.Values, many.Counts.Values);
            Assert.Equal(one.Loss, many.Loss);
            BitwiseEqual(one.Zq, many.Zq, "zq");
            BitwiseEqual(one.Distance, many.Distance, "distance");
            BitwiseEqual(one.DZ, many.DZ, "dz");
            BitwiseEqual(one.DE, many.DE, "dE");
            BitwiseEqual(one.ClusterSize, many.ClusterSize, "cluster_size");
            BitwiseEqual(one.EmbedSum, many.EmbedSum, "embed_sum");
            BitwiseEqual(one.Codebook, many.Codebook, "codebook");
        }
    }

    private static void BitwiseEqual(PinnedFloats a, PinnedFloats b, string what)
    {
        for (int i = 0; i < a.Values.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a.Values[i]) == BitConverter.SingleToInt32Bits(b.Values[i]),
                $"{what}[{i}]: {a.Values[i]:R} on one thread, {b.Values[i]:R} on more");
    }

    private static int[] CpuAssign(float[] z, float[] e, int dim, int threadCount)
    {
        int rows = z.Length / dim, k = e.Length / dim;
        var indices = new PinnedInts(rows);
        using var threads = new CpuThreads(threadCount);
        VectorQuantizer.Forward(threads, rows, dim, k, new PinnedFloats(z), new PinnedFloats(e), indices, new PinnedFloats(rows * dim), Floats.Null);
        return indices.Values[..rows];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Ties_go_to_the_lowest_index(int threads)
    {
        // Duplicate codes 0 and 2, and code 1 at the same distance from (0.5, 0.5) as code 0; every code is 1 from (0, 0).
        float[] e = [1, 0, 0, 1, 1, 0, -1, 0, 0, -1];
        float[] z = [1, 0, 0.5f, 0.5f, 0, 0, 0.5f, -0.5f, -0.5f, 0];
        int[] expected = [0, 0, 0, 0, 3];
        Assert.Equal(expected, ReferenceVectorQuantizer.Assign(ToDouble(z), ToDouble(e), 2));
        Assert.Equal(expected, CpuAssign(z, e, 2, threads));

        // 1-D: -1 and 1 are equidistant from 0; the lower index (1) wins over 2, whatever the order of the values.
        Assert.Equal([1, 1], CpuAssign([0, 0], [3, -1, 1], 1, threads));
        Assert.Equal([1, 1], CpuAssign([0, 0], [3, 1, -1], 1, threads));

        // The nearest code repeated at 5 and 9 of 12: 5.
        var many = new float[12];
        for (int i = 0; i < 12; i++) many[i] = 10 + i;
        many[5] = many[9] = 0.25f;
        Assert.Equal([5], CpuAssign([0], many, 1, threads));
        Assert.Equal(5, ReferenceVectorQuantizer.Nearest([0.0], ToDouble(many)));

        // A NaN row gets code 0; a NaN code never wins.
        Assert.Equal([0], CpuAssign([float.NaN, 0], e, 2, threads));
        Assert.Equal([1], CpuAssign([1, 0], [float.NaN, 0, 1, 0], 2, threads));
        Assert.Equal(1, ReferenceVectorQuantizer.Nearest([1.0, 0], [double.NaN, 0, 1, 0]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Codes_far_from_the_origin_are_told_apart_where_the_gemm_form_cannot(int threads)
    {
        // Codes 1000 + small offsets: ||z||^2 is 4e6, so the float GEMM form's rounding (about 0.25) swamps the
        // differences between the distances (about 1e-3). The choice must still be the reference's.
        const int k = 40, dim = 4, rows = 200;
        var rng = new Random(9);
        var e = new float[k * dim];
        for (int i = 0; i < e.Length; i++) e[i] = 1000f + (float)(rng.NextDouble() * 0.05);
        var z = new float[rows * dim];
        for (int i = 0; i < z.Length; i++) z[i] = 1000f + (float)(rng.NextDouble() * 0.05);
        var expected = ReferenceVectorQuantizer.Assign(ToDouble(z), ToDouble(e), dim);
        Assert.Equal(expected, CpuAssign(z, e, dim, threads));

        // The test has teeth: the GEMM form alone, in float, chooses differently on some rows.
        int differ = 0;
        for (int n = 0; n < rows; n++)
        {
            int best = 0;
            float bestG = float.PositiveInfinity;
            for (int c = 0; c < k; c++)
            {
                float zz = 0, ze = 0, ee = 0;
                for (int d = 0; d < dim; d++)
                {
                    zz += z[n * dim + d] * z[n * dim + d];
                    ze += z[n * dim + d] * e[c * dim + d];
                    ee += e[c * dim + d] * e[c * dim + d];
                }
                float g = zz - 2 * ze + ee;
                if (g < bestG) { bestG = g; best = c; }
            }
            if (best != expected[n]) differ++;
        }
        Assert.True(differ > rows / 4, $"the GEMM form agreed on {rows - differ} of {rows} rows; the case does not stress it");
    }

    [Fact]
    public void Gather_decodes_code_indices_and_refuses_an_index_outside_the_codebook()
    {
        float[] e = [1, 2, 3, 4, 5, 6];
        var indices = new PinnedInts([2, 0, 2]);
        var zq = new PinnedFloats(6);
        using var threads = new CpuThreads(2);
        VectorQuantizer.Gather(threads, 3, 2, 3, indices, new PinnedFloats(e), zq);
        Assert.Equal([5f, 6, 1, 2, 5, 6], zq.Values);
        Assert.Equal([5.0, 6, 1, 2, 5, 6], ReferenceVectorQuantizer.Gather([2, 0, 2], ToDouble(e), 2));
        var bad = new PinnedInts([0, 3, 1]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => VectorQuantizer.Gather(threads, 3, 2, 3, bad, new PinnedFloats(e), zq));
        Assert.Contains("row 1", error.Message);
    }

    [Fact]
    public void Ema_step_by_hand()
    {
        // gamma = 1/2, so everything before the smoothing is exact. K = 2, D = 2; rows (1, 1), (3, 5) -> code 0,
        // (-2, 0) -> code 1: n = (2, 1), sums (4, 6) and (-2, 0).
        // N = (0.5 1 + 0.5 2, 0.5 3 + 0.5 1) = (1.5, 2); m = ((3, 5), (2, -1)); n = 3.5;
        // size_i = (N_i + 1e-5) / (3.5 + 2e-5) 3.5; e_i = m_i / size_i.
        float[] z = [1, 1, 3, 5, -2, 0];
        var indices = new PinnedInts([0, 0, 1]);
        var cs = new PinnedFloats([1f, 3]);
        var es = new PinnedFloats([2f, 4, 6, -2]);
        var e = new PinnedFloats(4);
        var counts = new PinnedInts(2);
        using (var threads = new CpuThreads(2))
            VectorQuantizer.EmaUpdate(threads, 3, 2, 2, new PinnedFloats(z), indices, 0.5, cs, es, e, counts);
        Assert.Equal([2, 1], counts.Values);
        Assert.Equal([1.5f, 2], cs.Values);
        Assert.Equal([3f, 5, 2, -1], es.Values);
        double size0 = 1.50001 / 3.50002 * 3.5, size1 = 2.00001 / 3.50002 * 3.5;
        double[] expected = [3 / size0, 5 / size0, 2 / size1, -1 / size1];
        for (int i = 0; i < 4; i++) Within(expected[i], e.Values[i], 8 * U * Math.Abs(expected[i]), $"codebook[{i}]");

        // The reference, in double, gives the same to double's rounding.
        double[] rcs = [1, 3], res = [2, 4, 6, -2], re = new double[4];
        var rcounts = ReferenceVectorQuantizer.EmaStep(ToDouble(z), [0, 0, 1], 2, 0.5, rcs, res, re);
        Assert.Equal([2L, 1], rcounts);
        Assert.Equal([1.5, 2], rcs);
        Assert.Equal([3.0, 5, 2, -1], res);
        for (int i = 0; i < 4; i++) Within(expected[i], re[i], 1e-14 * Math.Abs(expected[i]), $"reference codebook[{i}]");
    }

    [Fact]
    public void Ema_step_is_the_peers_float_operations_bit_for_bit()
    {
        const int k = 33, dim = 5, rows = 300;
        var rng = new Random(21);
        var z = Uniform(rng, rows * dim, -2, 2);
        var codes = new int[rows];
        for (int n = 0; n < rows; n++) codes[n] = rng.Next(k - 3); // the last three codes unused
        var cs = Uniform(rng, k, 0, 4);
        var es = Uniform(rng, k * dim, -3, 3);

        // torch_vqvae.py, op by op in float32: cluster_size.mul_(decay).add_(counts, alpha=1 - decay) (the vectorised
        // add_ is fmadd(other, alpha, self)); the same for embed_sum with onehot^T @ flat (here the rows' sum in
        // double, rounded once: the order the kernel defines); n = cluster_size.sum();
        // size = (cluster_size + 1e-5) / (n + K * 1e-5) * n; codebook = embed_sum / size.
        float g = (float)Decay, a = (float)(1 - Decay);
        var peerCs = (float[])cs.Clone();
        var peerEs = (float[])es.Clone();
        var counts = new int[k];
        var sums = new double[k * dim];
        for (int n = 0; n < rows; n++)
        {
            counts[codes[n]]++;
            for (int d = 0; d < dim; d++) sums[codes[n] * dim + d] += z[n * dim + d];
        }
        for (int i = 0; i < k; i++) peerCs[i] = MathF.FusedMultiplyAdd((float)counts[i], a, peerCs[i] * g);
        for (int j = 0; j < k * dim; j++) peerEs[j] = MathF.FusedMultiplyAdd((float)sums[j], a, peerEs[j] * g);
        double totalD = 0;
        foreach (float v in peerCs) totalD += v;
        float total = (float)totalD;
        var peerE = new float[k * dim];
        for (int i = 0; i < k; i++)
        {
            float size = (peerCs[i] + 1e-5f) / (total + (float)(k * 1e-5)) * total;
            for (int d = 0; d < dim; d++) peerE[i * dim + d] = peerEs[i * dim + d] / size;
        }

        var csp = new PinnedFloats(cs);
        var esp = new PinnedFloats(es);
        var ep = new PinnedFloats(k * dim);
        var countsp = new PinnedInts(k);
        using (var threads = new CpuThreads(2))
            VectorQuantizer.EmaUpdate(threads, rows, dim, k, new PinnedFloats(z), new PinnedInts(codes), Decay, csp, esp, ep, countsp);
        Assert.Equal(counts, countsp.Values);
        BitwiseEqual(new PinnedFloats(peerCs), csp, "cluster_size");
        BitwiseEqual(new PinnedFloats(peerEs), esp, "embed_sum");
        BitwiseEqual(new PinnedFloats(peerE), ep, "codebook");
        // The unused codes decay towards zero and keep their direction.
        for (int i = k - 3; i < k; i++) Assert.Equal(cs[i] * g, csp.Values[i]);
    }

    [Fact]
    public void Perplexity_and_codes_used_of_known_histograms()
    {
        // exp(entropy): uniform over 4 -> 4; one code -> 1; two equal codes -> 2; (1, 3) -> exp(H(1/4)).
        (long[] Counts, double Perplexity, int Used)[] cases =
        [
            ([1, 1, 1, 1], 4, 4),
            ([5, 0, 0], 1, 1),
            ([2, 2, 0, 0], 2, 2),
            ([1, 3], Math.Exp(-(0.25 * Math.Log(0.25) + 0.75 * Math.Log(0.75))), 2),
            ([0, 7, 0, 7, 0, 7, 0, 7, 0, 7], 5, 5),
        ];
        foreach (var (counts, perplexity, used) in cases)
        {
            double reference = ReferenceVectorQuantizer.Perplexity(counts);
            // The peer's 1e-10 inside the logarithm moves the result by about 1e-10 relative.
            Within(perplexity, reference, 1e-9 * perplexity, $"perplexity of [{string.Join(", ", counts)}]");
            Assert.Equal(used, ReferenceVectorQuantizer.CodesUsed(counts));
            var ints = new PinnedInts(counts.Select(c => (int)c).ToArray());
            Assert.Equal(reference, VectorQuantizer.Perplexity(counts.Length, ints));
            Assert.Equal(used, VectorQuantizer.CodesUsed(counts.Length, ints));
        }
        Assert.True(double.IsNaN(ReferenceVectorQuantizer.Perplexity([0, 0])));

        // The histogram the kernels count, across two batches.
        var hist = new PinnedInts(4);
        VectorQuantizer.CountCodes(3, 4, new PinnedInts([1, 1, 3]), hist, accumulate: false);
        VectorQuantizer.CountCodes(2, 4, new PinnedInts([0, 1]), hist, accumulate: true);
        Assert.Equal([1, 3, 0, 1], hist.Values);
    }

    [Fact]
    public void Restart_rows_are_philox_draws_in_range_and_the_same_in_the_kernel_and_the_reference()
    {
        var seen = new HashSet<int>();
        for (uint step = 0; step < 20; step++)
        for (int j = 0; j < 20; j++)
        {
            int row = VectorQuantizer.RestartRow(17, step, j, 49);
            Assert.InRange(row, 0, 48);
            Assert.Equal(ReferenceVectorQuantizer.RestartRow(17, step, j, 49), row);
            seen.Add(row);
        }
        Assert.True(seen.Count > 40, "400 draws over 49 rows should reach nearly all of them");
        Assert.NotEqual(
            Enumerable.Range(0, 8).Select(j => VectorQuantizer.RestartRow(1, 5, j, 1 << 30)),
            Enumerable.Range(0, 8).Select(j => VectorQuantizer.RestartRow(2, 5, j, 1 << 30)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Dead_codes_restart_after_the_set_number_of_unused_steps(bool ema)
    {
        const int k = 6, dim = 3, rows = 5, after = 2;
        const ulong seed = 42;
        var rng = new Random(8);
        var e = Uniform(rng, k * dim, -1, 1);
        var cs = Uniform(rng, k, 0.5, 2);
        var es = Uniform(rng, k * dim, -1, 1);
        var ep = new PinnedFloats(e);
        var csp = new PinnedFloats(cs);
        var esp = new PinnedFloats(es);
        var idle = new PinnedInts(k);
        double[] re = ToDouble(e), rcs = ToDouble(cs), res = ToDouble(es);
        var ridle = new int[k];
        // Step 1 uses codes 0, 1, 2 (3, 4, 5 idle once); step 2 uses 0 and 3 (4, 5 reach 2: restarted); step 3 uses 0
        // and 1 (2 reaches 2: restarted).
        int[][] steps = [[0, 1, 2, 0, 1], [3, 0, 0, 3, 3], [1, 1, 0, 0, 1]];
        int[][] restartedAt = [[], [4, 5], [2]];
        for (int s = 0; s < steps.Length; s++)
        {
            uint step = (uint)(s + 1);
            var z = Uniform(rng, rows * dim, -3, 3);
            var counts = new PinnedInts(k);
            VectorQuantizer.CountCodes(rows, k, new PinnedInts(steps[s]), counts, accumulate: false);
            VectorQuantizer.UpdateIdle(k, counts, idle);
            int n = VectorQuantizer.RestartDeadCodes(rows, dim, k, new PinnedFloats(z), idle, after, seed, step, ep,
                ema ? csp : Floats.Null, ema ? esp : Floats.Null);

            ReferenceVectorQuantizer.UpdateIdle(ReferenceVectorQuantizer.Histogram(steps[s], k), ridle);
            var restarted = ReferenceVectorQuantizer.RestartDeadCodes(ToDouble(z), dim, ridle, after, seed, step, re,
                ema ? rcs : Span<double>.Empty, ema ? res : Span<double>.Empty);
            Assert.Equal(restartedAt[s], restarted);
            Assert.Equal(restarted.Count, n);
            Assert.Equal(ridle, idle.Values);
            for (int j = 0; j < restarted.Count; j++)
            {
                int code = restarted[j], row = VectorQuantizer.RestartRow(seed, step, j, rows);
                Assert.True(z.AsSpan(row * dim, dim).SequenceEqual(ep.Values.AsSpan(code * dim, dim)), $"step {step}: code {code} is not row {row}");
                if (ema)
                {
                    Assert.Equal(1f, csp.Values[code]);
                    Assert.True(z.AsSpan(row * dim, dim).SequenceEqual(esp.Values.AsSpan(code * dim, dim)));
                }
            }
            Assert.Equal(re, ToDouble(ep.Values));
            if (ema)
            {
                Assert.Equal(rcs, ToDouble(csp.Values));
                Assert.Equal(res, ToDouble(esp.Values));
            }
            else
            {
                Assert.Equal(cs, csp.Values);
                Assert.Equal(es, esp.Values);
            }
        }
        // Idle counters after step 3: 0 and 1 used, 2 just restarted, 3 unused since step 2, 4 and 5 restarted at step 2
        // then unused once.
        Assert.Equal([0, 0, 0, 1, 1, 1], idle.Values);

        // A threshold of 0 turns restarts off.
        var all = new PinnedInts([9, 9, 9, 9, 9, 9]);
        Assert.Equal(0, VectorQuantizer.RestartDeadCodes(rows, dim, k, new PinnedFloats(rows * dim), all, 0, seed, 9, ep, Floats.Null, Floats.Null));
        Assert.Equal([9, 9, 9, 9, 9, 9], all.Values);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Nchw_maps_become_rows_of_channels_and_back(int threadCount)
    {
        const int batch = 3, channels = 5, height = 7, width = 7, positions = height * width;
        var x = Uniform(new Random(2), batch * channels * positions, -1, 1);
        var rows = new PinnedFloats(x.Length);
        var back = new PinnedFloats(x.Length);
        using var threads = new CpuThreads(threadCount);
        VectorQuantizer.ChannelsToRows(threads, batch, channels, positions, new PinnedFloats(x), rows);
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < channels; c++)
        for (int p = 0; p < positions; p++)
            Assert.Equal(x[(b * channels + c) * positions + p], rows.Values[(b * positions + p) * channels + c]);
        VectorQuantizer.RowsToChannels(threads, batch, channels, positions, rows, back);
        Assert.Equal(x, back.Values);
    }
}

/// <summary>An int array on the pinned heap, for the kernels' <see cref="Ints"/> buffers.</summary>
internal sealed unsafe class PinnedInts
{
    public PinnedInts(int length) => Values = GC.AllocateArray<int>(Math.Max(1, length), pinned: true);

    public PinnedInts(ReadOnlySpan<int> values) : this(values.Length) => values.CopyTo(Values);

    public int[] Values { get; }

    public Ints Address => new((int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Values)));

    public static implicit operator Ints(PinnedInts p) => p.Address;
}
