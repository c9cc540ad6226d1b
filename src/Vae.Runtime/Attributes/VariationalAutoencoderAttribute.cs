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

    /// <summary>Number of noise draws per example in the reconstruction term (L in the SGVB estimator). Default 1.</summary>
    public int LatentSamples { get; set; } = 1;

    /// <summary>Fixed decoder standard deviation; only with <see cref="Likelihood.Gaussian"/>. Default 1.</summary>
    public double Sigma { get; set; } = 1.0;
}
