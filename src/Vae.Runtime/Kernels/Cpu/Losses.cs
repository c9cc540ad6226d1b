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

    /// <summary>
    /// The ELBO with free bits, as training minimises it: the mean over the batch of (1/L) sum_s nll, plus beta times
    /// the sum over latent dimensions of the floored batch-mean KL <paramref name="klFloor"/> [J].
    /// </summary>
    public static double CombineFloored(int examples, int samples, Floats rowNll, Floats klFloor, int latent, float beta)
    {
        double reconstruction = 0;
        for (long r = 0; r < (long)examples * samples; r++) reconstruction += rowNll[r];
        double kl = 0;
        for (int j = 0; j < latent; j++) kl += klFloor[j];
        return examples == 0 ? 0 : reconstruction / ((double)examples * samples) + (double)beta * kl;
    }

    /// <summary>
    /// The importance-weighted bound per example from its K = <paramref name="samples"/> rows:
    /// log w_k = -nll_k + (log p(z_k) - log q(z_k|x)); loss_b = -(logsumexp_k log w_k - log K), written to
    /// <paramref name="exampleLoss"/>; and each row's gradient weight w~_k / B (the normalised weight over the batch
    /// size) to <paramref name="rowWeight"/>. In double, with the maximum taken out, so no weight overflows.
    /// </summary>
    public static void ImportanceWeights(int examples, int samples, Floats rowNll, Floats logRatio, Floats rowWeight, Floats exampleLoss)
    {
        double logK = Math.Log(samples);
        for (int b = 0; b < examples; b++)
        {
            long first = (long)b * samples;
            double max = double.NegativeInfinity;
            for (int k = 0; k < samples; k++) max = Math.Max(max, (double)logRatio[first + k] - rowNll[first + k]);
            double sum = 0;
            for (int k = 0; k < samples; k++) sum += Math.Exp((double)logRatio[first + k] - rowNll[first + k] - max);
            double logSum = max + Math.Log(sum);
            exampleLoss[b] = (float)(logK - logSum);
            for (int k = 0; k < samples; k++)
                rowWeight[first + k] = (float)(Math.Exp((double)logRatio[first + k] - rowNll[first + k] - logSum) / examples);
        }
    }

    /// <summary>Multiplies each of <paramref name="rows"/> rows of <paramref name="width"/> values by its weight.</summary>
    public static void ScaleRows(int rows, int width, Floats data, Floats rowWeight)
    {
        for (long r = 0; r < rows; r++)
        {
            float* row = data + r * width;
            var weight = Vector256.Create(rowWeight[r]);
            int i = 0;
            for (; i + 8 <= width; i += 8) (Vector256.Load(row + i) * weight).Store(row + i);
            for (; i < width; i++) row[i] *= rowWeight[r];
        }
    }

    /// <summary>The mean of <paramref name="examples"/> per-example losses (in double), copied to <paramref name="copy"/> unless it is null.</summary>
    public static double Mean(int examples, Floats values, Floats copy)
    {
        double total = 0;
        for (int b = 0; b < examples; b++)
        {
            total += values[b];
            if (!copy.IsNull) copy[b] = values[b];
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
