using Vae.Evaluation;

namespace Vae.Samples.Fashion;

/// <summary>Figures reported on the test split.</summary>
internal static class Evaluation
{
    /// <summary>
    /// The mean negative ELBO in nats per image with KL weight 1 and one sample (whatever --beta, --free-bits or
    /// --objective trains with), so the figure is always a bound on -log p(x) and runs of every kind compare.
    /// </summary>
    public static double TestNegativeElbo(VaeModel model, float[] test) => -Metrics.Elbo(model, test);
}
