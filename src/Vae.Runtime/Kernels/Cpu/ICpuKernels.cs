namespace Vae.Kernels.Cpu;

/// <summary>
/// The CPU kernels the generator emits for one architecture. All pointers are to float buffers laid out as the
/// descriptor says (parameters, gradients) or row-major by example (data, noise, outputs).
/// <c>labels</c> holds each example's class index as a float for a conditional model and is ignored otherwise.
/// <c>workspace</c> holds at least <see cref="WorkspaceFloats"/> floats for the batch size used, and
/// <c>packed</c> at least <see cref="PackedFloats"/>.
/// </summary>
public unsafe interface ICpuKernels
{
    /// <summary>Workspace floats for a batch of <paramref name="examples"/> (activations of every layer and gradient scratch).</summary>
    long WorkspaceFloats(int examples);

    /// <summary>Scratch floats for the largest transposed weight matrix.</summary>
    long PackedFloats { get; }

    /// <summary>Floats of the latent's noise for a batch of <paramref name="examples"/>.</summary>
    long NoiseFloats(int examples);

    /// <summary>The latent's noise for a batch whose first example has index <paramref name="firstExample"/> in the global batch.</summary>
    /// <remarks>A model without noise (a VQ-VAE, whose <see cref="NoiseFloats"/> is 0) does not implement it.</remarks>
    void DrawNoise(ulong seed, uint step, int firstExample, int examples, Floats eps) =>
        throw new NotSupportedException("This model draws no noise.");

    /// <summary>
    /// Forward and backward pass: writes dLoss/dParameters into <paramref name="gradients"/> and returns the loss,
    /// the negative ELBO averaged over the batch. <paramref name="eps"/> is [examples, L, Latent].
    /// </summary>
    /// <remarks>
    /// <paramref name="freeBits"/> floors each latent dimension's batch-mean KL (ELBO models; 0 is none).
    /// <paramref name="seed"/> and <paramref name="step"/> key what a training step draws besides the noise (a VQ-VAE's
    /// codebook initialisation and dead-code restarts, which this call also performs). <paramref name="progress"/>, when
    /// not null, hears after each layer of the backward pass from which offset the gradients are final.
    /// </remarks>
    double ForwardBackward(CpuThreads threads, Floats parameters, Floats gradients, Floats x, Floats labels, Floats eps, int examples, float beta, float freeBits, Floats workspace, Floats packed, ulong seed, uint step, IGradientProgress? progress);

    /// <summary>Forward pass only: the mean loss, and each example's negative ELBO in <paramref name="exampleLoss"/> (may be null).</summary>
    double Loss(CpuThreads threads, Floats parameters, Floats x, Floats labels, Floats eps, int examples, float beta, Floats workspace, Floats packed, Floats exampleLoss);

    /// <summary>q(z|x): mu and logvar, each [examples, Latent]. Not implemented by a VQ-VAE (see <see cref="EncodeCodes"/>).</summary>
    void Encode(CpuThreads threads, Floats parameters, Floats x, Floats labels, int examples, Floats workspace, Floats packed, Floats mu, Floats logVar) =>
        throw new NotSupportedException("This model has no Gaussian latent.");

    /// <summary>A VQ-VAE's code indices, [examples, positions]; other models do not implement it.</summary>
    void EncodeCodes(CpuThreads threads, Floats parameters, Floats x, int examples, Floats workspace, Floats packed, Ints codes) =>
        throw new NotSupportedException("This model has no vector-quantised latent.");

    /// <summary>A VQ-VAE's decoder mean [examples, Input] from code indices [examples, positions]; other models do not implement it.</summary>
    void DecodeCodes(CpuThreads threads, Floats parameters, Ints codes, int examples, Floats workspace, Floats packed, Floats mean) =>
        throw new NotSupportedException("This model has no vector-quantised latent.");

    /// <summary>The decoder's mean for each latent row: sigmoid of the logits for Bernoulli, the mean head for Gaussians. [rows, Input].</summary>
    void Decode(CpuThreads threads, Floats parameters, Floats z, Floats labels, int rows, Floats workspace, Floats packed, Floats mean);

    /// <summary>
    /// -log p(x|z) for every latent row (rows = examples * samples, the rows of one example adjacent), [rows].
    /// </summary>
    /// <remarks>Not implemented by a VQ-VAE, whose decoder is not a likelihood of a continuous z.</remarks>
    void DecoderNegativeLogLikelihood(CpuThreads threads, Floats parameters, Floats z, Floats x, Floats labels, int examples, int samples, Floats workspace, Floats packed, Floats rowNll) =>
        throw new NotSupportedException("This model has no Gaussian latent.");
}
