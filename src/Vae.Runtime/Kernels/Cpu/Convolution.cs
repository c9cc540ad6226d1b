using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vae.Kernels.Cpu;

/// <summary>
/// The shape of a square-kernel convolution: PyTorch's Conv2d (a correlation of the input with weight
/// [out, in, k, k]) or ConvTranspose2d (its adjoint, weight [in, out, k, k]). Images are [channels, height, width]
/// row-major, one row of the batch each.
/// </summary>
public readonly record struct ConvolutionShape(int InChannels, int InHeight, int InWidth, int OutChannels, int OutHeight, int OutWidth,
    int Kernel, int Stride, int Padding, bool Transposed)
{
    /// <summary>Floats in one input image.</summary>
    public int InFeatures => InChannels * InHeight * InWidth;

    /// <summary>Floats in one output image.</summary>
    public int OutFeatures => OutChannels * OutHeight * OutWidth;
}

/// <summary>
/// Convolution layers fused with bias and activation, forward and backward, as matrix products through the packed
/// register tiles of <see cref="Gemm"/> on im2col panels.
/// <para>
/// Both layer kinds are handled from their Conv2d side: a map from a "big" image (Conv2d's input, ConvTranspose2d's
/// output) to a "small" one (Conv2d's output, ConvTranspose2d's input), whose weight is [small channels, big channels
/// x k x k] row-major in both of PyTorch's layouts. Three products then cover everything, per example: the
/// correlation small = W · panel(big) (Conv2d forward, ConvTranspose2d input gradient), its adjoint
/// big += scatter(W^T · small) (ConvTranspose2d forward, Conv2d input gradient), and the weight gradient
/// dW^T = sum over examples of panel(big) · small^T.
/// </para>
/// <para>
/// Each example's forward pass and input gradient run in one thread, and each weight-gradient element is summed by
/// one thread over the examples in order, so results do not depend on the thread count.
/// </para>
/// </summary>
public static unsafe class Convolution
{
    /// <summary>The layer seen from its Conv2d side (see the class remarks).</summary>
    private readonly struct View
    {
        public readonly int BigChannels, BigHeight, BigWidth, SmallChannels, SmallHeight, SmallWidth, Kernel, Stride, Padding;

        public View(in ConvolutionShape s)
        {
            (BigChannels, BigHeight, BigWidth, SmallChannels, SmallHeight, SmallWidth) = s.Transposed
                ? (s.OutChannels, s.OutHeight, s.OutWidth, s.InChannels, s.InHeight, s.InWidth)
                : (s.InChannels, s.InHeight, s.InWidth, s.OutChannels, s.OutHeight, s.OutWidth);
            (Kernel, Stride, Padding) = (s.Kernel, s.Stride, s.Padding);
        }

        /// <summary>Rows of an im2col panel: one per (big channel, ky, kx), the weight's column order.</summary>
        public int Depth => BigChannels * Kernel * Kernel;

        /// <summary>Columns of a panel: one per position of the small image.</summary>
        public int Positions => SmallHeight * SmallWidth;

        public int BigFeatures => BigChannels * BigHeight * BigWidth;
        public int SmallFeatures => SmallChannels * Positions;

        /// <summary>Floats of one panel, rounded up to whole cache lines so every thread's panel starts on one.</summary>
        public long PanelFloats => ((long)Depth * Positions + 15) & ~15L;

        /// <summary>A task's scratch: its panel, then a [positions, small channels] block for a flipped correlation.</summary>
        public long TaskFloats => PanelFloats + (((long)Positions * SmallChannels + 15) & ~15L);

        /// <summary>Floats of W^T [depth, small channels], rounded up to whole cache lines.</summary>
        public long WeightFloats => ((long)Depth * SmallChannels + 15) & ~15L;

        /// <summary>
        /// Whether the correlation (small = W · panel: small channels x positions) runs as its transpose, positions as
        /// the rows: the register tiles are 8 (or 6) rows by 32 (or 16) columns, so 64 channels x 49 positions wastes
        /// a third of its column tiles where 49 x 64 wastes one row in 56. Every element is still the same products
        /// added in the same order, so the choice never changes a result.
        /// </summary>
        public bool FlipCorrelate => Flip(SmallChannels, Positions);

        /// <summary>The same for the adjoint product (panel = W^T · small: depth x positions).</summary>
        public bool FlipAdjoint => Flip(Depth, Positions);

        private static bool Flip(int rows, int columns) => TileCost(columns, rows) < TileCost(rows, columns);

        /// <summary>Padded tile area of an M x N product, a ragged column edge (under 16 wide) counted a quarter dearer.</summary>
        private static double TileCost(int m, int n) =>
            (double)RoundUp(m, Gemm.TileRows) * RoundUp(n, Gemm.TileColumns) * (n % 16 != 0 ? 1.25 : 1.0);

        private static long RoundUp(int value, int multiple) => ((long)value + multiple - 1) / multiple * multiple;
    }

