using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A VQ-VAE's objective, as the PyTorch peer's: loss = mean over examples of the reconstruction term (the
    /// likelihood's per-row value; with <c>Likelihood.MeanSquaredError</c>, F.mse_loss) + the commitment times the mean
    /// squared distance of every quantised vector to its code (+ the same mean again, the codebook loss, when the
    /// optimiser trains the codebook), combined on the host in double (<c>VectorQuantizer.QuantizedLoss</c>). Each
    /// reconstruction row's gradient weight is 1 / examples; the quantiser's own terms get theirs in its backward step.
    /// </summary>
    internal static class QuantizedObjective
    {
        private static LossPlan Loss(Arg exampleLoss) => new LossPlan("global::Vae.Kernels.Cpu.VectorQuantizer.QuantizedLoss", new EquatableArray<Arg>(new[]
        {
            Arg.Rows(RowSpace.Examples), Arg.Constant("CodePositions"), Arg.Constant("CodeDimension"), Arg.Buffer(LikelihoodOp.RowNllBuffer),
            Arg.Buffer(VectorQuantizerOp.DistanceBuffer), Arg.Constant("QuantizerLossWeight"), exampleLoss,
        }));

        public static LossPlan TrainLoss() => Loss(Arg.None());

        public static LossPlan EvaluateLoss() => Loss(Arg.Value("exampleLoss"));

        /// <summary>The loss is a mean over the examples (one decoder row each: a VQ-VAE draws no samples).</summary>
        public const string RowGradientScale = "1f / examples";
    }
}
