using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vae.Kernels.Cpu;

/// <summary>
/// The decoder's output layer fused with the negative log-likelihood and its gradient. Each kernel writes the
/// per-row negative log-likelihood (nats, constants included) and, when a gradient buffer is given,
/// dL/doutput scaled by <c>gradientScale</c> (1 / (batch * L) for the mean over the batch).
/// Row r of the decoder output belongs to example r / samples.
/// </summary>
public static unsafe class Likelihoods
{
    /// <summary>0.5 * log(2 pi).</summary>
    public const float HalfLogTwoPi = 0.9189385332046727f;

    private struct Job
    {
        public int Rows, Size, Samples, Tasks, Kind;
        public float* Output, X, RowNll, DOutput;
        public float GradientScale, Sigma;
    }

    /// <summary>
    /// A likelihood to evaluate on an output layer's rows as soon as the GEMM has written them, while they are in
    /// cache: see <see cref="Linear.ForwardToLikelihood"/>.
    /// </summary>
    public readonly struct Target
    {
        internal readonly int Kind, Size, Samples;
        internal readonly float* X, RowNll, DOutput;
        internal readonly float GradientScale, Sigma;

        internal Target(int kind, int size, int samples, float* x, float* rowNll, float* dOutput, float gradientScale, float sigma)
        {
            Kind = kind; Size = size; Samples = samples; X = x; RowNll = rowNll; DOutput = dOutput;
            GradientScale = gradientScale; Sigma = sigma;
        }

        /// <summary>Evaluates rows [r0, r1) of <paramref name="output"/>.</summary>
        internal void Rows(float* output, int r0, int r1) =>
            Likelihoods.Rows(Kind, Size, Samples, output, X, RowNll, DOutput, GradientScale, Sigma, r0, r1);

        /// <summary>Evaluates every row, on the team.</summary>
        internal void AllRows(CpuThreads threads, float* output, int rows) =>
            Run(threads, Kind, rows, Size, Samples, output, X, RowNll, DOutput, GradientScale, Sigma);
    }

    /// <summary>The Bernoulli likelihood as a target for the output layer's fused epilogue.</summary>
    public static Target BernoulliTarget(int size, int samples, Floats x, Floats rowNll, Floats dLogits, float gradientScale) =>
        new(0, size, samples, x, rowNll, dLogits, gradientScale, 0f);

    /// <summary>The fixed-sigma Gaussian likelihood as a target for the output layer's fused epilogue.</summary>
    public static Target GaussianTarget(int size, int samples, Floats x, Floats rowNll, Floats dMean, float gradientScale, float sigma) =>
        new(1, size, samples, x, rowNll, dMean, gradientScale, sigma);

    /// <summary>The learned-variance Gaussian likelihood as a target for the output layer's fused epilogue.</summary>
    public static Target GaussianLearnedVarianceTarget(int size, int samples, Floats x, Floats rowNll, Floats dOutput, float gradientScale) =>
        new(2, size, samples, x, rowNll, dOutput, gradientScale, 0f);

    /// <summary>The mean squared error per value (a VQ-VAE's reconstruction loss) as a target for the output layer's fused epilogue.</summary>
    public static Target MeanSquaredErrorTarget(int size, int samples, Floats x, Floats rowNll, Floats dMean, float gradientScale) =>
        new(3, size, samples, x, rowNll, dMean, gradientScale, 0f);

    /// <summary>Evaluates <paramref name="target"/> on every row of <paramref name="output"/>, on the team (the unfused form of <see cref="Linear.ForwardToLikelihood"/>).</summary>
    public static void Run(CpuThreads threads, int rows, Floats output, Target target) => target.AllRows(threads, output, rows);

    /// <summary>The Bernoulli mean, sigmoid of the logits, from the first <paramref name="size"/> columns of each output row.</summary>
    public static void BernoulliMean(int rows, int size, int stride, Floats output, Floats mean)
    {
        Losses.CopyColumns(rows, size, stride, output, mean);
        Losses.Sigmoid((long)rows * size, mean);
    }

    /// <summary>The Gaussian mean: the first <paramref name="size"/> columns of each output row (the mean head).</summary>
    public static void GaussianMean(int rows, int size, int stride, Floats output, Floats mean) =>
        Losses.CopyColumns(rows, size, stride, output, mean);

    /// <summary>Bernoulli with logits: nll = softplus(l) - x l, dnll/dl = sigmoid(l) - x.</summary>
    public static void Bernoulli(CpuThreads threads, int rows, int size, int samples, Floats logits, Floats x, Floats rowNll, Floats dLogits, float gradientScale)
        => Run(threads, 0, rows, size, samples, logits, x, rowNll, dLogits, gradientScale, 0f);

    /// <summary>Gaussian with fixed sigma: nll = 0.5 ((x - m) / sigma)^2 + log(sigma) + 0.5 log(2 pi).</summary>
    public static void Gaussian(CpuThreads threads, int rows, int size, int samples, Floats mean, Floats x, Floats rowNll, Floats dMean, float gradientScale, float sigma)
        => Run(threads, 1, rows, size, samples, mean, x, rowNll, dMean, gradientScale, sigma);