    private struct Job
    {
        public View V;
        public bool Transposed;
        public int Rows, Tasks, BiasTasks, OutChannels, OutPlane;
        public float* X, W, B, Pre, Out, DOut, DPre, DW, DB, DX;
        /// <summary>A BatchNorm2d in evaluation mode fused into the forward's epilogue: its weight and bias, running mean and 1 / sqrt(running_var + eps); null when there is none.</summary>
        public float* NormWeight, NormBias, NormMean, NormInvStd;
        public float* Panels, SmallTransposed, WeightTransposed, WeightT;
        public Partition Weights;

        public readonly int InFeatures => Transposed ? V.SmallFeatures : V.BigFeatures;
        public readonly int OutFeatures => OutChannels * OutPlane;
    }

    /// <summary>Conv2d: pre = x * W + b, out = TAct(pre), for <paramref name="rows"/> examples; pre and out may be one buffer for the identity.</summary>
    public static void Forward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, Floats x, Floats weight, Floats bias, Floats pre, Floats output) where TAct : struct, IActivation =>
        Forward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, false),
            x, weight, bias, pre, output);

    /// <summary>ConvTranspose2d forward, as <see cref="Forward{TAct}(CpuThreads, int, int, int, int, int, int, int, int, int, int, Floats, Floats, Floats, Floats, Floats)"/>.</summary>
    public static void TransposedForward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, Floats x, Floats weight, Floats bias, Floats pre, Floats output) where TAct : struct, IActivation =>
        Forward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, true),
            x, weight, bias, pre, output);

    /// <summary>
    /// Conv2d, then BatchNorm2d in evaluation mode (running statistics), then TAct, in one pass over the output: pre and
    /// out are the BatchNorm's (before and after TAct), every value the same as <see cref="Forward{TAct}(CpuThreads, int, int, int, int, int, int, int, int, int, int, Floats, Floats, Floats, Floats, Floats)"/>
    /// with the identity followed by <see cref="BatchNorm.EvaluationForward{TAct}"/>, without the pass between them.
    /// </summary>
    public static void NormalizedForward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, float epsilon, Floats x, Floats weight, Floats bias, Floats normWeight, Floats normBias,
        Floats runningMean, Floats runningVar, Floats pre, Floats output) where TAct : struct, IActivation =>
        Forward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, false),
            x, weight, bias, pre, output, new Normalization(epsilon, normWeight, normBias, runningMean, runningVar));

    /// <summary>ConvTranspose2d, then BatchNorm2d in evaluation mode, then TAct, as <see cref="NormalizedForward{TAct}"/>.</summary>
    public static void TransposedNormalizedForward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, float epsilon, Floats x, Floats weight, Floats bias, Floats normWeight, Floats normBias,
        Floats runningMean, Floats runningVar, Floats pre, Floats output) where TAct : struct, IActivation =>
        Forward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, true),
            x, weight, bias, pre, output, new Normalization(epsilon, normWeight, normBias, runningMean, runningVar));

    /// <summary>A BatchNorm2d in evaluation mode for the forward's epilogue.</summary>
    private readonly record struct Normalization(float Epsilon, Floats Weight, Floats Bias, Floats RunningMean, Floats RunningVar);

    private static void Forward<TAct>(CpuThreads threads, int rows, ConvolutionShape shape, Floats x, Floats weight, Floats bias, Floats pre, Floats output,
        Normalization? norm = null)
        where TAct : struct, IActivation
    {
        if (rows <= 0) return;
        var job = NewJob(threads, rows, shape);
        job.X = x; job.W = weight; job.B = bias; job.Pre = pre; job.Out = output;
        long channelFloats = norm is null ? 0 : (2L * shape.OutChannels + 15) & ~15L;
        float* scratch = threads.Scratch(job.V.WeightFloats + job.Tasks * job.V.TaskFloats + channelFloats);
        job.WeightT = scratch;
        job.Panels = scratch + job.V.WeightFloats;
        if (norm is { } n)
        {
            job.NormWeight = n.Weight; job.NormBias = n.Bias;
            job.NormMean = job.Panels + job.Tasks * job.V.TaskFloats;
            job.NormInvStd = job.NormMean + shape.OutChannels;
            BatchNorm.RunningStatistics(shape.OutChannels, n.Epsilon, n.RunningMean, n.RunningVar, job.NormMean, job.NormInvStd);
        }
        if (!shape.Transposed && job.V.FlipCorrelate) Linear.Transpose(threads, weight, job.V.SmallChannels, job.V.Depth, job.WeightT);
        threads.For(job.Tasks, &ForwardTask<TAct>, &job);
    }

    private static Job NewJob(CpuThreads threads, int rows, in ConvolutionShape shape) => new()
    {
        V = new View(shape), Transposed = shape.Transposed, Rows = rows,
        Tasks = Math.Max(1, Math.Min(threads.Count, rows)),
        OutChannels = shape.OutChannels, OutPlane = shape.OutHeight * shape.OutWidth,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var j = ref *(Job*)state;
        var v = j.V;
        float* panel = j.Panels + task * v.TaskFloats;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        for (int r = r0; r < r1; r++)
        {
            float* x = j.X + (long)r * j.InFeatures;
            float* pre = j.Pre + (long)r * j.OutFeatures;
            if (!j.Transposed) Correlate(ref j, x, pre, panel);
            else Adjoint(ref j, x, pre, panel);
            if (j.NormMean != null) BiasNormalizeActivate<TAct>(ref j, pre, j.Out + (long)r * j.OutFeatures);
            else BiasActivate<TAct>(pre, j.Out + (long)r * j.OutFeatures, j.B, j.OutChannels, j.OutPlane);
        }
    }

    /// <summary>
    /// The epilogue with a BatchNorm in evaluation mode: a = sum + bias, y = weight ((a - mean) inv_std) + bias', then
    /// TAct; scalar, with the operations of the unfused passes in their order, so each value is theirs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasNormalizeActivate<TAct>(ref Job j, float* pre, float* output) where TAct : struct, IActivation
    {
        for (int c = 0; c < j.OutChannels; c++, pre += j.OutPlane, output += j.OutPlane)
        {
            float b = j.B[c], m = j.NormMean[c], s = j.NormInvStd[c], w = j.NormWeight[c], nb = j.NormBias[c];
            for (int i = 0; i < j.OutPlane; i++)
            {
                float a = pre[i] + b;
                float y = w * ((a - m) * s) + nb;
                pre[i] = y;
                output[i] = TAct.Forward(y);
            }
        }
    }

    /// <summary>
    /// Given dL/dout [rows, OutFeatures], writes dL/dW and dL/db (overwriting them) and, when <paramref name="dx"/> is
    /// not null, dL/dx [rows, InFeatures]. <paramref name="dPre"/> is [rows, OutFeatures] scratch and may alias dOutput.
    /// </summary>
    public static void Backward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, Floats dOutput, Floats pre, Floats output, Floats x, Floats weight, Floats dWeight, Floats dBias, Floats dx, Floats dPre)
        where TAct : struct, IActivation =>
        Backward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, false),
            dOutput, pre, output, x, weight, dWeight, dBias, dx, dPre);

    /// <summary>ConvTranspose2d backward, as <see cref="Backward{TAct}(CpuThreads, int, int, int, int, int, int, int, int, int, int, Floats, Floats, Floats, Floats, Floats, Floats, Floats, Floats, Floats)"/>.</summary>
    public static void TransposedBackward<TAct>(CpuThreads threads, int rows, int inChannels, int inHeight, int inWidth, int outChannels, int outHeight, int outWidth,
        int kernel, int stride, int padding, Floats dOutput, Floats pre, Floats output, Floats x, Floats weight, Floats dWeight, Floats dBias, Floats dx, Floats dPre)
        where TAct : struct, IActivation =>
        Backward<TAct>(threads, rows, new ConvolutionShape(inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, kernel, stride, padding, true),
            dOutput, pre, output, x, weight, dWeight, dBias, dx, dPre);

    private static void Backward<TAct>(CpuThreads threads, int rows, ConvolutionShape shape, Floats dOutput, Floats pre, Floats output, Floats x,
        Floats weight, Floats dWeight, Floats dBias, Floats dx, Floats dPre)
        where TAct : struct, IActivation
    {
        var job = NewJob(threads, rows, shape);
        var v = job.V;
        if (rows <= 0)
        {
            new Span<float>(dWeight, v.SmallChannels * v.Depth).Clear();
            new Span<float>(dBias, shape.OutChannels).Clear();
            return;
        }
        job.X = x; job.W = weight; job.DOut = dOutput; job.Pre = pre; job.Out = output;
        job.DPre = dPre; job.DW = dWeight; job.DB = dBias; job.DX = dx;

        // Scratch: every example's small side transposed, dW^T, and one panel per thread.
        long transposedFloats = ((long)rows * v.SmallFeatures + 15) & ~15L;
        float* scratch = threads.Scratch(transposedFloats + 2 * v.WeightFloats + threads.Count * v.TaskFloats);
        job.SmallTransposed = scratch;
        job.WeightTransposed = scratch + transposedFloats;
        job.WeightT = job.WeightTransposed + v.WeightFloats;
        job.Panels = job.WeightT + v.WeightFloats;

        // The identity's derivative is 1: the scratch aliases dOutput and nothing needs to run.
        if (typeof(TAct) != typeof(IdentityActivation) || dPre != dOutput)
            threads.For(job.Tasks, &DerivativeTask<TAct>, &job);
        threads.For(job.Tasks, &TransposeSmallTask, &job);
        job.Weights = new Partition(v.Depth, v.SmallChannels, threads.Count);
        threads.For(job.Weights.Tasks, &WeightTask, &job);
        Linear.Transpose(threads, job.WeightTransposed, v.Depth, v.SmallChannels, dWeight);
        job.BiasTasks = Math.Max(1, Math.Min(threads.Count, job.OutChannels));
        threads.For(job.BiasTasks, &BiasTask, &job);
        if (dx.IsNull) return;
        if (shape.Transposed && v.FlipCorrelate) Linear.Transpose(threads, weight, v.SmallChannels, v.Depth, job.WeightT);
        threads.For(job.Tasks, &InputTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DerivativeTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var j = ref *(Job*)state;
        long n = (long)j.Rows * j.OutFeatures;
        ActivationLoops.Derivative<TAct>(j.DOut, j.Pre, j.Out, j.DPre, n * task / j.Tasks, n * (task + 1) / j.Tasks);
    }

    /// <summary>The small side of each example (Conv2d: dPre; ConvTranspose2d: x), transposed to [positions, channels] for the weight product.</summary>
    private static void TransposeSmallTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        var v = j.V;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        for (int r = r0; r < r1; r++)
            Linear.TransposeRows(Small(ref j, r), v.SmallChannels, v.Positions, j.SmallTransposed + (long)r * v.SmallFeatures, 0, v.SmallChannels);
    }

    /// <summary>dW^T[depth, small channels] = sum over examples, in order, of panel(big) · small^T, on this task's block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        var v = j.V;
        j.Weights.Get(task, out int i0, out int i1, out int c0, out int c1);
        if (i0 >= i1 || c0 >= c1) return;
        float* panel = j.Panels + task * v.TaskFloats;
        float* block = j.WeightTransposed + (long)i0 * v.SmallChannels;
        for (int r = 0; r < j.Rows; r++)
        {
            GatherRows(v, Big(ref j, r), panel, i0, i1);
            Gemm.Block(0, i1 - i0, c0, c1, v.Positions, panel, v.Positions, 1,
                j.SmallTransposed + (long)r * v.SmallFeatures, v.SmallChannels, block, v.SmallChannels, accumulate: r > 0);
        }
    }

    /// <summary>db[c] = dPre summed over examples (in order) and positions, for this task's output channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        int c0 = (int)((long)j.OutChannels * task / j.BiasTasks), c1 = (int)((long)j.OutChannels * (task + 1) / j.BiasTasks);
        for (int c = c0; c < c1; c++)
        {
            float total = 0f;
            for (int r = 0; r < j.Rows; r++) total += Sum(j.DPre + (long)r * j.OutFeatures + (long)c * j.OutPlane, j.OutPlane);
            j.DB[c] = total;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        var v = j.V;
        float* panel = j.Panels + task * v.TaskFloats;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        for (int r = r0; r < r1; r++)
        {
            float* d = j.DPre + (long)r * j.OutFeatures;
            float* dx = j.DX + (long)r * j.InFeatures;
            // A convolution's input gradient is its adjoint; a transposed convolution's is the plain correlation.
            if (!j.Transposed) Adjoint(ref j, d, dx, panel);
            else Correlate(ref j, d, dx, panel);
        }
    }

    /// <summary>
    /// small [small channels, positions] = W · panel(big), in whichever orientation tiles better (<see cref="View.FlipCorrelate"/>);
    /// <paramref name="scratch"/> is the task's panel followed by its [positions, small channels] block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Correlate(ref Job j, float* big, float* small, float* scratch)
    {
        var v = j.V;
        GatherRows(v, big, scratch, 0, v.Depth);
        if (!v.FlipCorrelate)
        {
            Gemm.Block(0, v.SmallChannels, 0, v.Positions, v.Depth, j.W, v.Depth, 1, scratch, v.Positions, small, v.Positions, accumulate: false);
            return;
        }
        // small^T [positions, channels] = panel^T (read through strides) · W^T, then turned back.
        float* flipped = scratch + v.PanelFloats;
        Gemm.Block(0, v.Positions, 0, v.SmallChannels, v.Depth, scratch, 1, v.Positions, j.WeightT, v.SmallChannels, flipped, v.SmallChannels, accumulate: false);
        Linear.TransposeRows(flipped, v.Positions, v.SmallChannels, small, 0, v.Positions);
    }

    /// <summary>big = scatter(W^T · small), overwriting big, in whichever orientation tiles better (<see cref="View.FlipAdjoint"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Adjoint(ref Job j, float* small, float* big, float* panel)
    {
        var v = j.V;
        new Span<float>(big, v.BigFeatures).Clear();
        if (!v.FlipAdjoint)
        {
            // panel [depth, positions] = W^T small: A = W read transposed (row stride 1, column stride Depth).
            Gemm.Block(0, v.Depth, 0, v.Positions, v.SmallChannels, j.W, 1, v.Depth, small, v.Positions, panel, v.Positions, accumulate: false);
            Scatter(v, panel, big, v.Positions, 1);
            return;
        }
        // panel^T [positions, depth] = small^T (read through strides) · W, W being [small channels, depth] already.
        Gemm.Block(0, v.Positions, 0, v.Depth, v.SmallChannels, small, 1, v.Positions, j.W, v.Depth, panel, v.Depth, accumulate: false);
        ScatterRows(v, panel, big);
    }

    /// <summary>
    /// For tests: the big image that the scatter of a transposed panel ([positions, depth]) of <paramref name="shape"/>
    /// gives, by <see cref="ScatterRows"/> or, with <paramref name="byColumns"/>, by <see cref="Scatter"/> reading it
    /// a column at a time.
    /// </summary>
    internal static float[] ScatterTransposedPanel(in ConvolutionShape shape, float[] panel, bool byColumns)
    {
        var v = new View(shape);
        if (panel.Length != v.Depth * v.Positions) throw new ArgumentException($"The panel needs {v.Depth * v.Positions} values.", nameof(panel));
        var big = new float[v.BigFeatures];
        fixed (float* p = panel, b = big)
        {
            if (byColumns) Scatter(v, p, b, 1, v.Depth);
            else ScatterRows(v, p, b);
        }
        return big;
    }

    /// <summary>
    /// <see cref="Scatter"/> of a panel stored transposed ([positions, depth], as the flipped product leaves it), one
    /// small position at a time: its depth values are contiguous, and the big-image elements they add to lie in a
    /// window of k rows per channel that stays in L1 while x advances (reading the panel a column at a time touched a
    /// new cache line per value: this takes half the time on the decoder's 3x3 stride-2 layers). Positions run from the
    /// last to the first, so each big element receives its taps in ascending (ky, kx), the order of
    /// <see cref="Scatter"/>: the same sums, bit for bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScatterRows(in View v, float* panel, float* big)
    {
        int k = v.Kernel, s = v.Stride, p = v.Padding, bigW = v.BigWidth, bigH = v.BigHeight;
        long plane = (long)bigH * bigW;
        for (int sy = v.SmallHeight - 1; sy >= 0; sy--)
        {
            int top = sy * s - p; // big row of tap ky = 0
            int ky0 = Math.Max(0, -top), ky1 = Math.Min(k, bigH - top);
            if (ky0 >= ky1) continue;
            for (int sx = v.SmallWidth - 1; sx >= 0; sx--)
            {
                int left = sx * s - p;
                int kx0 = Math.Max(0, -left), kx1 = Math.Min(k, bigW - left);
                if (kx0 >= kx1) continue;
                float* row = panel + ((long)sy * v.SmallWidth + sx) * v.Depth;
                float* corner = big + (long)top * bigW + left;
                if (k == 3 && ky0 == 0 && ky1 == 3 && kx0 == 0 && kx1 == 3)
                {
                    // The common interior case of a 3x3 kernel, written out.
                    for (int c = 0; c < v.BigChannels; c++, row += 9, corner += plane)
                    {
                        float* t0 = corner, t1 = corner + bigW, t2 = corner + 2 * bigW;
                        t0[0] += row[0]; t0[1] += row[1]; t0[2] += row[2];
                        t1[0] += row[3]; t1[1] += row[4]; t1[2] += row[5];
                        t2[0] += row[6]; t2[1] += row[7]; t2[2] += row[8];
                    }
                    continue;
                }
                for (int c = 0; c < v.BigChannels; c++, row += k * k, corner += plane)
                    for (int ky = ky0; ky < ky1; ky++)
                    {
                        float* target = corner + (long)ky * bigW;
                        float* taps = row + ky * k;
                        for (int kx = kx0; kx < kx1; kx++) target[kx] += taps[kx];
                    }
            }
        }
    }

    private static float* Big(ref Job j, int r) => j.Transposed ? j.DPre + (long)r * j.OutFeatures : j.X + (long)r * j.InFeatures;

    private static float* Small(ref Job j, int r) => j.Transposed ? j.X + (long)r * j.InFeatures : j.DPre + (long)r * j.OutFeatures;

    /// <summary>
    /// Rows [q0, q1) of the im2col panel of one big image, written from <paramref name="panel"/>[0]: row q = (channel,
    /// ky, kx) holds, for each small position (sy, sx), big[channel, sy s - p + ky, sx s - p + kx], or 0 in the padding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GatherRows(in View v, float* big, float* panel, int q0, int q1)
    {
        int k = v.Kernel, width = v.SmallWidth;
        for (int q = q0; q < q1; q++)
        {
            int channel = q / (k * k), ky = q / k % k, kx = q % k;
            float* plane = big + (long)channel * v.BigHeight * v.BigWidth;
            float* row = panel + (long)(q - q0) * v.Positions;
            Inside(v, kx, out int sx0, out int sx1);
            for (int sy = 0; sy < v.SmallHeight; sy++, row += width)
            {
                int iy = sy * v.Stride - v.Padding + ky;
                if ((uint)iy >= (uint)v.BigHeight || sx0 >= sx1)
                {
                    new Span<float>(row, width).Clear();
                    continue;
                }
                float* source = plane + (long)iy * v.BigWidth - v.Padding + kx;
                for (int sx = 0; sx < sx0; sx++) row[sx] = 0f;
                if (v.Stride == 1)
                    new ReadOnlySpan<float>(source + sx0, sx1 - sx0).CopyTo(new Span<float>(row + sx0, sx1 - sx0));
                else
                {
                    int sx = sx0;
                    if (v.Stride == 2 && Avx2.IsSupported)
                    {
                        // Eight even values from sixteen: shuffle within 128-bit lanes, then order the 64-bit blocks.
                        // The loads reach one value past the last even one read, so the loop stops a position early
                        // rather than read past the last value the row's taps use.
                        for (; sx + 9 <= sx1; sx += 8)
                        {
                            var evens = Avx.Shuffle(Avx.LoadVector256(source + 2 * sx), Avx.LoadVector256(source + 2 * sx + 8), 0b10_00_10_00);
                            Avx.Store(row + sx, Avx2.Permute4x64(evens.AsDouble(), 0b11_01_10_00).AsSingle());
                        }
                    }
                    for (; sx < sx1; sx++) row[sx] = source[sx * v.Stride];
                }
                for (int sx = sx1; sx < width; sx++) row[sx] = 0f;
            }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="GatherRows"/> over a whole panel whose element (q, p) is at
    /// q <paramref name="strideQ"/> + p <paramref name="strideP"/>: each value is added to the big-image element it was read from.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scatter(in View v, float* panel, float* big, int strideQ, int strideP)
    {
        int k = v.Kernel, width = v.SmallWidth;
        for (int q = 0; q < v.Depth; q++)
        {
            int channel = q / (k * k), ky = q / k % k, kx = q % k;
            float* plane = big + (long)channel * v.BigHeight * v.BigWidth;
            float* row = panel + (long)q * strideQ;
            Inside(v, kx, out int sx0, out int sx1);
            if (sx0 >= sx1) continue;
            for (int sy = 0; sy < v.SmallHeight; sy++, row += (long)width * strideP)
            {
                int iy = sy * v.Stride - v.Padding + ky;
                if ((uint)iy >= (uint)v.BigHeight) continue;
                float* target = plane + (long)iy * v.BigWidth - v.Padding + kx;
                int sx = sx0;
                if (v.Stride == 1 && strideP == 1)
                    for (; sx + 8 <= sx1; sx += 8) (Vector256.Load(target + sx) + Vector256.Load(row + sx)).Store(target + sx);
                for (; sx < sx1; sx++) target[sx * v.Stride] += row[(long)sx * strideP];
            }
        }
    }

    /// <summary>The small columns [sx0, sx1) whose tap <paramref name="kx"/> reads inside the big image (sx s - p + kx in [0, width)).</summary>
    private static void Inside(in View v, int kx, out int sx0, out int sx1)
    {
        int before = v.Padding - kx; // sx s >= p - kx
        sx0 = before <= 0 ? 0 : (before + v.Stride - 1) / v.Stride;
        int last = v.BigWidth - 1 + v.Padding - kx; // sx s <= width - 1 + p - kx
        sx1 = last < 0 ? 0 : Math.Min(v.SmallWidth, last / v.Stride + 1);
        sx0 = Math.Min(sx0, v.SmallWidth);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasActivate<TAct>(float* pre, float* output, float* bias, int channels, int plane) where TAct : struct, IActivation
    {
        for (int c = 0; c < channels; c++, pre += plane, output += plane)
        {
            float b = bias[c];
            int i = 0;
            if (TAct.IsVectorized)
            {
                var vb = Vector256.Create(b);
                for (; i + 8 <= plane; i += 8)
                {
                    var a = Vector256.Load(pre + i) + vb;
                    a.Store(pre + i);
                    TAct.Forward(a).Store(output + i);
                }
            }
            for (; i < plane; i++)
            {
                float a = pre[i] + b;
                pre[i] = a;
                output[i] = TAct.Forward(a);
            }
        }
    }

    /// <summary>A sum in a fixed order: eight running lanes, then the lanes and the tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(float* values, int count)
    {
        var lanes = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= count; i += 8) lanes += Vector256.Load(values + i);
        float sum = Vector256.Sum(lanes);
        for (; i < count; i++) sum += values[i];
        return sum;
    }
}
