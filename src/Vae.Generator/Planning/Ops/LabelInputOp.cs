using System.Collections.Generic;
using System.Linq;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A conditional model's encoder input: each example's row of x with its label appended one-hot,
    /// [examples, Input + Classes], the input of the first encoder layer. It has no parameters and, coming first,
    /// nothing to pass a gradient to.
    /// </summary>
    internal sealed record LabelInputOp(string Input, string Output, string Width, string OutputWidth) : Op(Side.Encoder)
    {
        public const string LabelsBuffer = "Labels";

        public override bool TakesNoGradient => true;

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side.Encoder, program)) yield break;
            yield return Step("The label appended one-hot to each example's input.", Append(Input, Output, Width, OutputWidth, RowSpace.Examples, samples: false));
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) => Enumerable.Empty<Step>();

        /// <summary>The CPU call and device launch that write [rows, width + Classes] = [input row | one-hot label of its example].</summary>
        public static (CpuCall Cpu, Launch Device) Append(string input, string output, string width, string outputWidth, RowSpace rows, bool samples) =>
            (Cpu("global::Vae.Kernels.Cpu.Conditioning.AppendOneHot", Arg.Rows(rows), Arg.Constant(width), Arg.Constant("Classes"),
                    samples ? Arg.Samples() : Arg.Constant("1"), Arg.Buffer(input), Arg.Buffer(LabelsBuffer), Arg.Buffer(output)),
                Launch(AppendLabels, rows, outputWidth, Arg.Buffer(input), Arg.Buffer(LabelsBuffer), Arg.Buffer(output), Arg.Constant(width),
                    samples ? Arg.Samples() : Arg.Constant("1")));

        /// <summary>
        /// The backward of a label's columns: the step that copies the first <paramref name="width"/> columns of the
        /// current gradient's rows (which carry <paramref name="extra"/> more, the label's) to the other buffer, by
        /// <paramref name="kernel"/> on a device (one work item per kept value, <paramref name="kernelArgs"/> after its
        /// two buffers), then makes that buffer the current gradient.
        /// </summary>
        public static Step[] DropLabel(string comment, RowSpace rows, string width, string extra, DeviceKernel kernel, GradientFlow flow, params Arg[] kernelArgs)
        {
            var step = Op.Step(comment,
                Cpu("global::Vae.Kernels.Cpu.Conditioning.DropColumns", Arg.Rows(rows), Arg.Constant(width), Arg.Constant(extra),
                    Arg.Buffer(flow.Current), Arg.Buffer(flow.Other)),
                Launch(kernel, rows, width, new[] { Arg.Buffer(flow.Current), Arg.Buffer(flow.Other) }.Concat(kernelArgs).ToArray()));
            flow.Swap();
            return new[] { step };
        }

        private static Step Step(string comment, (CpuCall Cpu, Launch Device) call) => Op.Step(comment, call.Cpu, call.Device);

        private static readonly DeviceKernel AppendLabels = Kernel("append_labels",
            "out[rows, width + CLASSES] = [in row | one-hot of the label of example row / samples]; one work item per output value.",
            @"int columns = width + CLASSES;
vae_i64 r = gid / columns;
int c = (int)(gid % columns);
out[gid] = c < width ? in[r * width + c] : ((int)labels[r / samples] == c - width ? 1.0f : 0.0f);",
            Reads("in"), Reads("labels"), Writes("out"), IntParameter("width"), IntParameter("samples"));
    }
}