    /// <summary>
    /// Gaussian with a learned log variance: output rows are [mean (size) | logvar (size)];
    /// nll = 0.5 (log(2 pi) + lv + (x - m)^2 exp(-lv)).
    /// </summary>
    public static void GaussianLearnedVariance(CpuThreads threads, int rows, int size, int samples, Floats output, Floats x, Floats rowNll, Floats dOutput, float gradientScale)
        => Run(threads, 2, rows, size, samples, output, x, rowNll, dOutput, gradientScale, 0f);

    private static void Run(CpuThreads threads, int kind, int rows, int size, int samples, float* output, float* x, float* rowNll, float* dOutput, float scale, float sigma)
    {
        var job = new Job
        {
            Kind = kind, Rows = rows, Size = size, Samples = samples, Tasks = Math.Max(1, Math.Min(threads.Count, rows)),
            Output = output, X = x, RowNll = rowNll, DOutput = dOutput, GradientScale = scale, Sigma = sigma,
        };
        threads.For(job.Tasks, &Task, &job);
    }

    private static void Task(void* state, int task)
    {
        ref var job = ref *(Job*)state;
        int r0 = (int)((long)job.Rows * task / job.Tasks), r1 = (int)((long)job.Rows * (task + 1) / job.Tasks);
        Rows(job.Kind, job.Size, job.Samples, job.Output, job.X, job.RowNll, job.DOutput, job.GradientScale, job.Sigma, r0, r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(int kind, int size, int samples, float* output, float* x, float* rowNll, float* dOutput, float scale, float sigma, int r0, int r1)
    {
        int width = kind == 2 ? 2 * size : size;
        for (int r = r0; r < r1; r++)
        {
            float* xr = x + (long)(r / samples) * size;
            float* o = output + (long)r * width;
            float* d = dOutput == null ? null : dOutput + (long)r * width;
            rowNll[r] = kind switch
            {
                0 => BernoulliRow(size, o, xr, d, scale),
                1 => GaussianRow(size, o, xr, d, scale, sigma),
                3 => SquaredErrorRow(size, o, xr, d, scale),
                _ => LearnedRow(size, o, xr, d, scale),
            };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float BernoulliRow(int n, float* l, float* x, float* d, float scale)
    {
        float sum = 0f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // The same arithmetic sixteen lanes at a time: e = exp(-|l|) serves both the softplus and the sigmoid.
            var total = Vector512<float>.Zero;
            var one = Vector512<float>.One;
            var s = Vector512.Create(scale);
            for (; i + 16 <= n; i += 16)
            {
                var li = Vector512.Load(l + i);
                var xi = Vector512.Load(x + i);
                var e = Vector512.Exp(-Vector512.Abs(li));
                var onePlus = one + e;
                total += Vector512.Max(li, Vector512<float>.Zero) - xi * li + Vector512.Log(onePlus);
                if (d != null)
                {
                    var sigmoid = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(li, Vector512<float>.Zero), one, e) / onePlus;
                    (s * (sigmoid - xi)).Store(d + i);
                }
            }
            sum = Vector512.Sum(total);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(-MathF.Abs(l[i]));
            sum += MathF.Max(l[i], 0f) - x[i] * l[i] + MathF.Log(1f + e);
            if (d != null)
            {
                float sigmoid = l[i] >= 0f ? 1f / (1f + e) : e / (1f + e);
                d[i] = scale * (sigmoid - x[i]);
            }
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float GaussianRow(int n, float* m, float* x, float* d, float scale, float sigma)
    {
        float inverseVariance = 1f / (sigma * sigma);
        float sum = 0f;
        for (int i = 0; i < n; i++)
        {
            float diff = m[i] - x[i];
            sum += diff * diff;
            if (d != null) d[i] = scale * diff * inverseVariance;
        }
        return 0.5f * sum * inverseVariance + n * (MathF.Log(sigma) + HalfLogTwoPi);
    }

    /// <summary>
    /// The row's mean squared error (1/n) sum (m - x)^2, summed in float in index order, and its gradient 2 (m - x) / n
    /// times the batch scale: PyTorch's <c>F.mse_loss</c> of the row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SquaredErrorRow(int n, float* m, float* x, float* d, float scale)
    {
        float twiceOverN = 2f / n;
        float sum = 0f;
        for (int i = 0; i < n; i++)
        {
            float diff = m[i] - x[i];
            sum += diff * diff;
            if (d != null) d[i] = scale * (twiceOverN * diff);
        }
        return sum / n;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float LearnedRow(int n, float* output, float* x, float* d, float scale)
    {
        float* m = output;
        float* lv = output + n;
        float sum = 0f;
        for (int i = 0; i < n; i++)
        {
            float diff = x[i] - m[i];
            float precision = MathF.Exp(-lv[i]);
            sum += lv[i] + diff * diff * precision;
            if (d != null)
            {
                d[i] = -scale * diff * precision;
                d[n + i] = scale * 0.5f * (1f - diff * diff * precision);
            }
        }
        return 0.5f * sum + n * HalfLogTwoPi;
    }
}
