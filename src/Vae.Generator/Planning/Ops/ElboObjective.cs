using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The ELBO: loss_b = (1/L) sum_s -log p(x_b|z_bs) + beta KL_b, mean over the batch. It owns how the per-row terms
    /// combine (on the host, in double) and the gradient weight of each row, 1 / (examples * L), which the likelihood
    /// applies. In training the KL is the sum over dimensions of the batch-mean KL floored at the free-bits value
    /// (the latent op computes it); evaluation reports the unfloored ELBO.
    /// </summary>
    internal static class ElboObjective
    {
        public static LossPlan TrainLoss() => new LossPlan("global::Vae.Kernels.Cpu.Losses.CombineFloored", new EquatableArray<Arg>(new[]
        {
            Arg.Rows(RowSpace.Examples), Arg.Samples(), Arg.Buffer(LikelihoodOp.RowNllBuffer), Arg.Buffer(GaussianLatentOp.KlFloorBuffer),
            Arg.Constant("Latent"), Arg.Value("beta"),
        }));

        public static LossPlan EvaluateLoss() => new LossPlan("global::Vae.Kernels.Cpu.Losses.Combine", new EquatableArray<Arg>(new[]
        {
            Arg.Rows(RowSpace.Examples), Arg.Samples(), Arg.Buffer(LikelihoodOp.RowNllBuffer), Arg.Buffer(GaussianLatentOp.KlBuffer),
            Arg.Value("beta"), Arg.Value("exampleLoss"),
        }));

        /// <summary>The scale of each row's likelihood gradient in training: the loss is the mean over examples * L rows.</summary>
        public const string RowGradientScale = "1f / rows";
    }
}
