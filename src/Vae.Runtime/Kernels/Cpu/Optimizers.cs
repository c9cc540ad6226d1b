using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vae.Kernels.Cpu;

/// <summary>One vectorised pass over the flat parameter buffer per optimiser step.</summary>
public static unsafe class Optimizers
{
    /// <summary>
    /// Adam as PyTorch computes it: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    /// p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps). Weight decay is added to g (L2, as torch.optim.Adam).
    /// </summary>
    public static void Adam(CpuThreads threads, int n, float* p, float* g, float* m, float* v, float lr, float beta1, float beta2, float epsilon, float weightDecay, long step)
    {
        var job = new AdamJob
        {
            N = n, P = p, G = g, M = m, V = v, Beta1 = beta1, Beta2 = beta2, Epsilon = epsilon, WeightDecay = weightDecay,
            StepSize = (float)(lr / (1 - Math.Pow(beta1, step))),
            InverseRoot2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step))),
            // Chunks of a few hundred kilobytes: enough to share, few enough that scheduling costs nothing.
            Tasks = Math.Max(1, Math.Min(threads.Count * 2, n / 65536)),
        };
        threads.For(job.Tasks, &AdamTask, &job);
    }

    private struct AdamJob
    {
        public int N, Tasks;
        public float* P, G, M, V;
        public float Beta1, Beta2, Epsilon, WeightDecay, StepSize, InverseRoot2;
    }

    private static void AdamTask(void* state, int task)
    {
        ref var j = ref *(AdamJob*)state;
        // Chunk boundaries on multiples of 16 keep every chunk but the last on whole vectors.
        int begin = (int)((long)j.N * task / j.Tasks) & ~15, end = task == j.Tasks - 1 ? j.N : (int)((long)j.N * (task + 1) / j.Tasks) & ~15;
        AdamRange(end - begin, j.P + begin, j.G + begin, j.M + begin, j.V + begin, j.StepSize, j.InverseRoot2, j.Beta1, j.Beta2, j.Epsilon, j.WeightDecay);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdamRange(int n, float* p, float* g, float* m, float* v, float stepSize, float inverseRoot2, float beta1, float beta2, float epsilon, float weightDecay)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var b1 = Vector256.Create(beta1); var c1 = Vector256.Create(1f - beta1);
            var b2 = Vector256.Create(beta2); var c2 = Vector256.Create(1f - beta2);
            var wd = Vector256.Create(weightDecay); var size = Vector256.Create(stepSize);
            var root = Vector256.Create(inverseRoot2); var e = Vector256.Create(epsilon);
            for (; i + 8 <= n; i += 8)
            {
                var pi = Vector256.Load(p + i);
                var gi = Vector256.Load(g + i) + wd * pi;
                var mi = b1 * Vector256.Load(m + i) + c1 * gi;
                var vi = b2 * Vector256.Load(v + i) + c2 * gi * gi;
                mi.Store(m + i);
                vi.Store(v + i);
                (pi - size * mi / (Vector256.Sqrt(vi) * root + e)).Store(p + i);
            }
        }
        for (; i < n; i++)
        {
            float gi = g[i] + weightDecay * p[i];
            m[i] = beta1 * m[i] + (1f - beta1) * gi;
            v[i] = beta2 * v[i] + (1f - beta2) * gi * gi;
            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) * inverseRoot2 + epsilon);
        }
    }

    /// <summary>SGD as PyTorch computes it: g += wd p; with momentum, b = mu b + g (b = g on the first step); p -= lr b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sgd(int n, float* p, float* g, float* momentumBuffer, float lr, float momentum, float weightDecay, long step)
    {
        for (int i = 0; i < n; i++)
        {
            float gi = g[i] + weightDecay * p[i];
            if (momentumBuffer != null)
            {
                gi = step == 1 ? gi : momentum * momentumBuffer[i] + gi;
                momentumBuffer[i] = gi;
            }
            p[i] -= lr * gi;
        }
    }

    /// <summary>Sum of squares of a buffer, in double so the norm of a million gradients is exact enough to clip by.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double SumOfSquares(int n, float* g)
    {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double)g[i] * g[i];
        return sum;
    }

    /// <summary>x *= factor.</summary>
    public static void Scale(int n, float* x, float factor)
    {
        for (int i = 0; i < n; i++) x[i] *= factor;
    }
}
