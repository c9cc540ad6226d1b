using System.Collections.Generic;
using System.Globalization;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A square-kernel convolution fused with its bias and activation: PyTorch's Conv2d (weight [out, in, k, k]) in the
    /// encoder or ConvTranspose2d (weight [in, out, k, k]) in the decoder. Its rows are images [C, H, W] flattened, so
    /// dense layers before or after read and write the same memory (flatten and reshape cost nothing).
    /// </summary>
    internal sealed record ConvolutionOp(Side Side, string Name, string Prefix, ConvSpec Spec, string Input, string Pre, string Output, RowSpace Rows)
        : Op(Side)
    {
        public string InFeatures => Prefix + "InFeatures";
        public string OutFeatures => Prefix + "OutFeatures";
        public string Weight => Prefix + "Weight";
        public string Bias => Prefix + "Bias";
        private ActivationFunction Activation => Spec.Activation;

        /// <summary>Declares the tensors (PyTorch's names and shapes; fan-in from the weight's dimension 1 times the kernel area), constants and buffers.</summary>
        public static ConvolutionOp Declare(LayoutBuilder layout, Side side, string name, string prefix, ConvSpec spec, string input, RowSpace rows, string? output = null, string? outputComment = null)
        {
            int k = spec.Kernel;
            // PyTorch initialises both kinds from weight.size(1) * k * k: in for Conv2d, out for ConvTranspose2d.
            int fanIn = (spec.Transposed ? spec.Out.Channels : spec.In.Channels) * k * k;
            int weight = spec.Transposed
                ? layout.Tensor(name + ".weight", TensorRole.Parameter, fanIn, spec.In.Channels, spec.Out.Channels, k, k)
                : layout.Tensor(name + ".weight", TensorRole.Parameter, fanIn, spec.Out.Channels, spec.In.Channels, k, k);
            int bias = layout.Tensor(name + ".bias", TensorRole.Parameter, fanIn, spec.Out.Channels);
            void C(string what, int value, string comment) => layout.IntConstant(prefix + what, value, Int(value), comment);
            C("InChannels", spec.In.Channels, $"{name} reads {spec.In}");
            C("InHeight", spec.In.Height, "");
            C("InWidth", spec.In.Width, "");
            C("OutChannels", spec.Out.Channels, $"{name} writes {spec.Out}");
            C("OutHeight", spec.Out.Height, "");
            C("OutWidth", spec.Out.Width, "");
            C("Kernel", spec.Kernel, $"{k}x{k} kernel");
            C("Stride", spec.Stride, "");
            C("Padding", spec.Padding, spec.Transposed && spec.OutputPadding > 0 ? $"(and output padding {spec.OutputPadding}, folded into the output size)" : "");
            layout.IntConstant(prefix + "InFeatures", spec.In.Size, $"{prefix}InChannels * {prefix}InHeight * {prefix}InWidth", $"inputs of {name}");
            layout.IntConstant(prefix + "OutFeatures", spec.Out.Size, $"{prefix}OutChannels * {prefix}OutHeight * {prefix}OutWidth", $"outputs of {name}");
            layout.IntConstant(prefix + "Weight", weight, Int(weight), $"offset of {name}.weight");
            layout.IntConstant(prefix + "Bias", bias, Int(bias), $"offset of {name}.bias [{spec.Out.Channels}]");
            string pre, result;
            if (output is not null)
            {
                layout.Buffer(output, spec.Out.Size, prefix + "OutFeatures", rows, BufferKind.Workspace, outputComment ?? name + " output");
                pre = result = output;
            }
            else if (spec.Activation.IsIdentity)
            {
                pre = result = prefix + "Out";
                layout.Buffer(result, spec.Out.Size, prefix + "OutFeatures", rows, BufferKind.Workspace, $"{name} output {spec.Out}");
            }
            else
            {
                pre = prefix + "Pre";
                result = prefix + "Out";
                layout.Buffer(pre, spec.Out.Size, prefix + "OutFeatures", rows, BufferKind.Workspace, $"{name} before {spec.Activation.Name}, {spec.Out}");
                layout.Buffer(result, spec.Out.Size, prefix + "OutFeatures", rows, BufferKind.Workspace, $"{name} after {spec.Activation.Name}, {spec.Out}");
            }
            return new ConvolutionOp(side, name, prefix, spec, input, pre, result, rows);
        }

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        private string Kind => Spec.Transposed ? "ConvTranspose2d" : "Conv2d";
        private string Shapes => $"[rows, {Spec.In}] -> [rows, {Spec.Out}], {Kind} {Spec.Kernel}x{Spec.Kernel} stride {Spec.Stride} padding {Spec.Padding}" +
            (Spec.OutputPadding > 0 ? $" output padding {Spec.OutputPadding}" : "");

        private Arg[] Geometry() => new[]
        {
            Arg.Constant(Prefix + "InChannels"), Arg.Constant(Prefix + "InHeight"), Arg.Constant(Prefix + "InWidth"),
            Arg.Constant(Prefix + "OutChannels"), Arg.Constant(Prefix + "OutHeight"), Arg.Constant(Prefix + "OutWidth"),
            Arg.Constant(Prefix + "Kernel"), Arg.Constant(Prefix + "Stride"), Arg.Constant(Prefix + "Padding"),
        };

        private string Method(string stage) => "global::Vae.Kernels.Cpu.Convolution." + (Spec.Transposed ? "Transposed" + stage : stage) + $"<{Activation.CpuType}>";

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side, program)) yield break;
            var args = new List<Arg> { Arg.Value("threads"), Arg.Rows(Rows) };
            args.AddRange(Geometry());
            args.AddRange(new[] { Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Parameters(Bias), Arg.Buffer(Pre), Arg.Buffer(Output) });
            yield return Step($"{Name}: {Shapes}, {Activation.Name}", Cpu(Method("Forward"), args.ToArray()),
                Launch(Kernel(KernelName("forward"), $"{Name}: {Shapes}, {Activation.Name}; one work item per output.", $@"vae_i64 r = gid / {M("OutFeatures")};
int at = (int)(gid % {M("OutFeatures")});
int oc = at / ({M("OutHeight")} * {M("OutWidth")}), oy = at / {M("OutWidth")} % {M("OutHeight")}, ox = at % {M("OutWidth")};
VAE_GLOBAL const float* x = in + r * {M("InFeatures")};
float sum = params[{M("Bias")} + oc];
for (int ic = 0; ic < {M("InChannels")}; ic++)
for (int ky = 0; ky < {M("Kernel")}; ky++)
{{
    {Source("oy", "ky", "iy", "InHeight")}
    for (int kx = 0; kx < {M("Kernel")}; kx++)
    {{
        {Source("ox", "kx", "ix", "InWidth")}
        sum += x[(ic * {M("InHeight")} + iy) * {M("InWidth")} + ix] * params[{M("Weight")} + {WeightIndex("oc", "ic", "ky", "kx")}];
    }}
}}
pre[gid] = sum;
out[gid] = {Activation.DeviceFunction}(sum);", Reads("params"), Reads("in"), Writes("pre"), Writes("out")),
                    Rows, OutFeatures, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Pre), Arg.Buffer(Output)));
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            string d = flow.Current;
            var device = new List<Launch>();
            if (!Activation.IsIdentity)
            {
                device.Add(Launch(Kernel(KernelName("delta"), $"{Name} backward: d *= the {Activation.Name} derivative, in place.",
                        $"d[gid] *= {Activation.DeviceFunction}_derivative(pre[gid], out[gid]);", Writes("d"), Reads("pre"), Reads("out")),
                    Rows, OutFeatures, Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output)));
            }
            device.Add(Launch(Kernel(KernelName("weight_grad"), $"{Name} backward: dW = d correlated with the input, summed over rows; one work item per weight.", $@"int kx = (int)(gid % {M("Kernel")}), ky = (int)(gid / {M("Kernel")} % {M("Kernel")});
int second = (int)(gid / ({M("Kernel")} * {M("Kernel")}) % {(Spec.Transposed ? M("OutChannels") : M("InChannels"))});
int first_index = (int)(gid / ({M("Kernel")} * {M("Kernel")} * {(Spec.Transposed ? M("OutChannels") : M("InChannels"))}));
int oc = {(Spec.Transposed ? "second" : "first_index")}, ic = {(Spec.Transposed ? "first_index" : "second")};
float sum = 0.0f;
for (int r = 0; r < rows; r++)
for (int oy = 0; oy < {M("OutHeight")}; oy++)
{{
    {Source("oy", "ky", "iy", "InHeight")}
    for (int ox = 0; ox < {M("OutWidth")}; ox++)
    {{
        {Source("ox", "kx", "ix", "InWidth")}
        sum += d[(vae_i64)r * {M("OutFeatures")} + (oc * {M("OutHeight")} + oy) * {M("OutWidth")} + ox] * in[(vae_i64)r * {M("InFeatures")} + (ic * {M("InHeight")} + iy) * {M("InWidth")} + ix];
    }}
}}
grads[{M("Weight")} + gid] = sum;", Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{Prefix}OutChannels * {Prefix}InChannels * {Prefix}Kernel * {Prefix}Kernel",
                Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows)));
            device.Add(Launch(Kernel(KernelName("bias_grad"), $"{Name} backward: db[{Spec.Out.Channels}] = d summed over rows and positions.", $@"float sum = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("OutHeight")} * {M("OutWidth")}; i++) sum += d[(vae_i64)r * {M("OutFeatures")} + gid * {M("OutHeight")} * {M("OutWidth")} + i];
grads[{M("Bias")} + gid] = sum;", Writes("grads"), Reads("d"), IntParameter("rows")),
                null, Prefix + "OutChannels", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Rows(Rows)));
            if (!first)
            {
                device.Add(Launch(Kernel(KernelName("input_grad"), $"{Name} backward: d_in = the transpose of the forward map applied to d; one work item per input value.", $@"vae_i64 r = gid / {M("InFeatures")};
int at = (int)(gid % {M("InFeatures")});
int ic = at / ({M("InHeight")} * {M("InWidth")}), iy = at / {M("InWidth")} % {M("InHeight")}, ix = at % {M("InWidth")};
float sum = 0.0f;
for (int oc = 0; oc < {M("OutChannels")}; oc++)
for (int ky = 0; ky < {M("Kernel")}; ky++)
{{
    {Target("iy", "ky", "oy", "OutHeight")}
    for (int kx = 0; kx < {M("Kernel")}; kx++)
    {{
        {Target("ix", "kx", "ox", "OutWidth")}
        sum += d[r * {M("OutFeatures")} + (oc * {M("OutHeight")} + oy) * {M("OutWidth")} + ox] * params[{M("Weight")} + {WeightIndex("oc", "ic", "ky", "kx")}];
    }}
}}
d_in[gid] = sum;", Reads("params"), Reads("d"), Writes("d_in")),
                    Rows, InFeatures, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(d), Arg.Buffer(flow.Other)));
            }
            var args = new List<Arg> { Arg.Value("threads"), Arg.Rows(Rows) };
            args.AddRange(Geometry());
            args.AddRange(new[]
            {
                Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Gradients(Weight),
                Arg.Gradients(Bias), first ? Arg.None() : Arg.Buffer(flow.Other), Arg.Buffer(d),
            });
            var step = Step($"{Name} backward: d{Activation.Name}, dW, db" + (first ? "" : ", dx"), Cpu(Method("Backward"), args.ToArray()), device.ToArray());
            if (!first) flow.Swap();
            return new[] { step };
        }

        /// <summary>C that sets input index <paramref name="i"/> read by output <paramref name="o"/> through tap <paramref name="k"/>, or skips the tap.</summary>
        private string Source(string o, string k, string i, string size) => Spec.Transposed
            ? $"int {i}_t = {o} + {M("Padding")} - {k}; if ({i}_t < 0 || {i}_t % {M("Stride")} != 0) continue; int {i} = {i}_t / {M("Stride")}; if ({i} >= {M(size)}) continue;"
            : $"int {i} = {o} * {M("Stride")} - {M("Padding")} + {k}; if ({i} < 0 || {i} >= {M(size)}) continue;";

        /// <summary>C that sets output index <paramref name="o"/> that reads input <paramref name="i"/> through tap <paramref name="k"/>, or skips the tap.</summary>
        private string Target(string i, string k, string o, string size) => Spec.Transposed
            ? $"int {o} = {i} * {M("Stride")} - {M("Padding")} + {k}; if ({o} < 0 || {o} >= {M(size)}) continue;"
            : $"int {o}_t = {i} + {M("Padding")} - {k}; if ({o}_t < 0 || {o}_t % {M("Stride")} != 0) continue; int {o} = {o}_t / {M("Stride")}; if ({o} >= {M(size)}) continue;";

        private string WeightIndex(string oc, string ic, string ky, string kx) => Spec.Transposed
            ? $"(({ic} * {M("OutChannels")} + {oc}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}"
            : $"(({oc} * {M("InChannels")} + {ic}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}";

        private string KernelName(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
