namespace Vae;

/// <summary>
/// Marks a <c>partial class</c> as a variational autoencoder. The source generator reads this attribute and the
/// <see cref="EncoderAttribute"/>/<see cref="DecoderAttribute"/> layers beside it and emits the model and its kernels.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class VariationalAutoencoderAttribute : Attribute
{
    /// <summary>Number of input features (784 for 28x28 images). Required, &gt; 0.</summary>
    public int Input { get; set; }

    /// <summary>Number of latent dimensions. Required, &gt; 0.</summary>
    public int Latent { get; set; }

    /// <summary>The decoder's observation model. Default: Bernoulli.</summary>
    public Likelihood Likelihood { get; set; } = Likelihood.Bernoulli;

    /// <summary>Weight of the KL term in the loss (beta-VAE). Default 1, must be &gt;= 0.</summary>
    public double Beta { get; set; } = 1.0;

    /// <summary>
    /// Number of noise draws per example: L in the ELBO's reconstruction term, K of the importance-weighted bound.
    /// Default 1.
    /// </summary>
    public int LatentSamples { get; set; } = 1;

    /// <summary>The bound training maximises. Default: the ELBO.</summary>
    public Objective Objective { get; set; } = Objective.Elbo;

    /// <summary>
    /// Free bits (Kingma et al. 2016): a floor, in nats, under each latent dimension's KL averaged over the batch; a
    /// dimension below it gets no KL gradient. Only with <see cref="Objective.Elbo"/>. Default 0 (no floor); the model's
    /// <c>FreeBits</c> property changes it at run time.
    /// </summary>
    public double FreeBits { get; set; }

    /// <summary>Fixed decoder standard deviation; only with <see cref="Likelihood.Gaussian"/>. Default 1.</summary>
    public double Sigma { get; set; } = 1.0;
}
