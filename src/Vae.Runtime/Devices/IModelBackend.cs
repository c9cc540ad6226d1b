using Vae.Kernels.Cpu;

namespace Vae.Devices;

/// <summary>
/// A model's parameters, gradients, optimiser state and kernels on one device. The host talks to it in spans;
/// the device keeps whatever layout and memory its kernels like.
/// </summary>
/// <remarks>
/// <c>labels</c> are a conditional model's class indices as floats, one per example (for Decode, one per row); empty
/// for other models.
/// </remarks>
internal interface IModelBackend : IDisposable
{
    void SetParameters(ReadOnlySpan<float> values);
    void GetParameters(Span<float> values);
    void GetGradients(Span<float> values);

    /// <summary>The float state (BatchNorm's running statistics), which follows the parameters in the flat buffer.</summary>
    void GetState(Span<float> values);
    void SetState(ReadOnlySpan<float> values);

    /// <summary>Replaces the gradient (a data-parallel step writes back the sum over ranks).</summary>
    void SetGradients(ReadOnlySpan<float> values);

    /// <summary>Optimiser state buffer <paramref name="slot"/> (e.g. Adam's exp_avg is 0), allocated on first use.</summary>
    void GetOptimizerState(int slot, Span<float> values);
    void SetOptimizerState(int slot, ReadOnlySpan<float> values);
    void ResetOptimizerState();

    /// <summary>
    /// Forward and backward on a batch; gradients stay on the device. Returns the mean loss. <paramref name="seed"/> and
    /// <paramref name="step"/> key a VQ-VAE's codebook initialisation and restarts.
    /// </summary>
    double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, float freeBits, ulong seed, uint step);

    /// <summary>
    /// The same with the noise of (seed, step) drawn by the device itself, Philox keyed by (firstExample + row,
    /// sample, latent index): the global example index, so a batch split across processes draws one batch's noise.
    /// </summary>
    /// <remarks>
    /// <paramref name="progress"/>, when not null, hears how far the gradients are final during the backward pass (the
    /// CPU backend reports layer by layer; an accelerator's gradients stay on the device, so it reports nothing).
    /// </remarks>
    double ForwardBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, float beta, float freeBits, ulong seed, uint step, int firstExample,
        IGradientProgress? progress = null);

    /// <summary>Copies gradients [<paramref name="offset"/>, offset + values.Length) out, from any thread, once they are final.</summary>
    void GetGradients(int offset, Span<float> values);

    double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, ReadOnlySpan<float> eps, int examples, float beta, Span<float> exampleLoss);
    double GradientSumOfSquares();
    void ScaleGradients(float factor);
    void ApplyOptimizer(Optimizer optimizer, long step);

    void Encode(ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, Span<float> mu, Span<float> logVar);
    void Decode(ReadOnlySpan<float> z, ReadOnlySpan<float> labels, int rows, Span<float> mean);

    /// <summary>A VQ-VAE's code indices, [examples, positions].</summary>
    void EncodeCodes(ReadOnlySpan<float> x, int examples, Span<int> codes);

    /// <summary>A VQ-VAE's decoder mean from code indices.</summary>
    void DecodeCodes(ReadOnlySpan<int> codes, int examples, Span<float> mean);
    void DecoderNegativeLogLikelihood(ReadOnlySpan<float> z, ReadOnlySpan<float> x, ReadOnlySpan<float> labels, int examples, int samples, Span<float> rowNll);

    /// <summary>Largest number of examples one call may take.</summary>
    int MaxExamples { get; }
}
