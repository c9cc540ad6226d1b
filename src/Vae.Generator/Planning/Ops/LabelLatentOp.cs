using System.Collections.Generic;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A conditional model's decoder input: every latent sample with its example's label appended one-hot,
    /// [rows, Latent + Classes]. Backward, the gradient of those rows loses its label columns and goes on to z.
    /// </summary>
    internal sealed record LabelLatentOp(string Latent, string Output) : Op(Side.Decoder)
    {
        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side.Decoder, program)) yield break;
            var (cpu, device) = LabelInputOp.Append(Latent, Output, "Latent", "ConditionedLatent", RowSpace.Samples, samples: true);
            yield return Step("The label appended one-hot to every latent sample of its example.", cpu, device);
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) =>
            LabelInputOp.DropLabel("Backward: dz is the gradient of the conditioned rows without their label columns.", RowSpace.Samples, "Latent", "Classes", DropLabels, flow);

        private static readonly DeviceKernel DropLabels = Kernel("drop_labels",
            "dz[rows, LATENT] = the first LATENT columns of d[rows, LATENT + CLASSES].",
            "dz[gid] = d[(gid / LATENT) * (LATENT + CLASSES) + gid % LATENT];",
            Reads("d"), Writes("dz"));
    }
}
