using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Planning.Activations;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The diagonal Gaussian latent: the two encoder heads as one stacked GEMM giving [mu | logvar] per example, then
    /// z = mu + exp(logvar / 2) eps for every noise sample fused with the closed-form KL(q(z|x) || N(0, I)) per example;
    /// backward, dz and the KL term (weighted by beta / examples) into d(mu | logvar), then through the heads.
    /// </summary>
    internal sealed record GaussianLatentOp(DenseOp Heads) : Op(Side.Encoder)
    {
        public const string HeadsBuffer = "Heads";
        public const string KlBuffer = "Kl";
        public const string LatentBuffer = "Z";
        public const string NoiseBuffer = "Eps";
        public const string MuBuffer = "Mu";
        public const string LogVarBuffer = "LogVar";

        /// <summary>Declares the heads' tensors (PyTorch's names; mu's rows then logvar's, so one GEMM computes both) and the latent's buffers.</summary>
        public static GaussianLatentOp Declare(LayoutBuilder layout, int latent, int inWidth, string inExpression, string input)
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
            return new GaussianLatentOp(heads);
        }

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            switch (program)
            {
                case ProgramKind.Train:
                case ProgramKind.Evaluate:
                    yield return Heads.ForwardStep();
                    yield return Step("Reparameterisation z = mu + exp(logvar / 2) eps for every sample, and KL per example.",
                        Cpu("global::Vae.Kernels.Cpu.Reparameterization.Forward", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(KlBuffer)),
                        Launch(Reparameterize, RowSpace.Examples, "1",
                            Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(LatentBuffer), Arg.Buffer(KlBuffer)));
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
                    break;
            }
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            var steps = new List<Step>
            {
                Step("Reparameterisation and KL backward: dz and the KL term into d(mu | logvar).",
                    Cpu("global::Vae.Kernels.Cpu.Reparameterization.Backward", Arg.Rows(RowSpace.Examples), Arg.Constant("Latent"), Arg.Samples(),
                        Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(flow.Current), Arg.Value("klWeight"), Arg.Buffer(flow.Other)),
                    Launch(ReparameterizeBackward, RowSpace.Examples, "Latent",
                        Arg.Buffer(HeadsBuffer), Arg.Buffer(NoiseBuffer), Arg.Buffer(flow.Current), Arg.Buffer(flow.Other), Arg.Value("klWeight"))),
            };
            flow.Swap();
            steps.AddRange(Heads.Backward(flow, first));
            return steps;
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
            "d(mu | logvar)[examples, 2 LATENT] from dz (already scaled for the batch mean) and the KL term weighted by kl_weight.",
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
d_heads[b * 2 * LATENT + j] = g_mu + kl_weight * mu;
d_heads[b * 2 * LATENT + LATENT + j] = 0.5f * std * g_logvar + kl_weight * 0.5f * (std * std - 1.0f);",
            Reads("heads"), Reads("eps"), Reads("dz"), Writes("d_heads"), FloatParameter("kl_weight"));

        private static readonly DeviceKernel SplitHeads = Kernel("split_heads", "mu and logvar [examples, LATENT] from the stacked heads.",
            @"vae_i64 b = gid / LATENT;
int j = (int)(gid % LATENT);
mu[gid] = heads[b * 2 * LATENT + j];
logvar[gid] = heads[b * 2 * LATENT + LATENT + j];",
            Reads("heads"), Writes("mu"), Writes("logvar"));
    }
}
