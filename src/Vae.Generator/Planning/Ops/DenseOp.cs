using System.Collections.Generic;
using System.Globalization;
using Vae.Generator.Planning.Activations;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A fully connected layer fused with its bias and activation: pre = x W^T + b, y = f(pre), with W [out, in] as
    /// nn.Linear stores it. The encoder's two heads are one such layer of width 2 * Latent (their weights stacked in
    /// the flat buffer), and so are the decoder's mean and log-variance heads.
    /// </summary>
    /// <param name="Name">The PyTorch name prefix, e.g. encoder.0, or a description for stacked heads.</param>
    /// <param name="Prefix">The prefix of its constants and kernels, e.g. Encoder0.</param>
    internal sealed record DenseOp(
        Side Side, string Name, string Prefix, int In, int Out, ActivationFunction Activation,
        string Input, string Pre, string Output, RowSpace Rows, string WeightDescription) : Op(Side)
    {
        public string InFeatures => Prefix + "InFeatures";
        public string OutFeatures => Prefix + "OutFeatures";
        public string Weight => Prefix + "Weight";
        public string Bias => Prefix + "Bias";

        /// <summary>
        /// Declares the layer's constants and its output buffers; the caller has declared the weight and bias tensors
        /// (whose order on file PyTorch's names decide) and passes their offsets.
        /// </summary>
        public static DenseOp Declare(LayoutBuilder layout, Side side, string name, string prefix, int inWidth, string inExpression,
            int outWidth, string outExpression, ActivationFunction activation, string input, RowSpace rows,
            int weightOffset, int biasOffset, string weightDescription, string? output = null, string? outputComment = null)
        {
            layout.IntConstant(prefix + "InFeatures", inWidth, inExpression, $"inputs of {name}");
            layout.IntConstant(prefix + "OutFeatures", outWidth, outExpression, $"outputs of {name}");
            layout.IntConstant(prefix + "Weight", weightOffset, Int(weightOffset), $"offset of {weightDescription} [{outWidth}, {inWidth}]");
            layout.IntConstant(prefix + "Bias", biasOffset, Int(biasOffset), $"offset of its bias [{outWidth}]");
            string pre, result;
            if (output is not null)
            {
                layout.Buffer(output, outWidth, prefix + "OutFeatures", rows, BufferKind.Workspace, outputComment ?? name + " output");
                pre = result = output;
            }
            else if (activation.IsIdentity)
            {
                // The identity needs no separate pre-activation buffer: pre and output are the same values.
                pre = result = prefix + "Out";
                layout.Buffer(result, outWidth, prefix + "OutFeatures", rows, BufferKind.Workspace, name + " output");
            }
            else
            {
                pre = prefix + "Pre";
                result = prefix + "Out";
                layout.Buffer(pre, outWidth, prefix + "OutFeatures", rows, BufferKind.Workspace, $"{name} before {activation.Name}");
                layout.Buffer(result, outWidth, prefix + "OutFeatures", rows, BufferKind.Workspace, $"{name} after {activation.Name}");
            }
            return new DenseOp(side, name, prefix, inWidth, outWidth, activation, input, pre, result, rows, weightDescription);
        }

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        private string Shapes => $"[rows, {Int(In)}] -> [rows, {Int(Out)}]";

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side, program)) yield break;
            yield return ForwardStep();
        }

        public Step ForwardStep() => Step($"{Name}: {Shapes}, {Activation.Name}",
            Cpu($"global::Vae.Kernels.Cpu.Linear.Forward<{Activation.CpuType}>", Arg.Value("threads"), Arg.Rows(Rows),
                Arg.Constant(InFeatures), Arg.Constant(OutFeatures), Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Parameters(Bias),
                Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Value("packed")),
            ForwardLaunch());

        /// <summary>The device forward: one work item per output value.</summary>
        public Launch ForwardLaunch() => Launch(
            Kernel(Kernel("forward"), $"{Name}: {Shapes}, {Activation.Name}; one work item per output.", $@"vae_i64 r = gid / {M("OutFeatures")};
int o = (int)(gid % {M("OutFeatures")});
VAE_GLOBAL const float* x = in + r * {M("InFeatures")};
VAE_GLOBAL const float* weight = params + {M("Weight")} + (vae_i64)o * {M("InFeatures")};
float sum = params[{M("Bias")} + o];
for (int k = 0; k < {M("InFeatures")}; k++) sum += x[k] * weight[k];
pre[gid] = sum;
out[gid] = {Activation.DeviceFunction}(sum);",
                Reads("params"), Reads("in"), Writes("pre"), Writes("out")),
            Rows, OutFeatures, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Pre), Arg.Buffer(Output));

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            string d = flow.Current;
            var device = new List<Launch>();
            if (!Activation.IsIdentity)
            {
                device.Add(Launch(Kernel(Kernel("delta"), $"{Name} backward: d[rows, {Int(Out)}] *= the {Activation.Name} derivative, in place.",
                        $"d[gid] *= {Activation.DeviceFunction}_derivative(pre[gid], out[gid]);", Writes("d"), Reads("pre"), Reads("out")),
                    Rows, OutFeatures, Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output)));
            }
            device.Add(Launch(Kernel(Kernel("weight_grad"), $"{Name} backward: dW[{Int(Out)}, {Int(In)}] = d^T in, summed over rows.", $@"int o = (int)(gid / {M("InFeatures")});
int i = (int)(gid % {M("InFeatures")});
float sum = 0.0f;
for (int r = 0; r < rows; r++) sum += d[(vae_i64)r * {M("OutFeatures")} + o] * in[(vae_i64)r * {M("InFeatures")} + i];
grads[{M("Weight")} + gid] = sum;", Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{OutFeatures} * {InFeatures}", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows)));
            device.Add(Launch(Kernel(Kernel("bias_grad"), $"{Name} backward: db[{Int(Out)}] = d summed over rows.", $@"float sum = 0.0f;
for (int r = 0; r < rows; r++) sum += d[(vae_i64)r * {M("OutFeatures")} + gid];
grads[{M("Bias")} + gid] = sum;", Writes("grads"), Reads("d"), IntParameter("rows")),
                null, OutFeatures, Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Rows(Rows)));
            if (!first)
            {
                device.Add(Launch(Kernel(Kernel("input_grad"), $"{Name} backward: d_in[rows, {Int(In)}] = d W.", $@"vae_i64 r = gid / {M("InFeatures")};
int i = (int)(gid % {M("InFeatures")});
float sum = 0.0f;
for (int o = 0; o < {M("OutFeatures")}; o++) sum += d[r * {M("OutFeatures")} + o] * params[{M("Weight")} + (vae_i64)o * {M("InFeatures")} + i];
d_in[gid] = sum;", Reads("params"), Reads("d"), Writes("d_in")),
                    Rows, InFeatures, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(d), Arg.Buffer(flow.Other)));
            }
            var step = Step($"{Name} backward: d{Activation.Name}, dW, db" + (first ? "" : ", dx"),
                Cpu($"global::Vae.Kernels.Cpu.Linear.Backward<{Activation.CpuType}>", Arg.Value("threads"), Arg.Rows(Rows),
                    Arg.Constant(InFeatures), Arg.Constant(OutFeatures), Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Buffer(Input),
                    Arg.Parameters(Weight), Arg.Gradients(Weight), Arg.Gradients(Bias), first ? Arg.None() : Arg.Buffer(flow.Other), Arg.Buffer(d)),
                device.ToArray());
            if (!first) flow.Swap();
            return new[] { step };
        }

        private string Kernel(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
