using System.Collections.Generic;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A conditional model's label where the decoder reshapes z straight into an image: every latent sample, read as
    /// the reshaped image, gains one plane per class (ones in its example's label's plane, zeros in the others),
    /// [rows, Latent + Classes * LabelArea], the input of the first transposed convolution: PyTorch's
    /// cat([z.view(-1, C, H, W), one_hot(y)[:, :, None, None].expand(-1, Classes, H, W)], 1). Backward, the gradient
    /// of those rows loses the label's planes and goes on to z.
    /// </summary>
    internal sealed record LabelPlanesOp(string Latent, string Output) : Op(Side.Decoder)
    {
        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side.Decoder, program)) yield break;
            yield return Step("The label's planes appended to every latent sample of its example, read as an image.",
                Cpu("global::Vae.Kernels.Cpu.Conditioning.AppendLabelPlanes", Arg.Rows(RowSpace.Samples), Arg.Constant("Latent"), Arg.Constant("Classes"),
                    Arg.Constant("LabelArea"), Arg.Samples(), Arg.Buffer(Latent), Arg.Buffer(LabelInputOp.LabelsBuffer), Arg.Buffer(Output)),
                Launch(AppendPlanes, RowSpace.Samples, "ConditionedLatent", Arg.Buffer(Latent), Arg.Buffer(LabelInputOp.LabelsBuffer), Arg.Buffer(Output),
                    Arg.Samples()));
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) =>
            LabelInputOp.DropLabel("Backward: dz is the gradient of the conditioned rows without the label's planes.", RowSpace.Samples, "Latent", "LabelColumns", DropPlanes, flow);

        private static readonly DeviceKernel AppendPlanes = Kernel("append_label_planes",
            "out[rows, LATENT + CLASSES * LABEL_AREA] = [z row | the plane of each class, ones for the label of example row / samples]; one work item per output value.",
            @"vae_i64 r = gid / CONDITIONED_LATENT;
int c = (int)(gid % CONDITIONED_LATENT);
out[gid] = c < LATENT ? in[r * LATENT + c] : ((int)labels[r / samples] == (c - LATENT) / LABEL_AREA ? 1.0f : 0.0f);",
            Reads("in"), Reads("labels"), Writes("out"), IntParameter("samples"));

        private static readonly DeviceKernel DropPlanes = Kernel("drop_label_planes",
            "dz[rows, LATENT] = the first LATENT columns of d[rows, CONDITIONED_LATENT].",
            "dz[gid] = d[(gid / LATENT) * CONDITIONED_LATENT + gid % LATENT];",
            Reads("d"), Writes("dz"));
    }
}
