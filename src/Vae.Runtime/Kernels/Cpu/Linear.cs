using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vae.Kernels.Cpu;

/// <summary>
/// A fully connected layer with PyTorch's weight layout W[out, in]: the forward GEMM fused with bias and activation,
/// and the backward pass fused with the activation's derivative. Each thread finishes the epilogue on its own block
/// of the output while that block is still in cache.
/// </summary>
public static unsafe class Linear
{
    private struct ForwardJob
    {
        public Partition Partition;
        public int In, Out;
        public float* X, Wt, Bias, Pre, Output;
    }

    /// <summary>
    /// pre[rows, outF] = x[rows, inF] W[outF, inF]^T + bias; output = TAct(pre). When TAct is the identity, pass
    /// the same buffer for pre and output. <paramref name="packed"/> holds inF*outF floats of scratch for W^T.
    /// </summary>
    public static void Forward<TAct>(CpuThreads threads, int rows, int inF, int outF,
        Floats x, Floats weight, Floats bias, Floats pre, Floats output, Floats packed)
        where TAct : struct, IActivation
    {
        Transpose(threads, weight, outF, inF, packed);
        var job = new ForwardJob
        {
            Partition = new Partition(rows, outF, threads.Count),
            In = inF, Out = outF, X = x, Wt = packed, Bias = bias, Pre = pre, Output = output,
        };
        threads.For(job.Partition.Tasks, &ForwardTask<TAct>, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var job = ref *(ForwardJob*)state;
        job.Partition.Get(task, out int i0, out int i1, out int j0, out int j1);
        Gemm.Block(i0, i1, j0, j1, job.In, job.X, job.In, 1, job.Wt, job.Out, job.Pre, job.Out, accumulate: false);
        for (int i = i0; i < i1; i++)
            BiasActivate<TAct>(job.Pre + (long)i * job.Out, job.Output + (long)i * job.Out, job.Bias, j0, j1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasActivate<TAct>(float* pre, float* output, float* bias, int j0, int j1) where TAct : struct, IActivation
    {
        int j = j0;
        if (TAct.IsVectorized)
        {
            for (; j + 8 <= j1; j += 8)
            {
                var a = Vector256.Load(pre + j) + Vector256.Load(bias + j);
                a.Store(pre + j);
                TAct.Forward(a).Store(output + j);
            }
        }
        for (; j < j1; j++)
        {
            float a = pre[j] + bias[j];
            pre[j] = a;
            output[j] = TAct.Forward(a);
        }
    }

    private struct LikelihoodJob
    {
        public ForwardJob Layer;
        public Likelihoods.Target Target;
    }

    /// <summary>
    /// The output layer fused with the likelihood: output[rows, outF] = x W^T + bias, then -log p(x|z) per row (and
    /// its gradient) for each block of whole rows in the thread that computed it, while those rows are in cache.
    /// When the rows are split by columns (tiny batches) the likelihood runs as a second pass.
    /// </summary>
    public static void ForwardToLikelihood(CpuThreads threads, int rows, int inF, int outF,
        Floats x, Floats weight, Floats bias, Floats output, Floats packed, Likelihoods.Target target)
    {
        Transpose(threads, weight, outF, inF, packed);
        var job = new LikelihoodJob
        {
            Layer = new ForwardJob
            {
                Partition = new Partition(rows, outF, threads.Count),
                In = inF, Out = outF, X = x, Wt = packed, Bias = bias, Pre = output, Output = output,
            },
            Target = target,
        };
        threads.For(job.Layer.Partition.Tasks, &ForwardToLikelihoodTask, &job);
        if (!job.Layer.Partition.ByRows) target.AllRows(threads, output, rows);
    }

    private static void ForwardToLikelihoodTask(void* state, int task)
    {
        var job = (LikelihoodJob*)state;
        ForwardTask<IdentityActivation>(&job->Layer, task);
        if (!job->Layer.Partition.ByRows) return;
        job->Layer.Partition.Get(task, out int i0, out int i1, out _, out _);
        job->Target.Rows(job->Layer.Output, i0, i1);
    }

    private struct BackwardJob
    {
        public Partition Weights, Inputs;
        public int Rows, In, Out, DerivativeTasks;
        public float* DOutput, Pre, Output, X, Weight, DWeight, DBias, DX, DPre;
    }

    /// <summary>
    /// Given dL/doutput [rows, outF], writes dL/dW [outF, inF] and dL/dbias [outF] (overwriting them) and, when
    /// <paramref name="dx"/> is not null, dL/dx [rows, inF]. <paramref name="dPre"/> is [rows, outF] scratch and may
    /// alias <paramref name="dOutput"/> (it is overwritten in place).
    /// </summary>
    public static void Backward<TAct>(CpuThreads threads, int rows, int inF, int outF,
        Floats dOutput, Floats pre, Floats output, Floats x, Floats weight,
        Floats dWeight, Floats dBias, Floats dx, Floats dPre)
        where TAct : struct, IActivation
    {
        var job = new BackwardJob
        {
            Rows = rows, In = inF, Out = outF,
            DOutput = dOutput, Pre = pre, Output = output, X = x, Weight = weight,
            DWeight = dWeight, DBias = dBias, DX = dx, DPre = dPre,
            Weights = new Partition(outF, inF, threads.Count),
            Inputs = new Partition(rows, inF, threads.Count),
        };
        job.DerivativeTasks = Math.Min(threads.Count, rows);
        // The identity's derivative is 1: the scratch aliases dOutput and nothing needs to run.
        if (typeof(TAct) != typeof(IdentityActivation) || dPre != dOutput)
            threads.For(job.DerivativeTasks, &DerivativeTask<TAct>, &job);
        threads.For(job.Weights.Tasks, &WeightTask, &job);
        if (!dx.IsNull) threads.For(job.Inputs.Tasks, &InputTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DerivativeTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var job = ref *(BackwardJob*)state;
        long n = (long)job.Rows * job.Out;
        ActivationLoops.Derivative<TAct>(job.DOutput, job.Pre, job.Output, job.DPre, n * task / job.DerivativeTasks, n * (task + 1) / job.DerivativeTasks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTask(void* state, int task)
    {
        ref var job = ref *(BackwardJob*)state;
        job.Weights.Get(task, out int i0, out int i1, out int j0, out int j1);
        // dW[o, i] = sum_r dPre[r, o] x[r, i]: A = dPre^T read through strides (row stride 1, column stride outF).
        Gemm.Block(i0, i1, j0, j1, job.Rows, job.DPre, 1, job.Out, job.X, job.In, job.DWeight, job.In, accumulate: false);
        if (j0 != 0) return; // one task per output-row range owns the bias
        for (int o = i0; o < i1; o++) job.DBias[o] = 0f;
        for (int r = 0; r < job.Rows; r++)
        {
            float* row = job.DPre + (long)r * job.Out;
            int o = i0;
            for (; o + 8 <= i1; o += 8) (Vector256.Load(job.DBias + o) + Vector256.Load(row + o)).Store(job.DBias + o);
            for (; o < i1; o++) job.DBias[o] += row[o];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTask(void* state, int task)
    {
        ref var job = ref *(BackwardJob*)state;
        job.Inputs.Get(task, out int i0, out int i1, out int j0, out int j1);
        // dx[r, i] = sum_o dPre[r, o] W[o, i]: W is already [K = outF, N = inF] row-major.
        Gemm.Block(i0, i1, j0, j1, job.Out, job.DPre, job.Out, 1, job.Weight, job.In, job.DX, job.In, accumulate: false);
    }

    private struct TransposeJob
    {
        public float* Source, Destination;
        public int Rows, Columns, Tasks;
    }

    /// <summary>dst[cols, rows] = src[rows, cols]^T, in cache-sized tiles, the row bands shared among the threads.</summary>
    internal static void Transpose(CpuThreads threads, float* src, int rows, int cols, float* dst)
    {
        var job = new TransposeJob { Source = src, Destination = dst, Rows = rows, Columns = cols, Tasks = Math.Max(1, Math.Min(threads.Count, rows / 64)) };
        threads.For(job.Tasks, &TransposeTask, &job);
    }

    private static void TransposeTask(void* state, int task)
    {
        ref var j = ref *(TransposeJob*)state;
        int bands = (j.Rows + 31) / 32;
        int r0 = (int)((long)bands * task / j.Tasks) * 32, r1 = Math.Min(j.Rows, (int)((long)bands * (task + 1) / j.Tasks) * 32);
        TransposeRows(j.Source, j.Rows, j.Columns, j.Destination, r0, r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposeRows(float* src, int rows, int cols, float* dst, int rowBegin, int rowEnd)
    {
        const int T = 32;
        for (int r0 = rowBegin; r0 < rowEnd; r0 += T)
        for (int c0 = 0; c0 < cols; c0 += T)
        {
            int r1 = Math.Min(rowEnd, r0 + T), c1 = Math.Min(cols, c0 + T);
            int r = r0;
            if (Avx.IsSupported)
            {
                // Whole 8 x 8 blocks in registers; the ragged right and bottom edges go element by element.
                for (; r + 8 <= r1; r += 8)
                {
                    int c = c0;
                    for (; c + 8 <= c1; c += 8) Transpose8x8(src + (long)r * cols + c, cols, dst + (long)c * rows + r, rows);
                    for (; c < c1; c++)
                        for (int k = 0; k < 8; k++) dst[(long)c * rows + r + k] = src[(long)(r + k) * cols + c];
                }
            }
            for (; r < r1; r++)
            for (int c = c0; c < c1; c++)
                dst[(long)c * rows + r] = src[(long)r * cols + c];
        }
    }

    /// <summary>Transposes one 8 x 8 block with the classic unpack / shuffle / lane-permute sequence.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, int srcStride, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }
}
