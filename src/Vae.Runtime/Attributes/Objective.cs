namespace Vae;

/// <summary>The bound that training maximises; the loss is its negative, mean over the batch, in nats per example.</summary>
public enum Objective
{
    /// <summary>
    /// The evidence lower bound: -log p(x|z) averaged over LatentSamples draws plus Beta times the closed-form KL,
    /// with an optional per-dimension KL floor (free bits).
    /// </summary>
    Elbo = 0,

    /// <summary>
    /// The importance-weighted bound of Burda et al. (2016) over K = LatentSamples draws:
    /// -log (1/K) sum_k w_k with log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x); gradients weighted by the
    /// normalised importance weights. K = 1 is the ELBO with a one-sample KL estimate.
    /// </summary>
    ImportanceWeighted = 1,

    /// <summary>
    /// The same bound, with the doubly reparameterised gradient estimator (DReG, Tucker et al. 2019) for the encoder:
    /// squared normalised weights and no score-function term, whose signal-to-noise ratio does not fall as K grows.
    /// The decoder's gradient is the plain importance-weighted one.
    /// </summary>
    ImportanceWeightedDReG = 2,
}
