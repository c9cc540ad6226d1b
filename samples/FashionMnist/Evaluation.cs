namespace Vae.Samples.Fashion;

/// <summary>Figures reported on the test split.</summary>
internal static class Evaluation
{
    /// <summary>
    /// The mean negative ELBO in nats per image with KL weight 1, whatever --beta trains with, so the figure is
    /// always a bound on -log p(x) and runs with different betas compare.
    /// </summary>
    public static double TestNegativeElbo(VaeModel model, float[] test)
    {
        float trainingWeight = model.KlWeight;
        model.KlWeight = 1f;
        try { return -model.Elbo(test); }
        finally { model.KlWeight = trainingWeight; }
    }
}
