using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vae.Noise;

namespace Vae.Kernels.Cpu;

/// <summary>
/// The address of pinned or native int memory (code indices, code counts, idle counters): the integer counterpart of
/// <see cref="Floats"/>, so the generated code passes integer buffers without an <c>unsafe</c> context.
/// </summary>
public readonly unsafe struct Ints : IEquatable<Ints>
{
    private readonly int* _address;

    /// <summary>Wraps <paramref name="address"/>.</summary>
    public Ints(int* address) => _address = address;

    /// <summary>The null address: "no buffer" for optional outputs.</summary>
    public static Ints Null => default;

    /// <summary>Whether this is the null address.</summary>
    public bool IsNull => _address == null;

    /// <summary>The element at <paramref name="index"/>; no bounds check, like the pointer it stands for.</summary>
    public ref int this[long index] => ref _address[index];

    /// <summary>The address <paramref name="offset"/> ints further on.</summary>
    public static Ints operator +(Ints start, long offset) => new(start._address + offset);

    /// <summary>The raw pointer.</summary>
    public static implicit operator int*(Ints i) => i._address;

    /// <summary>
    /// The same memory read as ints: the generated workspace lays its integer buffers (code indices, code counts) out
    /// in its float memory, four bytes an element either way.
    /// </summary>
    public static Ints In(Floats memory) => new((int*)(float*)memory);

    /// <inheritdoc/>
    public bool Equals(Ints other) => _address == other._address;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Ints i && Equals(i);
    /// <inheritdoc/>
    public override int GetHashCode() => ((nint)_address).GetHashCode();
    /// <summary>Same address.</summary>
    public static bool operator ==(Ints a, Ints b) => a.Equals(b);
    /// <summary>Different addresses.</summary>
    public static bool operator !=(Ints a, Ints b) => !a.Equals(b);
}

/// <summary>
/// The vector quantiser of a VQ-VAE (van den Oord et al. 2017) on the CPU, for N encoder outputs z_e [N, D] (rows of D
/// floats; a convolutional encoder's [B, D, H, W] map goes through <see cref="ChannelsToRows"/> first) and a codebook
/// E [K, D]. The double-precision counterpart, which every routine here is tested against, is
/// <c>Reference/ReferenceVectorQuantizer.cs</c>. Every result is independent of the number of threads: each output
/// element is computed by one task in a fixed order, and nothing is reduced with atomics.
/// </summary>
/// <remarks>
/// <para>
/// <b>The nearest code, identical on every target.</b> The code of row n is the lowest index k that minimises
/// d(n, k) = sum over d = 0..D-1, ascending, of ((double)z[n, d] - (double)E[k, d])^2, every operation in IEEE double
/// without contraction into fused multiply-adds. That is what the reference computes. The fast path computes the GEMM
/// form g(n, k) = ||z||^2 - 2 z.E[k] + ||E[k]||^2 in float (<see cref="Gemm.Block"/>), which rounds differently and, with
/// cancellation (codes far from the origin), can order two close codes wrongly. So the GEMM only nominates: with the
/// rigorous bound |g - d_exact| &lt;= (D + 2) u (||z|| + ||E[k]||)^2 of float dot products in any summation order
/// (u = 2^-24), taken a little over twice as the margin b(n, k) (evaluated in float), every code with
/// g(n, k) - b(n, k) &lt;= min_j (g(n, j) + b(n, j)) is a candidate, and the candidates' exact-order double distances
/// decide. A code left out is farther than the best
/// candidate by more than the float error, hence by far more than the double error, so the choice equals the
/// reference's on any input with finite squared norms. Another target (OpenCL, CUDA) gives identical indices by doing
/// the same: any GEMM order, any superset of these candidates, and the double recomputation in the order above with
/// contraction off (<c>#pragma OPENCL FP_CONTRACT OFF</c>; CUDA <c>__dsub_rn</c>/<c>__dmul_rn</c>/<c>__dadd_rn</c>),
/// which needs double support on the device (cl_khr_fp64). NaN distances never win; a row whose every distance is NaN
/// gets code 0.
/// </para>
/// <para>
/// <b>Losses</b>, as the PyTorch peer: commitment beta mean ||z_e - sg[e]||^2 and codebook mean ||sg[z_e] - e||^2, the
/// mean over N D elements. Their value comes from the per-row distances <see cref="Forward"/> writes
/// (<see cref="SquaredErrorMean"/>), their gradients from <see cref="StraightThroughBackward"/> and
/// <see cref="CodebookGradient"/>.
/// </para>
/// <para>
/// <b>EMA</b> (<see cref="EmaUpdate"/>) follows the peer's operations in float: N_i = fma(1 - gamma, n_i, gamma N_i)
/// (PyTorch's vectorised <c>add_(x, alpha)</c> is a fused multiply-add), m_i likewise with the sum of the rows assigned
/// to code i (added in double, ascending rows, rounded once), n = sum N_i (double, ascending, rounded once),
/// size_i = (N_i + 1e-5) / (n + K 1e-5) n and e_i = m_i / size_i.
/// </para>
/// <para>
/// <b>Dead-code restarts</b> (<see cref="UpdateIdle(int, Ints, Ints)"/>, <see cref="RestartDeadCodes(int, int, int, Floats, Ints, int, ulong, uint, Floats, Floats, Floats)"/>): a code's idle counter is the
/// number of consecutive training steps in which no row chose it. After a step's assignment (and EMA update or
/// optimiser step), every code whose counter has reached the threshold is restarted, in ascending code order; the j-th
/// restarted code of the step (j = 0, 1, ...) becomes the encoder output row <see cref="RestartRow"/>(seed, step, j, N)
/// of that step's batch; with EMA its cluster size becomes 1 and its embedding sum that row (as the peer's
/// initialisation from encoder outputs); its counter returns to 0. Draws are with replacement.
/// </para>
/// </remarks>
public static unsafe class VectorQuantizer
{
    /// <summary>The peer's Laplace smoothing of the EMA cluster sizes.</summary>
    public const float LaplaceEpsilon = 1e-5f;

