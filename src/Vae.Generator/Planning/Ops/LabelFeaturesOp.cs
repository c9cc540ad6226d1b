using System.Collections.Generic;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A conditional model's label in a convolutional encoder: each example's flattened output of the last encoder
    /// convolution with its label appended one-hot, [examples, features + Classes], the input of the first dense layer
    /// (or of the latent heads), as conditional conv VAEs are usually built. Backward, the gradient of those rows loses
    /// its label columns and goes on to the convolutions.
    /// </summary>
    internal sealed record LabelFeaturesOp(string Input, string Output, string Width, string OutputWidth) : Op(Side.Encoder)
    {
        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side.Encoder, program)) yield break;
            var (cpu, device) = LabelInputOp.Append(Input, Output, Width, OutputWidth, RowSpace.Examples, samples: false);
            yield return Step("The label appended one-hot to each example's flattened convolution output.", cpu, device);
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) =>
            LabelInputOp.DropLabel("Backward: the gradient of the convolution output is that of the conditioned rows without their label columns.",
                RowSpace.Examples, Width, "Classes", DropLabelColumns, flow, Arg.Constant(Width));

        private static readonly DeviceKernel DropLabelColumns = Kernel("drop_label_columns",
            "d_in[rows, width] = the first width columns of d[rows, width + CLASSES].",
            "d_in[gid] = d[(gid / width) * (width + CLASSES) + gid % width];",
            Reads("d"), Writes("d_in"), IntParameter("width"));
    }
}
