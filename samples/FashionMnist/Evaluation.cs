using Vae.Evaluation;

namespace Vae.Samples.Fashion;

/// <summary>Figures reported on the test split.</summary>
internal static class Evaluation
{
    /// <summary>
    /// The mean negative ELBO in nats per image with KL weight 1 and one sample (whatever --beta, --free-bits or
    /// --objective trains with), so the figure is always a bound on -log p(x) (-log p(x|y) for the conditional model)
    /// and runs of every kind compare.
    /// </summary>
    public static double TestNegativeElbo(VaeModel model, float[] test, int[] testLabels) =>
        -Metrics.Elbo(model, test, LabelsFor(model, testLabels));

    /// <summary>The labels when the model is conditional, none otherwise (an unconditional model takes none).</summary>
    public static int[] LabelsFor(VaeModel model, int[] labels) => model.Architecture.IsConditional ? labels : [];
}
