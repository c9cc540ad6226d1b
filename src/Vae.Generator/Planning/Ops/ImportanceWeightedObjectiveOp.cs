using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The importance-weighted bound (Burda et al. 2016) over the K = LatentSamples rows of each example:
    /// log w_k = -nll_k + log p(z_k) - log q(z_k|x), loss_b = -(logsumexp_k log w_k - log K). After the likelihood it
    /// computes each example's loss and each row's normalised weight over the batch size, w~_k / B, and in training
    /// scales the likelihood's gradient rows (written unscaled) by it, so the decoder's backward pass is the plain
    /// importance-weighted gradient; the latent op reads the same weights for its own backward (DReG squares them).
    /// </summary>
    internal sealed record ImportanceWeightedObjectiveOp(string Gradient) : Op(Side.Decoder)
    {
        public const string RowWeightBuffer = "RowWeight";
        public const string ExampleLossBuffer = "ExampleLoss";

        public static ImportanceWeightedObjectiveOp Declare(LayoutBuilder layout, string gradient)
        {
            layout.Buffer(RowWeightBuffer, 1, "1", RowSpace.Samples, BufferKind.Workspace, "each sample's normalised importance weight over the batch size");
            layout.Buffer(ExampleLossBuffer, 1, "1", RowSpace.Examples, BufferKind.Workspace, "each example's negative importance-weighted bound");
            return new ImportanceWeightedObjectiveOp(gradient);
        }

        public static LossPlan Loss() => new LossPlan("global::Vae.Kernels.Cpu.Losses.Mean", new EquatableArray<Arg>(new[]
        {
            Arg.Rows(RowSpace.Examples), Arg.Buffer(ExampleLossBuffer), Arg.Value("exampleLoss"),
        }));

        /// <summary>The likelihood writes its gradient unscaled; the weights scale it once they are known.</summary>
        public const string RowGradientScale = "1f";

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (program != ProgramKind.Train && program != ProgramKind.Evaluate) yield break;
            yield return Step("The importance-weighted bound of each example by log-sum-exp over its samples, and each sample's weight w~ / B.",
                Cpu("global::Vae.Kernels.Cpu.Losses.ImportanceWeights", Arg.Rows(RowSpace.Examples), Arg.Samples(), Arg.Buffer(LikelihoodOp.RowNllBuffer),
                    Arg.Buffer(GaussianLatentOp.LogRatioBuffer), Arg.Buffer(RowWeightBuffer), Arg.Buffer(ExampleLossBuffer)),
                Launch(Weights, RowSpace.Examples, "1", Arg.Buffer(LikelihoodOp.RowNllBuffer), Arg.Buffer(GaussianLatentOp.LogRatioBuffer),
                    Arg.Buffer(RowWeightBuffer), Arg.Buffer(ExampleLossBuffer), Arg.Rows(RowSpace.Examples)));
            if (program != ProgramKind.Train) yield break;
            yield return Step("The likelihood's gradient rows weighted by w~ / B.",
                Cpu("global::Vae.Kernels.Cpu.Losses.ScaleRows", Arg.Rows(RowSpace.Samples), Arg.Constant("OutputWidth"), Arg.Buffer(Gradient), Arg.Buffer(RowWeightBuffer)),
                Launch(ScaleRows, RowSpace.Samples, "OutputWidth", Arg.Buffer(Gradient), Arg.Buffer(RowWeightBuffer)));
        }

        /// <summary>The weights act in the forward pass (on the gradient rows); nothing is left for the backward pass.</summary>
        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) => Enumerable.Empty<Step>();

        private static readonly DeviceKernel Weights = Kernel("importance_weights",
            "One work item per example: log w_k = log_ratio_k - nll_k over its SAMPLES rows, loss = log K - logsumexp, and row_weight_k = w~_k / examples.",
            @"vae_i64 first = gid * SAMPLES;
float max = log_ratio[first] - row_nll[first];
for (int k = 1; k < SAMPLES; k++) max = VAE_FMAX(max, log_ratio[first + k] - row_nll[first + k]);
float sum = 0.0f;
for (int k = 0; k < SAMPLES; k++) sum += VAE_EXP(log_ratio[first + k] - row_nll[first + k] - max);
float log_sum = max + VAE_LOG(sum);
example_loss[gid] = VAE_LOG((float)SAMPLES) - log_sum;
for (int k = 0; k < SAMPLES; k++) row_weight[first + k] = VAE_EXP(log_ratio[first + k] - row_nll[first + k] - log_sum) / examples;",
            Reads("row_nll"), Reads("log_ratio"), Writes("row_weight"), Writes("example_loss"), IntParameter("examples"));

        private static readonly DeviceKernel ScaleRows = Kernel("scale_rows", "d[rows, OUTPUT_WIDTH] *= row_weight[row], element by element.",
            "d[gid] *= row_weight[gid / OUTPUT_WIDTH];",
            Writes("d"), Reads("row_weight"));
    }
}