    /// <summary>The Philox counter word that separates restart draws from noise, shuffles and splits ("RSTR").</summary>
    public const uint RestartStream = 0x5253_5452u;

    /// <summary>Rows of z per distance tile: a multiple of both GEMM tile heights (6 and 8).</summary>
    private const int RowBlock = 48;

    /// <summary>
    /// The candidates' margin factor: 2 (D + 4) u (||z|| + ||e||)^2. The float GEMM form is off by at most (D + 2) u of
    /// that square (any summation order, with or without fused multiply-adds); the margin is evaluated in float too, and
    /// its own few roundings (each under u of the square) use up part of the rest, leaving any excluded code farther
    /// than the best candidate by more than (D + 2) u times its square: by far more than the double recomputation errs.
    /// </summary>
    private static float Slack(int dim) => (float)(2.0 * (dim + 4) / (1 << 24));

    /// <summary>Float products that underflow lose up to half the smallest subnormal each: an absolute floor for the margin.</summary>
    private static float Floor(int dim) => 4f * (dim + 4) * float.Epsilon;

    private struct ForwardJob
    {
        public int Rows, Dim, Codes, Tasks, Blocks;
        public float* Z, Codebook, Packed, Norms, Norms2, Tiles, Zq, Distance;
        public int* Indices;
    }

    private static long Align16(long floats) => (floats + 15) & ~15L;

