using System.Runtime.CompilerServices;

namespace Vae.Kernels.Cpu;

/// <summary>
/// PyTorch's BatchNorm2d fused with the activation that follows it, over rows of images [channels, area] (area =
/// height * width). Per-channel sums run on one thread each, over rows then positions in order and in double, so the
/// results do not depend on the thread count; per-value work is split by rows. The counterpart of
/// <c>Reference/ReferenceBatchNorm.cs</c>.
/// </summary>
public static unsafe class BatchNorm
{
    private struct Job
    {
        public int Rows, Channels, Area, Tasks;
        public float Epsilon, Momentum;
        public float* X, Weight, Bias, RunningMean, RunningVar, Mean, InvStd, Pre, Out, D, DWeight, DBias;
    }

    /// <summary>
    /// Training mode: normalises <paramref name="x"/> by its batch statistics over rows and positions (biased variance),
    /// writes each channel's mean and 1 / sqrt(variance + eps) to <paramref name="mean"/> and <paramref name="invStd"/> for
    /// the backward pass, moves the running statistics by <paramref name="momentum"/> (the variance's unbiased, n / (n - 1)),
    /// and writes pre = weight x_hat + bias, out = TAct(pre). pre and out may be one buffer for the identity.
    /// </summary>
    public static void TrainingForward<TAct>(CpuThreads threads, int rows, int channels, int area, float epsilon, float momentum,
        Floats x, Floats weight, Floats bias, Floats runningMean, Floats runningVar, Floats mean, Floats invStd, Floats pre, Floats output)
        where TAct : struct, IActivation
    {
        var job = new Job
        {
            Rows = rows, Channels = channels, Area = area, Epsilon = epsilon, Momentum = momentum, X = x, Weight = weight, Bias = bias,
            RunningMean = runningMean, RunningVar = runningVar, Mean = mean, InvStd = invStd, Pre = pre, Out = output,
            Tasks = Math.Max(1, Math.Min(threads.Count, channels)),
        };
        threads.For(job.Tasks, &StatisticsTask, &job);
        job.Tasks = Math.Max(1, Math.Min(threads.Count, rows));
        threads.For(job.Tasks, &NormalizeTask<TAct>, &job);
    }

    /// <summary>Evaluation mode: pre = weight (x - running_mean) / sqrt(running_var + eps) + bias, out = TAct(pre).</summary>
    public static void EvaluationForward<TAct>(CpuThreads threads, int rows, int channels, int area, float epsilon,
        Floats x, Floats weight, Floats bias, Floats runningMean, Floats runningVar, Floats pre, Floats output)
        where TAct : struct, IActivation
    {
        // The running statistics as a scale and a shift per channel, in scratch the size of the channel count.
        var mean = new float[channels];
        var invStd = new float[channels];
        fixed (float* m = mean, s = invStd)
        {
            RunningStatistics(channels, epsilon, runningMean, runningVar, m, s);
            var job = new Job
            {
                Rows = rows, Channels = channels, Area = area, X = x, Weight = weight, Bias = bias, Mean = m, InvStd = s, Pre = pre, Out = output,
                Tasks = Math.Max(1, Math.Min(threads.Count, rows)),
            };
            threads.For(job.Tasks, &NormalizeTask<TAct>, &job);
        }
    }

    /// <summary>
    /// Evaluation mode's per-channel statistics: mean[c] = running_mean[c] and invStd[c] = 1 / sqrt(running_var[c] + eps),
    /// as every evaluation-mode normalisation (here and fused into a convolution) computes them.
    /// </summary>
    internal static void RunningStatistics(int channels, float epsilon, Floats runningMean, Floats runningVar, float* mean, float* invStd)
    {
        for (int c = 0; c < channels; c++)
        {
            mean[c] = runningMean[c];
            invStd[c] = 1f / MathF.Sqrt(runningVar[c] + epsilon);
        }
    }

