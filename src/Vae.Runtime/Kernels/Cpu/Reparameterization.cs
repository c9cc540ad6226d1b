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
    /// weighted by <paramref name="klWeight"/> (Beta divided by the batch size) and, per dimension, by
    /// <paramref name="klMask"/> (0 where free bits hold the dimension at its floor; null for no mask).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(int rows, int latent, int samples, Floats heads, Floats eps, Floats dz, float klWeight, Floats klMask, Floats dHeads)
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
                float weight = klMask.IsNull ? klWeight : klWeight * klMask[j];
                dMu[j] = gMu + weight * mu[j];
                dLogVar[j] = 0.5f * std * gLogVar + weight * 0.5f * (std * std - 1f);
            }
        }
    }

    /// <summary>
    /// Free bits: for each latent dimension j, the KL averaged over the batch, floored at <paramref name="floor"/>
    /// into <paramref name="klFloor"/> [J], and <paramref name="klMask"/> [J] = 1 where the mean is above the floor
    /// (the dimension gets its KL gradient) and 0 where the floor holds it. A floor of 0 is no floor: every mask is 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FreeBits(int rows, int latent, Floats heads, float floor, Floats klFloor, Floats klMask)
    {
        for (int j = 0; j < latent; j++)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
            {
                float mu = heads[(long)r * 2 * latent + j], logVar = heads[(long)r * 2 * latent + latent + j];
                sum += 0.5f * (mu * mu + MathF.Exp(logVar) - 1f - logVar);
            }
            float mean = rows == 0 ? 0f : (float)(sum / rows);
            bool floored = floor > 0f && !(mean > floor);
            klFloor[j] = floored ? floor : mean;
            klMask[j] = floored ? 0f : 1f;
        }
    }

    /// <summary>
    /// The importance-weighted bound's latent step: z for every sample as in <see cref="Forward"/>, and per row the
    /// log ratio log p(z) - log q(z|x) = sum_j (eps^2 - z^2 + logvar) / 2 (the 2 pi constants cancel).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ForwardImportance(int rows, int latent, int samples, Floats heads, Floats eps, Floats z, Floats logRatio)
    {
        for (int r = 0; r < rows; r++)
        {
            float* mu = heads + (long)r * 2 * latent;
            float* logVar = mu + latent;
            for (int s = 0; s < samples; s++)
            {
                long row = (long)r * samples + s;
                float* e = eps + row * latent;
                float* zr = z + row * latent;
                float ratio = 0f;
                for (int j = 0; j < latent; j++)
                {
                    float zj = mu[j] + MathF.Exp(0.5f * logVar[j]) * e[j];
                    zr[j] = zj;
                    ratio += 0.5f * (e[j] * e[j] - zj * zj + logVar[j]);
                }
                logRatio[row] = ratio;
            }
        }
    }

    /// <summary>
    /// dHeads of the importance-weighted bound. <paramref name="dz"/> holds the decoder's gradient with each row
    /// already weighted by <paramref name="rowWeight"/> (the normalised importance weight over the batch size, w~_k / B);
    /// the prior adds w~_k z_k / B, and log q, whose reparameterised derivative is zero in mu, adds -1/2 per example in
    /// logvar (the weights of an example sum to one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardImportance(int rows, int latent, int samples, Floats heads, Floats eps, Floats z, Floats dz, Floats rowWeight, Floats dHeads)
    {
        for (int r = 0; r < rows; r++)
        {
            float* logVar = heads + (long)r * 2 * latent + latent;
            float* dMu = dHeads + (long)r * 2 * latent;
            float* dLogVar = dMu + latent;
            float weights = 0f;
            for (int s = 0; s < samples; s++) weights += rowWeight[(long)r * samples + s];
            for (int j = 0; j < latent; j++)
            {
                float std = MathF.Exp(0.5f * logVar[j]);
                float gMu = 0f, gLogVar = 0f;
                for (int s = 0; s < samples; s++)
                {
                    long row = (long)r * samples + s, at = row * latent + j;
                    float g = dz[at] + rowWeight[row] * z[at];
                    gMu += g;
                    gLogVar += g * eps[at];
                }
                dMu[j] = gMu;
                dLogVar[j] = 0.5f * std * gLogVar - 0.5f * weights;
            }
        }
    }

    /// <summary>
    /// dHeads of the importance-weighted bound under the doubly reparameterised estimator (DReG): each sample's
    /// pathwise gradient of log w_k, weighted by w~_k^2 / B, and no direct (score-function) term. With
    /// <paramref name="rowWeight"/> = w~_k / B and dz = (w~_k / B) dnll/dz from the decoder:
    /// g_k = w~_k dz_k + w~_k (w~_k / B) (z_k - eps_k / std).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardDReG(int rows, int latent, int samples, Floats heads, Floats eps, Floats z, Floats dz, Floats rowWeight, int batch, Floats dHeads)
    {
        for (int r = 0; r < rows; r++)
        {
            float* logVar = heads + (long)r * 2 * latent + latent;
            float* dMu = dHeads + (long)r * 2 * latent;
            float* dLogVar = dMu + latent;
            for (int j = 0; j < latent; j++)
            {
                float std = MathF.Exp(0.5f * logVar[j]);
                float gMu = 0f, gLogVar = 0f;
                for (int s = 0; s < samples; s++)
                {
                    long row = (long)r * samples + s, at = row * latent + j;
                    float normalised = rowWeight[row] * batch;
                    float g = normalised * (dz[at] + rowWeight[row] * (z[at] - eps[at] / std));
                    gMu += g;
                    gLogVar += g * eps[at];
                }
                dMu[j] = gMu;
                dLogVar[j] = 0.5f * std * gLogVar;
            }
        }
    }
}
