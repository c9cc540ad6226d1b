using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vae.Kernels.Cpu;

/// <summary>Combines per-row reconstruction terms and per-example KL into the loss the trainer minimises.</summary>
public static unsafe class Losses
{
    /// <summary>
    /// loss_b = (1/L) sum_s nll[b L + s] + beta kl[b]; returns the mean over the batch (in double, so large batches
    /// add up exactly enough) and writes each loss_b when <paramref name="exampleLoss"/> is not null.
    /// </summary>
    public static double Combine(int examples, int samples, Floats rowNll, Floats kl, float beta, Floats exampleLoss)
    {
        double total = 0;
        for (int b = 0; b < examples; b++)
        {
            double reconstruction = 0;
            for (int s = 0; s < samples; s++) reconstruction += rowNll[(long)b * samples + s];
            double loss = reconstruction / samples + (double)beta * kl[b];
            if (!exampleLoss.IsNull) exampleLoss[b] = (float)loss;
            total += loss;
        }
        return examples == 0 ? 0 : total / examples;
    }

    /// <summary>Sigmoid in place, the Bernoulli decoder's mean; sixteen lanes at a time where AVX-512 is present.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sigmoid(long n, Floats x)
    {
        float* p = x;
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i + 16 <= n; i += 16)
                (one / (one + Vector512.Exp(-Vector512.Load(p + i)))).Store(p + i);
        }
        for (; i < n; i++) p[i] = 1f / (1f + MathF.Exp(-p[i]));
    }

    /// <summary>Copies the first <paramref name="width"/> columns of each row (the mean head of a two-headed output).</summary>
    public static void CopyColumns(int rows, int width, int stride, Floats source, Floats destination)
    {
        for (int r = 0; r < rows; r++)
            new ReadOnlySpan<float>(source + (long)r * stride, width).CopyTo(new Span<float>(destination + (long)r * width, width));
    }

    /// <summary>Splits [rows, 2J] heads into mu and logvar.</summary>
    public static void SplitHeads(int rows, int latent, Floats heads, Floats mu, Floats logVar)
    {
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(heads + (long)r * 2 * latent, latent).CopyTo(new Span<float>(mu + (long)r * latent, latent));
            new ReadOnlySpan<float>(heads + (long)r * 2 * latent + latent, latent).CopyTo(new Span<float>(logVar + (long)r * latent, latent));
        }
    }
}
