using System.Runtime.CompilerServices;

namespace Vae.Kernels.Cpu;

/// <summary>
/// The shape of a square-kernel convolution: PyTorch's Conv2d (a correlation of the input with weight
/// [out, in, k, k]) or ConvTranspose2d (its adjoint, weight [in, out, k, k]). Images are [channels, height, width]
/// row-major, one row of the batch each.
/// </summary>
public readonly record struct ConvolutionShape(int InChannels, int InHeight, int InWidth, int OutChannels, int OutHeight, int OutWidth,
    int Kernel, int Stride, int Padding, bool Transposed)
{
    public int InFeatures => InChannels * InHeight * InWidth;
    public int OutFeatures => OutChannels * OutHeight * OutWidth;
}

/// <summary>
/// Convolution layers fused with bias and activation, forward and backward, direct (no im2col): each thread takes whole
/// examples for the forward pass and the input gradient, and whole output channels for the weight gradient, summing the
/// batch in a fixed order, so results do not depend on the thread count.
/// </summary>
public static unsafe class Convolution
{
    private struct Job
    {
        public ConvolutionShape S;
        public int Rows, Tasks;
        public float* X, W, B, Pre, Out, DPre, DW, DB, DX, DOut;
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

    private static void Forward<TAct>(CpuThreads threads, int rows, ConvolutionShape shape, Floats x, Floats weight, Floats bias, Floats pre, Floats output)
        where TAct : struct, IActivation
    {
        var job = new Job { S = shape, Rows = rows, X = x, W = weight, B = bias, Pre = pre, Out = output, Tasks = Math.Max(1, Math.Min(threads.Count, rows)) };
        threads.For(job.Tasks, &ForwardTask<TAct>, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var j = ref *(Job*)state;
        var s = j.S;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        for (int r = r0; r < r1; r++)
        {
            float* x = j.X + (long)r * s.InFeatures;
            float* pre = j.Pre + (long)r * s.OutFeatures;
            float* output = j.Out + (long)r * s.OutFeatures;
            for (int oc = 0; oc < s.OutChannels; oc++)
            for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++)
            {
                float sum = j.B[oc];
                for (int ic = 0; ic < s.InChannels; ic++)
                for (int ky = 0; ky < s.Kernel; ky++)
                {
                    if (!Source(s, oy, ky, s.InHeight, out int iy)) continue;
                    for (int kx = 0; kx < s.Kernel; kx++)
                    {
                        if (!Source(s, ox, kx, s.InWidth, out int ix)) continue;
                        sum += x[(ic * s.InHeight + iy) * s.InWidth + ix] * j.W[WeightIndex(s, oc, ic, ky, kx)];
                    }
                }
                int at = (oc * s.OutHeight + oy) * s.OutWidth + ox;
                pre[at] = sum;
                output[at] = TAct.Forward(sum);
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
        long n = (long)rows * shape.OutFeatures;
        for (long i = 0; i < n; i++) dPre[i] = dOutput[i] * TAct.Derivative(pre[i], output[i]);
        var job = new Job
        {
            S = shape, Rows = rows, X = x, W = weight, DPre = dPre, DW = dWeight, DB = dBias, DX = dx,
            Tasks = Math.Max(1, Math.Min(threads.Count, shape.OutChannels)),
        };
        threads.For(job.Tasks, &WeightTask, &job);
        if (dx.IsNull) return;
        job.Tasks = Math.Max(1, Math.Min(threads.Count, rows));
        threads.For(job.Tasks, &InputTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        var s = j.S;
        int c0 = (int)((long)s.OutChannels * task / j.Tasks), c1 = (int)((long)s.OutChannels * (task + 1) / j.Tasks);
        for (int oc = c0; oc < c1; oc++)
        {
            float bias = 0f;
            for (int r = 0; r < j.Rows; r++)
            {
                float* d = j.DPre + (long)r * s.OutFeatures + (long)oc * s.OutHeight * s.OutWidth;
                for (int i = 0; i < s.OutHeight * s.OutWidth; i++) bias += d[i];
            }
            j.DB[oc] = bias;
            for (int ic = 0; ic < s.InChannels; ic++)
            for (int ky = 0; ky < s.Kernel; ky++)
            for (int kx = 0; kx < s.Kernel; kx++)
            {
                float sum = 0f;
                for (int r = 0; r < j.Rows; r++)
                {
                    float* x = j.X + (long)r * s.InFeatures;
                    float* d = j.DPre + (long)r * s.OutFeatures;
                    for (int oy = 0; oy < s.OutHeight; oy++)
                    {
                        if (!Source(s, oy, ky, s.InHeight, out int iy)) continue;
                        for (int ox = 0; ox < s.OutWidth; ox++)
                        {
                            if (!Source(s, ox, kx, s.InWidth, out int ix)) continue;
                            sum += d[(oc * s.OutHeight + oy) * s.OutWidth + ox] * x[(ic * s.InHeight + iy) * s.InWidth + ix];
                        }
                    }
                }
                j.DW[WeightIndex(s, oc, ic, ky, kx)] = sum;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        var s = j.S;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        for (int r = r0; r < r1; r++)
        {
            float* dx = j.DX + (long)r * s.InFeatures;
            float* d = j.DPre + (long)r * s.OutFeatures;
            new Span<float>(dx, s.InFeatures).Clear();
            // The forward pass's sum, run again with each product's share sent back to the input it read.
            for (int oc = 0; oc < s.OutChannels; oc++)
            for (int oy = 0; oy < s.OutHeight; oy++)
            for (int ox = 0; ox < s.OutWidth; ox++)
            {
                float g = d[(oc * s.OutHeight + oy) * s.OutWidth + ox];
                if (g == 0f) continue;
                for (int ic = 0; ic < s.InChannels; ic++)
                for (int ky = 0; ky < s.Kernel; ky++)
                {
                    if (!Source(s, oy, ky, s.InHeight, out int iy)) continue;
                    for (int kx = 0; kx < s.Kernel; kx++)
                    {
                        if (!Source(s, ox, kx, s.InWidth, out int ix)) continue;
                        dx[(ic * s.InHeight + iy) * s.InWidth + ix] += g * j.W[WeightIndex(s, oc, ic, ky, kx)];
                    }
                }
            }
        }
    }

    /// <summary>
    /// The input position that output position <paramref name="o"/> reads through kernel tap <paramref name="k"/>:
    /// o s - p + k for a convolution; for a transposed one, the i with i s - p + k = o, when it exists.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Source(in ConvolutionShape s, int o, int k, int size, out int i)
    {
        if (!s.Transposed)
        {
            i = o * s.Stride - s.Padding + k;
            return (uint)i < (uint)size;
        }
        int t = o + s.Padding - k;
        i = t / s.Stride;
        return t >= 0 && t % s.Stride == 0 && i < size;
    }

    /// <summary>Conv2d's weight is [out, in, k, k]; ConvTranspose2d's is [in, out, k, k], as PyTorch stores them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int WeightIndex(in ConvolutionShape s, int oc, int ic, int ky, int kx) =>
        s.Transposed
            ? ((ic * s.OutChannels + oc) * s.Kernel + ky) * s.Kernel + kx
            : ((oc * s.InChannels + ic) * s.Kernel + ky) * s.Kernel + kx;
}
