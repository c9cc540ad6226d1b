using System.Runtime.CompilerServices;
namespace Vae.Kernels.Cpu;

/// <summary>
/// The fused step between the encoder heads and the decoder: z = mu + exp(logvar / 2) * eps for every noise sample,
/// the closed-form KL(q(z|x) || N(0, I)) per example, and the gradients of both.
/// </summary>
public static unsafe class Reparameterization
{
    /// <param name="rows">Examples in the batch.</param>
    /// <param name="latent">Latent size J.</param>
    /// <param name="samples">Noise samples L per example.</param>
    /// <param name="heads">[rows, 2J]: mu in the first J columns of a row, logvar in the next J.</param>
    /// <param name="eps">[rows, L, J] standard-normal noise.</param>
    /// <param name="z">[rows * L, J] output.</param>
    /// <param name="kl">[rows] output: KL of each example, in nats.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(int rows, int latent, int samples, Floats heads, Floats eps, Floats z, Floats kl)
    {
        for (int r = 0; r < rows; r++)
        {
            float* mu = heads + (long)r * 2 * latent;
            float* logVar = mu + latent;
            float sum = 0f;
            for (int j = 0; j < latent; j++)
            {
                float variance = MathF.Exp(logVar[j]);
                sum += mu[j] * mu[j] + variance - 1f - logVar[j];
            }
            kl[r] = 0.5f * sum;
            for (int s = 0; s < samples; s++)
            {
                long row = (long)r * samples + s;
                float* e = eps + row * latent;
                float* zr = z + row * latent;
                for (int j = 0; j < latent; j++) zr[j] = mu[j] + MathF.Exp(0.5f * logVar[j]) * e[j];
            }
        }
    }

    /// <summary>
    /// dHeads [rows, 2J] from dz [rows * L, J] (already scaled for the mean over the batch) and the KL term
    /// weighted by <paramref name="klWeight"/> (Beta divided by the batch size).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(int rows, int latent, int samples, Floats heads, Floats eps, Floats dz, float klWeight, Floats dHeads)
    {
        for (int r = 0; r < rows; r++)
        {
            float* mu = heads + (long)r * 2 * latent;
            float* logVar = mu + latent;
            float* dMu = dHeads + (long)r * 2 * latent;
            float* dLogVar = dMu + latent;
            for (int j = 0; j < latent; j++)
            {
                float std = MathF.Exp(0.5f * logVar[j]);
                float gMu = 0f, gLogVar = 0f;
                for (int s = 0; s < samples; s++)
                {
                    long at = ((long)r * samples + s) * latent + j;
                    gMu += dz[at];
                    gLogVar += dz[at] * eps[at];
                }
                dMu[j] = gMu + klWeight * mu[j];
                dLogVar[j] = 0.5f * std * gLogVar + klWeight * 0.5f * (std * std - 1f);
            }
        }
    }
}
