using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The diagonal Gaussian latent: the two encoder heads as one stacked GEMM giving [mu | logvar] per example, then
    /// z = mu + exp(logvar / 2) eps for every noise sample fused with the closed-form KL(q(z|x) || N(0, I)) per example;
    /// backward, dz and the KL term (weighted by beta / examples) into d(mu | logvar), then through the heads.
    /// </summary>
    /// <remarks>
    /// Under the ELBO the KL is closed-form and, in training, floored per dimension at the free-bits value; under an
    /// importance-weighted objective each sample carries log p(z) - log q(z|x) instead, and the backward pass takes
    /// each sample's importance weight (squared, for DReG).
    /// </remarks>
    internal sealed record GaussianLatentOp(DenseOp Heads, ObjectiveKind Objective) : Op(Side.Encoder)
    {
        public const string HeadsBuffer = "Heads";
        public const string KlBuffer = "Kl";
        public const string LatentBuffer = "Z";
        public const string NoiseBuffer = "Eps";
        public const string MuBuffer = "Mu";
        public const string LogVarBuffer = "LogVar";
        public const string KlFloorBuffer = "KlFloor";
        public const string KlMaskBuffer = "KlMask";
        public const string LogRatioBuffer = "LogRatio";

        private bool Importance => Objective != ObjectiveKind.Elbo;

        /// <summary>Declares the heads' tensors (PyTorch's names; mu's rows then logvar's, so one GEMM computes both) and the latent's buffers.</summary>
        public static GaussianLatentOp Declare(LayoutBuilder layout, ObjectiveKind objective, int latent, int inWidth, string inExpression, string input)
        {
            int weight = layout.Tensor("encoder.mu.weight", TensorRole.Parameter, inWidth, latent, inWidth);
            layout.Tensor("encoder.logvar.weight", TensorRole.Parameter, inWidth, latent, inWidth);
            int bias = layout.Tensor("encoder.mu.bias", TensorRole.Parameter, inWidth, latent);
            layout.Tensor("encoder.logvar.bias", TensorRole.Parameter, inWidth, latent);
            var heads = DenseOp.Declare(layout, Side.Encoder, "encoder.heads", "EncoderHeads", inWidth, inExpression, 2 * latent, "2 * Latent",
                IdentityActivation.Instance, input, RowSpace.Examples, weight, bias, "encoder.mu.weight | encoder.logvar.weight",
                HeadsBuffer, "encoder heads: mu | logvar");
            layout.Buffer(KlBuffer, 1, "1", RowSpace.Examples, BufferKind.Workspace, "KL(q(z|x) || N(0, I)) per example");
            layout.Buffer(LatentBuffer, latent, "Latent", RowSpace.Samples, BufferKind.Workspace, "z = mu + exp(logvar / 2) eps, one row per sample");
            layout.Buffer(NoiseBuffer, latent, "Latent", RowSpace.Samples, BufferKind.Surface, "standard-normal noise eps, [examples, L, Latent]");
            layout.Buffer(MuBuffer, latent, "Latent", RowSpace.Examples, BufferKind.Surface, "the posterior means");
            layout.Buffer(LogVarBuffer, latent, "Latent", RowSpace.Examples, BufferKind.Surface, "the posterior log variances");
            layout.IntConstant("NoiseGroups", (latent + 3) / 4, "(Latent + 3) / 4", "one Philox call gives four normals");
            if (objective == ObjectiveKind.Elbo)
            {
                layout.Buffer(KlFloorBuffer, latent, "Latent", RowSpace.Single, BufferKind.Workspace, "free bits: each dimension's batch-mean KL, floored");
                layout.Buffer(KlMaskBuffer, latent, "Latent", RowSpace.Single, BufferKind.Workspace, "free bits: 1 where a dimension's KL gets its gradient");
            }
            else
            {
                layout.Buffer(LogRatioBuffer, 1, "1", RowSpace.Samples, BufferKind.Workspace, "log p(z) - log q(z|x) per sample");
            }
            return new GaussianLatentOp(heads, objective);
        }

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            switch (program)
            {
                case ProgramKind.Train:
                case ProgramKind.Evaluate:
                    yield return Heads.ForwardStep();
                    if (Importance)
                    {
                        yield return Step("Reparameterisation z = mu + exp(logvar / 2) eps for every sample, and log p(z) - log q(z|x) per sample.",
                            Cpu("global::Vae.Kernels.Cpu.Reparameterization.ForwardImportance", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                                Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(LogRatioBuffer)),
                            Launch(ReparameterizeImportance, RowSpace.Examples, "1",
                                Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(LogRatioBuffer)));
                        break;
                    }
                    yield return Step("Reparameterisation z = mu + exp(logvar / 2) eps for every sample, and KL per example.",
                        Cpu("global::Vae.Kernels.Cpu.Reparameterization.Forward", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(KlBuffer)),
                        Launch(Reparameterize, RowSpace.Examples, "1",
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(KlBuffer)));
                    if (program == ProgramKind.Train)
                    {
                        yield return Step("Free bits: each dimension's KL averaged over the batch, floored, and which dimensions keep their KL gradient.",
                            Cpu("global::Vae.Kernels.Cpu.Reparameterization.FreeBits", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"),
                                Arg.Buffer(HeadsBuffer), Arg.Value("freeBits"), Arg.Buffer(KlFloorBuffer), Arg.Buffer(KlMaskBuffer)),
                            Launch(FreeBits, null, "Latent", Arg.Buffer(HeadsBuffer), Arg.Buffer(KlFloorBuffer), Arg.Buffer(KlMaskBuffer),
                                Arg.Rows(RowSpace.Examples), Arg.Value("freeBits")));
                    }
                    break;
                case ProgramKind.Encode:
                    yield return Heads.ForwardStep();
                    yield return Step("mu and logvar from the stacked heads.",
                        Cpu("global::Vae.Kernels.Cpu.Losses.SplitHeads", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(MuBuffer), Arg.Buffer(LogVarBuffer)),
                        Launch(SplitHeads, RowSpace.Examples, "Latent", Arg.Buffer(HeadsBuffer), Arg.Buffer(MuBuffer), Arg.Buffer(LogVarBuffer)));
                    break;
                case ProgramKind.DrawNoise:
                    yield return Step("eps [examples, L, Latent]: Philox4x32-10 normals keyed by (seed, step, global example, sample, latent index).",
                        Cpu("global::Vae.Noise.Philox.FillNormal", Arg.Value("seed"), Arg.Value("step"), Arg.Value("firstExample"), Arg.Rows(RowSpace.Examples),
                            Arg.Samples(), Arg.Constant("Latent"), Arg.Buffer(NoiseBuffer)),
                        Launch(DrawNoise, RowSpace.Samples, "NoiseGroups", Arg.Buffer(NoiseBuffer), Arg.Value("seedLow"), Arg.Value("seedHigh"),
                            Arg.Value("step"), Arg.Value("firstExample"), Arg.Constant("Latent"), Arg.Samples()));
                    break;
                case ProgramKind.Decode:
                case ProgramKind.DecoderNegativeLogLikelihood:
                case ProgramKind.EncodeCodes:
                case ProgramKind.DecodeCodes:
                    break;
            }
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            var steps = new List<Step> { LatentBackward(flow.Current, flow.Other) };
            flow.Swap();
            steps.AddRange(Heads.Backward(flow, first));
            return steps;
        }

        private Step LatentBackward(string dz, string dHeads)
        {
            switch (Objective)
            {
                case ObjectiveKind.Elbo:
                    return Step("Reparameterisation and KL backward: dz and the KL term (masked by free bits) into d(mu | logvar).",
                        Cpu("global::Vae.Kernels.Cpu.Reparameterization.Backward", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(dz), Arg.Value("klWeight"), Arg.Buffer(KlMaskBuffer), Arg.Buffer(dHeads)),
                        Launch(ReparameterizeBackward, RowSpace.Examples, "Latent",
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(dz), Arg.Buffer(KlMaskBuffer), Arg.Buffer(dHeads), Arg.Value("klWeight")));
                case ObjectiveKind.ImportanceWeighted:
                    return Step("Importance-weighted backward: dz plus the prior's w~ z / B, and log q's -1/2 per example, into d(mu | logvar).",
                        Cpu("global::Vae.Kernels.Cpu.Reparameterization.BackwardImportance", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(dz),
                            Arg.Buffer(ImportanceWeightedObjectiveOp.RowWeightBuffer), Arg.Buffer(dHeads)),
                        Launch(ReparameterizeBackwardImportance, RowSpace.Examples, "Latent",
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(dz),
                            Arg.Buffer(ImportanceWeightedObjectiveOp.RowWeightBuffer), Arg.Buffer(dHeads)));
                case ObjectiveKind.ImportanceWeightedDReG:
                    return Step("DReG backward: each sample's pathwise gradient of log w weighted by w~^2 / B, no score term, into d(mu | logvar).",
                        Cpu("global::Vae.Kernels.Cpu.Reparameterization.BackwardDReG", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(dz),
                            Arg.Buffer(ImportanceWeightedObjectiveOp.RowWeightBuffer), Arg.Rows(RowSpace.Examples), Arg.Buffer(dHeads)),
                        Launch(ReparameterizeBackwardDReG, RowSpace.Examples, "Latent",
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(dz),
                            Arg.Buffer(ImportanceWeightedObjectiveOp.RowWeightBuffer), Arg.Rows(RowSpace.Examples), Arg.Buffer(dHeads)));
                default:
                    throw new System.InvalidOperationException("Unknown objective " + Objective + ".");
            }
        }

        private static readonly DeviceKernel DrawNoise = LibraryKernel("vae_draw_noise", Writes("eps"), UnsignedParameter("seed_lo"),
            UnsignedParameter("seed_hi"), UnsignedParameter("step"), IntParameter("first_example"), IntParameter("latent"), IntParameter("samples"));

        private static readonly DeviceKernel Reparameterize = Kernel("reparameterize",
            "z[rows, LATENT] = mu + exp(logvar / 2) eps for every sample, and KL per example; one work item per example, heads rows are [mu | logvar].",
            @"VAE_GLOBAL const float* mu = heads + gid * 2 * LATENT;
VAE_GLOBAL const float* logvar = mu + LATENT;
float sum = 0.0f;
for (int j = 0; j < LATENT; j++) sum += mu[j] * mu[j] + VAE_EXP(logvar[j]) - 1.0f - logvar[j];
kl[gid] = 0.5f * sum;
for (int s = 0; s < SAMPLES; s++)
{
    vae_i64 row = gid * SAMPLES + s;
    for (int j = 0; j < LATENT; j++) z[row * LATENT + j] = mu[j] + VAE_EXP(0.5f * logvar[j]) * eps[row * LATENT + j];
}",
            Reads("heads"), Reads("eps"), Writes("z"), Writes("kl"));

        private static readonly DeviceKernel ReparameterizeBackward = Kernel("reparameterize_backward",
            "d(mu | logvar)[examples, 2 LATENT] from dz (already scaled for the batch mean) and the KL term weighted by kl_weight, per dimension by kl_mask.",
            @"vae_i64 b = gid / LATENT;
int j = (int)(gid % LATENT);
float mu = heads[b * 2 * LATENT + j];
float logvar = heads[b * 2 * LATENT + LATENT + j];
float std = VAE_EXP(0.5f * logvar);
float g_mu = 0.0f, g_logvar = 0.0f;
for (int s = 0; s < SAMPLES; s++)
{
    vae_i64 at = (b * SAMPLES + s) * LATENT + j;
    g_mu += dz[at];
    g_logvar += dz[at] * eps[at];
}
float weight = kl_weight * kl_mask[j];
d_heads[b * 2 * LATENT + j] = g_mu + weight * mu;
d_heads[b * 2 * LATENT + LATENT + j] = 0.5f * std * g_logvar + weight * 0.5f * (std * std - 1.0f);",
            Reads("heads"), Reads("eps"), Reads("dz"), Reads("kl_mask"), Writes("d_heads"), FloatParameter("kl_weight"));

        private static readonly DeviceKernel FreeBits = Kernel("free_bits",
            "Free bits: dimension gid's KL averaged over the batch, floored at free_bits into kl_floor, and kl_mask = 1 where it stays above (a floor of 0 is none).",
            @"float sum = 0.0f;
for (int b = 0; b < rows; b++)
{
    float mu = heads[(vae_i64)b * 2 * LATENT + gid];
    float logvar = heads[(vae_i64)b * 2 * LATENT + LATENT + gid];
    sum += 0.5f * (mu * mu + VAE_EXP(logvar) - 1.0f - logvar);
}
float mean = rows == 0 ? 0.0f : sum / rows;
int floored = free_bits > 0.0f && !(mean > free_bits);
kl_floor[gid] = floored ? free_bits : mean;
kl_mask[gid] = floored ? 0.0f : 1.0f;",
            Reads("heads"), Writes("kl_floor"), Writes("kl_mask"), IntParameter("rows"), FloatParameter("free_bits"));

        private static readonly DeviceKernel ReparameterizeImportance = Kernel("reparameterize_importance",
            "z[rows, LATENT] = mu + exp(logvar / 2) eps for every sample, and log_ratio[row] = log p(z) - log q(z|x) = sum_j (eps^2 - z^2 + logvar) / 2; one work item per example.",
            @"VAE_GLOBAL const float* mu = heads + gid * 2 * LATENT;
VAE_GLOBAL const float* logvar = mu + LATENT;
for (int s = 0; s < SAMPLES; s++)
{
    vae_i64 row = gid * SAMPLES + s;
    float ratio = 0.0f;
    for (int j = 0; j < LATENT; j++)
    {
        float e = eps[row * LATENT + j];
        float zj = mu[j] + VAE_EXP(0.5f * logvar[j]) * e;
        z[row * LATENT + j] = zj;
        ratio += 0.5f * (e * e - zj * zj + logvar[j]);
    }
    log_ratio[row] = ratio;
}",
            Reads("heads"), Reads("eps"), Writes("z"), Writes("log_ratio"));

        private static readonly DeviceKernel ReparameterizeBackwardImportance = Kernel("reparameterize_backward_importance",
            "d(mu | logvar) of the importance-weighted bound: dz (rows already weighted by w~ / B) plus the prior's w~ z / B, and -1/2 per example in logvar.",
            @"vae_i64 b = gid / LATENT;
int j = (int)(gid % LATENT);
float std = VAE_EXP(0.5f * heads[b * 2 * LATENT + LATENT + j]);
float g_mu = 0.0f, g_logvar = 0.0f, weights = 0.0f;
for (int s = 0; s < SAMPLES; s++)
{
    vae_i64 row = b * SAMPLES + s, at = row * LATENT + j;
    float g = dz[at] + row_weight[row] * z[at];
    g_mu += g;
    g_logvar += g * eps[at];
    weights += row_weight[row];
}
d_heads[b * 2 * LATENT + j] = g_mu;
d_heads[b * 2 * LATENT + LATENT + j] = 0.5f * std * g_logvar - 0.5f * weights;",
            Reads("heads"), Reads("eps"), Reads("z"), Reads("dz"), Reads("row_weight"), Writes("d_heads"));

        private static readonly DeviceKernel ReparameterizeBackwardDReG = Kernel("reparameterize_backward_dreg",
            "d(mu | logvar) under DReG: w~ dz + w~ (w~ / B) (z - eps / std) per sample (dz rows already weighted by w~ / B), no score term.",
            @"vae_i64 b = gid / LATENT;
int j = (int)(gid % LATENT);
float std = VAE_EXP(0.5f * heads[b * 2 * LATENT + LATENT + j]);
float g_mu = 0.0f, g_logvar = 0.0f;
for (int s = 0; s < SAMPLES; s++)
{
    vae_i64 row = b * SAMPLES + s, at = row * LATENT + j;
    float normalised = row_weight[row] * batch;
    float g = normalised * (dz[at] + row_weight[row] * (z[at] - eps[at] / std));
    g_mu += g;
    g_logvar += g * eps[at];
}
d_heads[b * 2 * LATENT + j] = g_mu;
d_heads[b * 2 * LATENT + LATENT + j] = 0.5f * std * g_logvar;",
            Reads("heads"), Reads("eps"), Reads("z"), Reads("dz"), Reads("row_weight"), IntParameter("batch"), Writes("d_heads"));

        private static readonly DeviceKernel SplitHeads = Kernel("split_heads", "mu and logvar [examples, LATENT] from the stacked heads.",
            @"vae_i64 b = gid / LATENT;
int j = (int)(gid % LATENT);
mu[gid] = heads[b * 2 * LATENT + j];
logvar[gid] = heads[b * 2 * LATENT + LATENT + j];",
            Reads("heads"), Writes("mu"), Writes("logvar"));
    }
}
