namespace Vae;

/// <summary>
/// Replaces the Gaussian latent with a vector quantiser (VQ-VAE, van den Oord et al. 2017): the encoder's output z_e is
/// cut into vectors of <see cref="Dimension"/> values, each replaced by its nearest code of a codebook of
/// <see cref="Codes"/> vectors (squared distance, ties to the lowest index), and the decoder reads the quantised z_q.
/// With convolutional encoder layers only, the last one must write <see cref="Dimension"/> channels and every spatial
/// position of that map is quantised; with dense encoder layers, the last one's width must be a multiple of
/// <see cref="Dimension"/>. The encoder has no heads after it.
/// </summary>
/// <remarks>
/// <para>
/// The training loss is reconstruction + <see cref="Commitment"/> mean ||z_e - sg[e]||^2 (+ the codebook loss
/// mean ||sg[z_e] - e||^2 when <see cref="Decay"/> is 0), the means over every quantised value, as PyTorch's
/// <c>F.mse_loss</c>; the decoder's gradient is copied straight through to z_e. Use <see cref="Likelihood.MeanSquaredError"/>
/// for the VQ-VAE's usual reconstruction term (the mean over values of (x - x_hat)^2). The codebook is
/// <c>quantizer.codebook</c> [Codes, Dimension]; with EMA it is state the optimiser leaves alone, with
/// <c>quantizer.cluster_size</c> [Codes] and <c>quantizer.embed_sum</c> [Codes, Dimension].
/// </para>
/// <para>
/// The first training step sets the codebook to encoder outputs of its batch (codes 0..K-1 take rows of a Philox
/// permutation keyed by the model's seed; with fewer rows than codes the permutation repeats and the duplicates are
/// left to the restarts), as the common recipe and the PyTorch peer do. Beta, LatentSamples, FreeBits and Objective of
/// <see cref="VariationalAutoencoderAttribute"/> do not apply (there is no KL term and no noise), and Latent may be
/// left out: it is the encoder's output size.
/// </para>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class VectorQuantizedAttribute : Attribute
{
    /// <summary>Codes in the codebook (K). Required, 2 to 32768.</summary>
    public int Codes { get; set; }

    /// <summary>Values per code (D): the encoder's output channels, or a divisor of its width. Required, &gt;= 1.</summary>
    public int Dimension { get; set; }

    /// <summary>Weight of the commitment loss (beta of the paper). Default 0.25, a finite number &gt;= 0.</summary>
    public double Commitment { get; set; } = 0.25;

    /// <summary>
    /// The EMA decay (gamma) of the codebook, in [0, 1): with gamma &gt; 0 the codebook follows exponential moving
    /// averages of the encoder outputs assigned to each code (Laplace smoothing eps 1e-5); with 0 it is a parameter the
    /// optimiser trains through the codebook loss. Default 0.99.
    /// </summary>
    public double Decay { get; set; } = 0.99;

    /// <summary>
    /// Dead-code restarts: a code that no encoder output chose for this many consecutive training steps is moved to a
    /// random encoder output of the current batch (with EMA its cluster size becomes 1). 0 turns restarts off (the
    /// PyTorch peer's recipe). Default 100 steps: at batch 128 of 28x28 images quantised 7x7, a code that none of
    /// 627,200 positions chose is not coming back by itself, while a rarely used code is left alone.
    /// </summary>
    public int RestartAfter { get; set; } = 100;
}
