namespace Vae;

/// <summary>The decoder's observation model p(x|z).</summary>
public enum Likelihood
{
    /// <summary>Independent Bernoulli pixels; the decoder outputs logits. Data should lie in [0, 1].</summary>
    Bernoulli = 0,
    /// <summary>Independent Gaussians with a fixed standard deviation <see cref="VariationalAutoencoderAttribute.Sigma"/>.</summary>
    Gaussian = 1,
    /// <summary>Independent Gaussians whose log variance is a second decoder head (Kingma and Welling's MLP).</summary>
    GaussianLearnedVariance = 2,
    /// <summary>
    /// The mean squared error per value, (1/Input) sum_i (x_i - x_hat_i)^2, as PyTorch's <c>F.mse_loss</c>: not a
    /// log-likelihood, so only with a <see cref="VectorQuantizedAttribute"/> latent (the VQ-VAE's reconstruction loss),
    /// whose loss is not a bound in nats either.
    /// </summary>
    MeanSquaredError = 3,
}