    /// <summary>
    /// The nearest code of every row, its gather and its distance: indices[N] = argmin_k d(n, k) (see the class
    /// remarks for d and the tie rule), zq[N, D] = E[indices], and, unless <paramref name="distance"/> is null,
    /// distance[N] = d(n, indices[n]) rounded to float. z [N, D], codebook [K, D]. Uses the team's scratch.
    /// </summary>
    public static void Forward(CpuThreads threads, int rows, int dim, int codes, Floats z, Floats codebook, Ints indices, Floats zq, Floats distance)
    {
        CheckSizes(rows, dim, codes);
        if (rows == 0) return;
        int blocks = (rows + RowBlock - 1) / RowBlock;
        int tasks = Math.Min(threads.Count, blocks);
        long normsFloats = Align16(codes), norms2Floats = Align16(codes), packedFloats = Align16((long)dim * codes);
        float* scratch = threads.Scratch(normsFloats + norms2Floats + packedFloats + (long)tasks * RowBlock * codes);
        var job = new ForwardJob
        {
            Rows = rows, Dim = dim, Codes = codes, Tasks = tasks, Blocks = blocks,
            Z = z, Codebook = codebook, Zq = zq, Distance = distance, Indices = indices,
            Norms = scratch,
            Norms2 = scratch + normsFloats,
            Packed = scratch + normsFloats + norms2Floats,
            Tiles = scratch + normsFloats + norms2Floats + packedFloats,
        };
        // E^T [D, K] is the GEMM's B; the float squared norms enter the GEMM form, the double norms the error bound.
        Linear.Transpose(threads, codebook, codes, dim, job.Packed);
        for (int k = 0; k < codes; k++)
        {
            float* e = codebook + (long)k * dim;
            float s = 0;
            double sd = 0;
            for (int d = 0; d < dim; d++)
            {
                float v = e[d];
                s += v * v;
                sd += (double)v * v;
            }
            job.Norms2[k] = s;
            job.Norms[k] = (float)Math.Sqrt(sd);
        }
        threads.For(tasks, &ForwardTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTask(void* state, int task)
    {
        ref var job = ref *(ForwardJob*)state;
        int b0 = (int)((long)job.Blocks * task / job.Tasks), b1 = (int)((long)job.Blocks * (task + 1) / job.Tasks);
        float* tile = job.Tiles + (long)task * RowBlock * job.Codes;
        for (int b = b0; b < b1; b++)
        {
            int r0 = b * RowBlock, r1 = Math.Min(job.Rows, r0 + RowBlock);
            // tile[r - r0, k] = z[r] . E[k]
            Gemm.Block(0, r1 - r0, 0, job.Codes, job.Dim, job.Z + (long)r0 * job.Dim, job.Dim, 1, job.Packed, job.Codes, tile, job.Codes, accumulate: false);
            for (int r = r0; r < r1; r++) Nearest(ref job, r, tile + (long)(r - r0) * job.Codes);
        }
    }

    /// <summary>
    /// Turns one row of dot products into GEMM-form distances g and margins b, nominates every code with
    /// g - b &lt;= min_j (g + b), and lets the candidates' exact double distances decide, in ascending code order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Nearest(ref ForwardJob job, int r, float* dots)
    {
        int dim = job.Dim, codes = job.Codes;
        float* zr = job.Z + (long)r * dim;
        float zn2 = 0;
        double zd = 0;
        for (int d = 0; d < dim; d++)
        {
            float v = zr[d];
            zn2 += v * v;
            zd += (double)v * v;
        }
        float zn = (float)Math.Sqrt(zd), slack = Slack(dim), floor = Floor(dim);

        // Pass 1: dots[k] becomes g - b (the least the exact distance can be); upper = min (g + b), the most the
        // nearest code's exact distance can be. A NaN never lowers upper.
        var vz2 = Vector256.Create(zn2);
        var vzn = Vector256.Create(zn);
        var vSlack = Vector256.Create(slack);
        var vFloor = Vector256.Create(floor);
        var vUpper = Vector256.Create(float.PositiveInfinity);
        int k = 0;
        for (; k + 8 <= codes; k += 8)
        {
            var g = vz2 - Vector256.Create(2f) * Vector256.Load(dots + k) + Vector256.Load(job.Norms2 + k);
            var s = vzn + Vector256.Load(job.Norms + k);
            var b = vSlack * (s * s) + vFloor;
            (g - b).Store(dots + k);
            var high = g + b;
            vUpper = Vector256.ConditionalSelect(Vector256.LessThan(high, vUpper), high, vUpper);
        }
        float upper = float.PositiveInfinity;
        for (int i = 0; i < 8; i++) if (vUpper[i] < upper) upper = vUpper[i];
        for (; k < codes; k++)
        {
            float g = zn2 - 2f * dots[k] + job.Norms2[k];
            float s = zn + job.Norms[k];
            float b = slack * (s * s) + floor;
            dots[k] = g - b;
            float high = g + b;
            if (high < upper) upper = high;
        }

        // Pass 2: the candidates, in ascending order.
        int best = -1;
        double bestDistance = double.NaN;
        var vU = Vector256.Create(upper);
        k = 0;
        for (; k + 8 <= codes; k += 8)
        {
            uint mask = Vector256.LessThanOrEqual(Vector256.Load(dots + k), vU).ExtractMostSignificantBits();
            while (mask != 0)
            {
                Consider(zr, job.Codebook, dim, k + System.Numerics.BitOperations.TrailingZeroCount(mask), ref best, ref bestDistance);
                mask &= mask - 1;
            }
        }
        for (; k < codes; k++)
            if (dots[k] <= upper) Consider(zr, job.Codebook, dim, k, ref best, ref bestDistance);
        if (best < 0)
        {
            // Only when no margin is finite (a NaN or overflowing row): the plain scan over every code, as the reference.
            for (k = 0; k < codes; k++) Consider(zr, job.Codebook, dim, k, ref best, ref bestDistance);
            if (best < 0)
            {
                best = 0;
                bestDistance = ExactDistance(zr, job.Codebook, dim);
            }
        }

        job.Indices[r] = best;
        new ReadOnlySpan<float>(job.Codebook + (long)best * dim, dim).CopyTo(new Span<float>(job.Zq + (long)r * dim, dim));
        if (job.Distance != null) job.Distance[r] = (float)bestDistance;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Consider(float* zr, float* codebook, int dim, int k, ref int best, ref double bestDistance)
    {
        double d = ExactDistance(zr, codebook + (long)k * dim, dim);
        // Ascending k with a strict comparison keeps the lowest index on ties; NaN never wins.
        if (best < 0 ? !double.IsNaN(d) : d < bestDistance)
        {
            best = k;
            bestDistance = d;
        }
    }

    /// <summary>d = sum_d ((double)z[d] - (double)e[d])^2 in ascending d: the definition every target reproduces bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ExactDistance(float* z, float* e, int dim)
    {
        double s = 0;
        for (int d = 0; d < dim; d++)
        {
            double t = (double)z[d] - e[d];
            s += t * t;
        }
        return s;
    }

    private struct RowsJob
    {
        public int Rows, Dim, Codes, Tasks;
        public float* A, B, C, D;
        public int* Indices;
        public float Scale;
    }

    /// <summary>zq[N, D] = codebook[indices] (decoding from code indices). Throws when an index is outside [0, K).</summary>
    public static void Gather(CpuThreads threads, int rows, int dim, int codes, Ints indices, Floats codebook, Floats zq)
    {
        CheckSizes(rows, dim, codes);
        for (int r = 0; r < rows; r++)
            if ((uint)indices[r] >= (uint)codes)
                throw new ArgumentOutOfRangeException(nameof(indices), indices[r], $"Code index of row {r} is outside the codebook of {codes} codes.");
        var job = new RowsJob { Rows = rows, Dim = dim, Codes = codes, B = codebook, C = zq, Indices = indices, Tasks = RowTasks(threads, rows, dim) };
        threads.For(job.Tasks, &GatherTask, &job);
    }

    private static void GatherTask(void* state, int task)
    {
        ref var job = ref *(RowsJob*)state;
        int r0 = (int)((long)job.Rows * task / job.Tasks), r1 = (int)((long)job.Rows * (task + 1) / job.Tasks);
        for (int r = r0; r < r1; r++)
            new ReadOnlySpan<float>(job.B + (long)job.Indices[r] * job.Dim, job.Dim).CopyTo(new Span<float>(job.C + (long)r * job.Dim, job.Dim));
    }

    private static int RowTasks(CpuThreads threads, int rows, int dim) =>
        Math.Max(1, Math.Min(threads.Count, (int)Math.Min(rows, (long)rows * dim / 4096)));

    /// <summary>The commitment gradient's factor 2 beta / (N D) (the loss is beta times a mean over N D elements).</summary>
    public static float CommitmentScale(double beta, int rows, int dim) => (float)(2.0 * beta / ((double)rows * dim));

    /// <summary>The codebook loss gradient's factor 2 / (N D).</summary>
    public static float CodebookScale(int rows, int dim) => (float)(2.0 / ((double)rows * dim));

    /// <summary>
    /// mean ||z_e - e||^2 over the N D elements, from the distances <see cref="Forward"/> wrote, added in double in row
    /// order: the codebook loss; times beta, the commitment loss.
    /// </summary>
    public static double SquaredErrorMean(int rows, int dim, Floats distance)
    {
        if (rows == 0) return 0;
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += distance[r];
        return sum / ((double)rows * dim);
    }

    /// <summary>
    /// The straight-through backward with the commitment gradient: dz[N, D] = dzq + scale (z - zq), with scale from
    /// <see cref="CommitmentScale"/>. <paramref name="dZ"/> may alias <paramref name="dZq"/>.
    /// </summary>
    public static void StraightThroughBackward(CpuThreads threads, int rows, int dim, Floats dZq, Floats z, Floats zq, float scale, Floats dZ)
    {
        var job = new RowsJob { Rows = rows, Dim = dim, A = dZq, B = z, C = zq, D = dZ, Scale = scale, Tasks = RowTasks(threads, rows, dim) };
        threads.For(job.Tasks, &StraightThroughTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StraightThroughTask(void* state, int task)
    {
        ref var job = ref *(RowsJob*)state;
        long n = (long)job.Rows * job.Dim;
        long i = n * task / job.Tasks, end = n * (task + 1) / job.Tasks;
        var s = Vector256.Create(job.Scale);
        // The same three roundings per element in both loops (no fused multiply-add), so the split never shows.
        for (; i + 8 <= end; i += 8)
            (Vector256.Load(job.A + i) + s * (Vector256.Load(job.B + i) - Vector256.Load(job.C + i))).Store(job.D + i);
        for (; i < end; i++) job.D[i] = job.A[i] + job.Scale * (job.B[i] - job.C[i]);
    }

    private struct CodesJob
    {
        public int Rows, Dim, Codes, Tasks;
        public float* Z, Codebook, Output, ClusterSize, EmbedSum;
        public double* Sums;
        public int* Indices, Counts;
        public float Scale, Decay, OneMinusDecay, Total;
    }

    private static void CodeRange(ref CodesJob job, int task, out int k0, out int k1)
    {
        k0 = (int)((long)job.Codes * task / job.Tasks);
        k1 = (int)((long)job.Codes * (task + 1) / job.Tasks);
    }

    /// <summary>
    /// The codebook loss gradient (the codebook learned by the optimiser, Decay 0): dE[k] = scale sum over the rows n
    /// with indices[n] = k, ascending, of (E[k] - z[n]), scale from <see cref="CodebookScale"/>; zero for unused codes.
    /// Overwrites <paramref name="dCodebook"/> [K, D]. Each task owns a range of codes and reads every index.
    /// </summary>
    public static void CodebookGradient(CpuThreads threads, int rows, int dim, int codes, Floats z, Ints indices, Floats codebook, float scale, Floats dCodebook)
    {
        CheckSizes(rows, dim, codes);
        var job = new CodesJob
        {
            Rows = rows, Dim = dim, Codes = codes, Z = z, Indices = indices, Codebook = codebook, Scale = scale, Output = dCodebook,
            Tasks = Math.Min(threads.Count, codes),
        };
        threads.For(job.Tasks, &CodebookGradientTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CodebookGradientTask(void* state, int task)
    {
        ref var job = ref *(CodesJob*)state;
        CodeRange(ref job, task, out int k0, out int k1);
        int dim = job.Dim;
        new Span<float>(job.Output + (long)k0 * dim, (k1 - k0) * dim).Clear();
        for (int r = 0; r < job.Rows; r++)
        {
            int k = job.Indices[r];
            if (k < k0 || k >= k1) continue;
            float* g = job.Output + (long)k * dim, e = job.Codebook + (long)k * dim, zr = job.Z + (long)r * dim;
            for (int d = 0; d < dim; d++) g[d] += e[d] - zr[d];
        }
        float* out0 = job.Output + (long)k0 * dim;
        for (long i = 0; i < (long)(k1 - k0) * dim; i++) out0[i] *= job.Scale;
    }

    /// <summary>
    /// One EMA step of the codebook, as the peer (class remarks): counts[K] = this batch's n_i (written), then
    /// clusterSize[K], embedSum[K, D] and codebook[K, D] updated in place. <paramref name="decay"/> is gamma in (0, 1);
    /// the float factors are (float)gamma and (float)(1 - gamma), as PyTorch rounds the Python scalars. Uses the team's
    /// scratch. Nothing happens for an empty batch.
    /// </summary>
    public static void EmaUpdate(CpuThreads threads, int rows, int dim, int codes, Floats z, Ints indices, double decay,
        Floats clusterSize, Floats embedSum, Floats codebook, Ints counts)
    {
        CheckSizes(rows, dim, codes);
        if (rows == 0) return;
        var job = new CodesJob
        {
            Rows = rows, Dim = dim, Codes = codes, Z = z, Indices = indices, Codebook = codebook, ClusterSize = clusterSize,
            EmbedSum = embedSum, Counts = counts, Decay = (float)decay, OneMinusDecay = (float)(1.0 - decay),
            Sums = (double*)threads.Scratch(2L * codes * dim), Tasks = Math.Min(threads.Count, codes),
        };
        threads.For(job.Tasks, &EmaAccumulateTask, &job);
        double total = 0;
        for (int k = 0; k < codes; k++) total += clusterSize[k];
        job.Total = (float)total;
        threads.For(job.Tasks, &EmaCodebookTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EmaAccumulateTask(void* state, int task)
    {
        ref var job = ref *(CodesJob*)state;
        CodeRange(ref job, task, out int k0, out int k1);
        int dim = job.Dim;
        new Span<int>(job.Counts + k0, k1 - k0).Clear();
        double* sums = job.Sums;
        new Span<double>(sums + (long)k0 * dim, (k1 - k0) * dim).Clear();
        for (int r = 0; r < job.Rows; r++)
        {
            int k = job.Indices[r];
            if (k < k0 || k >= k1) continue;
            job.Counts[k]++;
            double* s = sums + (long)k * dim;
            float* zr = job.Z + (long)r * dim;
            for (int d = 0; d < dim; d++) s[d] += zr[d];
        }
        float g = job.Decay, a = job.OneMinusDecay;
        for (int k = k0; k < k1; k++)
        {
            // mul_(gamma) then add_(x, alpha = 1 - gamma), which PyTorch's vectorised kernel fuses.
            job.ClusterSize[k] = MathF.FusedMultiplyAdd(a, job.Counts[k], job.ClusterSize[k] * g);
            float* m = job.EmbedSum + (long)k * dim;
            double* s = sums + (long)k * dim;
            for (int d = 0; d < dim; d++) m[d] = MathF.FusedMultiplyAdd(a, (float)s[d], m[d] * g);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EmaCodebookTask(void* state, int task)
    {
        ref var job = ref *(CodesJob*)state;
        CodeRange(ref job, task, out int k0, out int k1);
        int dim = job.Dim;
        float n = job.Total, smoothedTotal = n + (float)(job.Codes * 1e-5);
        for (int k = k0; k < k1; k++)
        {
            float size = (job.ClusterSize[k] + LaplaceEpsilon) / smoothedTotal * n;
            float* m = job.EmbedSum + (long)k * dim, e = job.Codebook + (long)k * dim;
            for (int d = 0; d < dim; d++) e[d] = m[d] / size;
        }
    }

    /// <summary>counts[k] (+)= the number of the <paramref name="rows"/> indices equal to k: a histogram of codes, added to when <paramref name="accumulate"/>.</summary>
    public static void CountCodes(int rows, int codes, Ints indices, Ints counts, bool accumulate)
    {
        if (!accumulate) new Span<int>(counts, codes).Clear();
        for (int r = 0; r < rows; r++) counts[indices[r]]++;
    }

    /// <summary>counts[k] = the number of the <paramref name="rows"/> indices equal to k (a fresh histogram).</summary>
    public static void Histogram(int rows, int codes, Ints indices, Ints counts) => CountCodes(rows, codes, indices, counts, accumulate: false);

    /// <summary>
    /// exp(-sum_k p_k log(p_k + 1e-10)) with p = counts / sum(counts), in double, as the peer reports it; NaN for an
    /// empty histogram (the peer's 0/0).
    /// </summary>
    public static double Perplexity(int codes, Ints counts)
    {
        long total = 0;
        for (int k = 0; k < codes; k++) total += counts[k];
        double entropy = 0;
        for (int k = 0; k < codes; k++)
        {
            double p = (double)counts[k] / total;
            entropy -= p * Math.Log(p + 1e-10);
        }
        return Math.Exp(entropy);
    }

    /// <summary>The number of codes with a nonzero count.</summary>
    public static int CodesUsed(int codes, Ints counts)
    {
        int used = 0;
        for (int k = 0; k < codes; k++) if (counts[k] > 0) used++;
        return used;
    }

    /// <summary>After a training step whose histogram is <paramref name="counts"/>: idle[k] = 0 where the code was used, else idle[k] + 1 (saturating).</summary>
    public static void UpdateIdle(int codes, Ints counts, Ints idle)
    {
        for (int k = 0; k < codes; k++) idle[k] = counts[k] > 0 ? 0 : idle[k] == int.MaxValue ? int.MaxValue : idle[k] + 1;
    }

    /// <summary>
    /// The batch row the j-th restarted code of training step <paramref name="step"/> moves to: the 64 bits
    /// (X0 &lt;&lt; 32 | X1) of Philox4x32-10 with counter (j, step, <see cref="RestartStream"/>, 0) and key
    /// (seed low, seed high), modulo <paramref name="rows"/>.
    /// </summary>
    public static int RestartRow(ulong seed, uint step, int j, int rows)
    {
        var r = Philox.Philox4x32_10((uint)j, step, RestartStream, 0, (uint)seed, (uint)(seed >> 32));
        ulong wide = ((ulong)r.X0 << 32) | r.X1;
        return (int)(wide % (ulong)rows);
    }

    /// <summary>
    /// Restarts every code whose idle counter has reached <paramref name="restartAfter"/> (0 turns restarts off), in
    /// ascending code order (class remarks): codebook[k] = z[RestartRow(seed, step, j, N)], and with EMA (non-null
    /// <paramref name="clusterSize"/> and <paramref name="embedSum"/>) clusterSize[k] = 1, embedSum[k] = that row;
    /// idle[k] = 0. Returns the number of codes restarted.
    /// </summary>
    public static int RestartDeadCodes(int rows, int dim, int codes, Floats z, Ints idle, int restartAfter, ulong seed, uint step,
        Floats codebook, Floats clusterSize, Floats embedSum)
        => Restart(rows, dim, codes, z, new IntIdle(idle), restartAfter, seed, step, codebook, clusterSize, embedSum);

    /// <summary>The Philox counter word of the codebook's initial draws ("INIT").</summary>
    public const uint InitializeStream = 0x494E_4954u;

    /// <summary>Idle counters are kept as whole floats in the model's state; they saturate here, far above any threshold.</summary>
    public const float IdleLimit = 16_777_216f;

    /// <summary>
    /// The batch rows codes 0..K-1 start at: a partial Fisher-Yates shuffle of [0, rows) whose j-th swap partner is
    /// j + (the 64 bits (X0 &lt;&lt; 32 | X1) of Philox4x32-10 with counter (j, 0, <see cref="InitializeStream"/>, 0) and
    /// key (seed low, seed high)) mod (rows - j), for j below min(K, rows); code k takes the k-th entry, modulo the
    /// min(K, rows) shuffled ones when the batch has fewer rows than the codebook has codes.
    /// </summary>
    public static int[] InitialRows(ulong seed, int rows, int codes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(codes, 1);
        var order = new int[rows];
        for (int i = 0; i < rows; i++) order[i] = i;
        int shuffled = Math.Min(codes, rows);
        for (int j = 0; j < shuffled; j++)
        {
            var r = Philox.Philox4x32_10((uint)j, 0, InitializeStream, 0, (uint)seed, (uint)(seed >> 32));
            int swap = j + (int)((((ulong)r.X0 << 32) | r.X1) % (ulong)(rows - j));
            (order[j], order[swap]) = (order[swap], order[j]);
        }
        var picks = new int[codes];
        for (int k = 0; k < codes; k++) picks[k] = order[k % shuffled];
        return picks;
    }

    /// <summary>
    /// The codebook's start from the first training batch, as the peer does: unless <paramref name="initialized"/>[0]
    /// is already nonzero, codebook[k] = z[<see cref="InitialRows"/>(seed, N, K)[k]], and with EMA (non-null
    /// <paramref name="clusterSize"/>, <paramref name="embedSum"/>) clusterSize[k] = 1 and embedSum[k] = that row; then
    /// initialized[0] = 1. Returns whether it initialised.
    /// </summary>
    public static bool InitializeCodebook(int rows, int dim, int codes, Floats z, ulong seed, Floats initialized, Floats codebook,
        Floats clusterSize, Floats embedSum)
    {
        CheckSizes(rows, dim, codes);
        if (initialized[0] != 0f || rows == 0) return false;
        var picks = InitialRows(seed, rows, codes);
        for (int k = 0; k < codes; k++)
        {
            var source = new ReadOnlySpan<float>(z + (long)picks[k] * dim, dim);
            source.CopyTo(new Span<float>(codebook + (long)k * dim, dim));
            if (!embedSum.IsNull) source.CopyTo(new Span<float>(embedSum + (long)k * dim, dim));
            if (!clusterSize.IsNull) clusterSize[k] = 1f;
        }
        initialized[0] = 1f;
        return true;
    }

    /// <summary>
    /// <see cref="UpdateIdle(int, Ints, Ints)"/> for counters kept as whole floats in the model's state (so checkpoints
    /// carry them with the other state): idle[k] = 0 where the code was used, else idle[k] + 1, saturating at <see cref="IdleLimit"/>.
    /// </summary>
    public static void UpdateIdle(int codes, Ints counts, Floats idle)
    {
        for (int k = 0; k < codes; k++) idle[k] = counts[k] > 0 ? 0f : Math.Min(idle[k] + 1f, IdleLimit);
    }

    /// <summary>
    /// <see cref="RestartDeadCodes(int, int, int, Floats, Ints, int, ulong, uint, Floats, Floats, Floats)"/> for idle
    /// counters kept as whole floats: the same codes, rows and order.
    /// </summary>
    public static int RestartDeadCodes(int rows, int dim, int codes, Floats z, Floats idle, int restartAfter, ulong seed, uint step,
        Floats codebook, Floats clusterSize, Floats embedSum)
        => Restart(rows, dim, codes, z, new FloatIdle(idle), restartAfter, seed, step, codebook, clusterSize, embedSum);

    /// <summary>Idle counters as the two overloads keep them: whole ints, or whole floats in a state tensor.</summary>
    private interface IIdleCounters
    {
        bool Due(int code, int restartAfter);
        void Reset(int code);
    }

    private readonly struct IntIdle(Ints counters) : IIdleCounters
    {
        public bool Due(int code, int restartAfter) => counters[code] >= restartAfter;
        public void Reset(int code) => counters[code] = 0;
    }

    private readonly struct FloatIdle(Floats counters) : IIdleCounters
    {
        public bool Due(int code, int restartAfter) => counters[code] >= restartAfter;
        public void Reset(int code) => counters[code] = 0f;
    }

    private static int Restart<TIdle>(int rows, int dim, int codes, Floats z, TIdle idle, int restartAfter, ulong seed, uint step,
        Floats codebook, Floats clusterSize, Floats embedSum) where TIdle : struct, IIdleCounters
    {
        CheckSizes(rows, dim, codes);
        if (restartAfter <= 0 || rows == 0) return 0;
        int restarted = 0;
        for (int k = 0; k < codes; k++)
        {
            if (!idle.Due(k, restartAfter)) continue;
            int row = RestartRow(seed, step, restarted++, rows);
            var source = new ReadOnlySpan<float>(z + (long)row * dim, dim);
            source.CopyTo(new Span<float>(codebook + (long)k * dim, dim));
            if (!embedSum.IsNull) source.CopyTo(new Span<float>(embedSum + (long)k * dim, dim));
            if (!clusterSize.IsNull) clusterSize[k] = 1f;
            idle.Reset(k);
        }
        return restarted;
    }

    /// <summary>
    /// A VQ-VAE's loss for a batch of <paramref name="examples"/>, each quantised as <paramref name="positions"/> rows of
    /// <paramref name="dim"/>: mean over examples of the reconstruction term rowLoss[b], plus <paramref name="weight"/>
    /// (the commitment, plus 1 when the codebook loss is trained too) times the mean squared distance of every row to its
    /// code (<see cref="SquaredErrorMean"/>); in double. Each example's share, rowLoss[b] + weight times the mean over
    /// its own rows, goes to <paramref name="exampleLoss"/> unless it is null.
    /// </summary>
    public static double QuantizedLoss(int examples, int positions, int dim, Floats rowLoss, Floats distance, double weight, Floats exampleLoss)
    {
        if (examples == 0) return 0;
        double reconstruction = 0;
        for (int b = 0; b < examples; b++)
        {
            reconstruction += rowLoss[b];
            if (exampleLoss.IsNull) continue;
            double own = 0;
            for (int p = 0; p < positions; p++) own += distance[(long)b * positions + p];
            exampleLoss[b] = (float)(rowLoss[b] + weight * own / ((double)positions * dim));
        }
        return reconstruction / examples + weight * SquaredErrorMean(examples * positions, dim, distance);
    }

    private struct TransposeJob
    {
        public int Batch, Channels, Positions, Tasks;
        public float* Source, Destination;
        public bool ToRows;
    }

    /// <summary>
    /// [B, D, H, W] -> [B H W, D]: a convolutional encoder's D-channel map to rows of D (one per position, example-major,
    /// then row-major positions), for the quantiser's forward; <paramref name="positions"/> = H W.
    /// </summary>
    public static void ChannelsToRows(CpuThreads threads, int batch, int channels, int positions, Floats source, Floats destination) =>
        TransposeImages(threads, batch, channels, positions, source, destination, toRows: true);

    /// <summary>[B H W, D] -> [B, D, H, W]: the quantised rows back to the decoder's layout, or a row gradient back to the encoder's.</summary>
    public static void RowsToChannels(CpuThreads threads, int batch, int channels, int positions, Floats source, Floats destination) =>
        TransposeImages(threads, batch, channels, positions, source, destination, toRows: false);

    private static void TransposeImages(CpuThreads threads, int batch, int channels, int positions, float* source, float* destination, bool toRows)
    {
        var job = new TransposeJob
        {
            Batch = batch, Channels = channels, Positions = positions, Source = source, Destination = destination, ToRows = toRows,
            Tasks = Math.Max(1, Math.Min(threads.Count, batch)),
        };
        if (batch > 0) threads.For(job.Tasks, &TransposeTask, &job);
    }

    private static void TransposeTask(void* state, int task)
    {
        ref var job = ref *(TransposeJob*)state;
        int b0 = (int)((long)job.Batch * task / job.Tasks), b1 = (int)((long)job.Batch * (task + 1) / job.Tasks);
        long size = (long)job.Channels * job.Positions;
        for (int b = b0; b < b1; b++)
        {
            if (job.ToRows) Linear.TransposeRows(job.Source + b * size, job.Channels, job.Positions, job.Destination + b * size, 0, job.Channels);
            else Linear.TransposeRows(job.Source + b * size, job.Positions, job.Channels, job.Destination + b * size, 0, job.Positions);
        }
    }

    private static void CheckSizes(int rows, int dim, int codes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(codes, 1);
    }
}