    /// <summary>
    /// Training-mode backward through the batch statistics, given dL/dout in <paramref name="d"/>: writes dL/dweight and
    /// dL/dbias (overwriting them) and replaces <paramref name="d"/> by dL/dx,
    /// weight inv_std / M (M dy - sum dy - x_hat sum dy x_hat) with M = rows * area and dy = d TAct'(pre).
    /// </summary>
    public static void Backward<TAct>(CpuThreads threads, int rows, int channels, int area, Floats d, Floats pre, Floats output, Floats x,
        Floats weight, Floats mean, Floats invStd, Floats dWeight, Floats dBias)
        where TAct : struct, IActivation
    {
        long n = (long)rows * channels * area;
        for (long i = 0; i < n; i++) d[i] *= TAct.Derivative(pre[i], output[i]);
        var job = new Job
        {
            Rows = rows, Channels = channels, Area = area, X = x, Weight = weight, Mean = mean, InvStd = invStd, D = d, DWeight = dWeight, DBias = dBias,
            Tasks = Math.Max(1, Math.Min(threads.Count, channels)),
        };
        threads.For(job.Tasks, &ParameterGradientTask, &job);
        job.Tasks = Math.Max(1, Math.Min(threads.Count, rows));
        threads.For(job.Tasks, &InputGradientTask, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StatisticsTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        int c0 = (int)((long)j.Channels * task / j.Tasks), c1 = (int)((long)j.Channels * (task + 1) / j.Tasks);
        long features = (long)j.Channels * j.Area;
        long count = (long)j.Rows * j.Area;
        for (int c = c0; c < c1; c++)
        {
            double sum = 0;
            for (int r = 0; r < j.Rows; r++)
            {
                float* v = j.X + r * features + (long)c * j.Area;
                for (int i = 0; i < j.Area; i++) sum += v[i];
            }
            double m = sum / count;
            // Two passes: the squares of the deviations, not E[x^2] - m^2, which cancels for large means.
            double squares = 0;
            for (int r = 0; r < j.Rows; r++)
            {
                float* v = j.X + r * features + (long)c * j.Area;
                for (int i = 0; i < j.Area; i++)
                {
                    double e = v[i] - m;
                    squares += e * e;
                }
            }
            j.Mean[c] = (float)m;
            j.InvStd[c] = (float)(1 / Math.Sqrt(squares / count + j.Epsilon));
            // The host refuses a training batch with one value per channel, where the unbiased variance is undefined.
            float unbiased = count > 1 ? (float)(squares / (count - 1)) : 0f;
            j.RunningMean[c] = (1f - j.Momentum) * j.RunningMean[c] + j.Momentum * (float)m;
            j.RunningVar[c] = (1f - j.Momentum) * j.RunningVar[c] + j.Momentum * unbiased;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizeTask<TAct>(void* state, int task) where TAct : struct, IActivation
    {
        ref var j = ref *(Job*)state;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        long features = (long)j.Channels * j.Area;
        for (int r = r0; r < r1; r++)
        for (int c = 0; c < j.Channels; c++)
        {
            long at = r * features + (long)c * j.Area;
            float m = j.Mean[c], s = j.InvStd[c], w = j.Weight[c], b = j.Bias[c];
            for (int i = 0; i < j.Area; i++)
            {
                float y = w * ((j.X[at + i] - m) * s) + b;
                j.Pre[at + i] = y;
                j.Out[at + i] = TAct.Forward(y);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ParameterGradientTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        int c0 = (int)((long)j.Channels * task / j.Tasks), c1 = (int)((long)j.Channels * (task + 1) / j.Tasks);
        long features = (long)j.Channels * j.Area;
        for (int c = c0; c < c1; c++)
        {
            double sum = 0, weighted = 0;
            float m = j.Mean[c], s = j.InvStd[c];
            for (int r = 0; r < j.Rows; r++)
            {
                long at = r * features + (long)c * j.Area;
                for (int i = 0; i < j.Area; i++)
                {
                    float g = j.D[at + i];
                    sum += g;
                    weighted += g * (double)((j.X[at + i] - m) * s);
                }
            }
            j.DWeight[c] = (float)weighted;
            j.DBias[c] = (float)sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientTask(void* state, int task)
    {
        ref var j = ref *(Job*)state;
        int r0 = (int)((long)j.Rows * task / j.Tasks), r1 = (int)((long)j.Rows * (task + 1) / j.Tasks);
        long features = (long)j.Channels * j.Area;
        float count = (float)((long)j.Rows * j.Area);
        for (int r = r0; r < r1; r++)
        for (int c = 0; c < j.Channels; c++)
        {
            long at = r * features + (long)c * j.Area;
            float m = j.Mean[c], s = j.InvStd[c], scale = j.Weight[c] * s / count, db = j.DBias[c], dw = j.DWeight[c];
            for (int i = 0; i < j.Area; i++)
            {
                float xHat = (j.X[at + i] - m) * s;
                j.D[at + i] = scale * (count * j.D[at + i] - db - xHat * dw);
            }
        }
    }
}
