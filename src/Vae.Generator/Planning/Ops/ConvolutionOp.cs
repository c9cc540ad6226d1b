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
                Launch(Kernel(KernelName("forward"), $"{Name}: {Shapes}, {Activation.Name}; one work item per output, visiting only the taps that reach it.", $@"vae_i64 r = gid / {M("OutFeatures")};
int at = (int)(gid % {M("OutFeatures")});
int oc = at / ({M("OutHeight")} * {M("OutWidth")}), oy = at / {M("OutWidth")} % {M("OutHeight")}, ox = at % {M("OutWidth")};
VAE_GLOBAL const float* x = in + r * {M("InFeatures")};
float sum = params[{M("Bias")} + oc];
{TapLoop("oy", "ky", "iy", "InHeight", inverse: Spec.Transposed, $@"{TapLoop("ox", "kx", "ix", "InWidth", inverse: Spec.Transposed, $@"for (int ic = 0; ic < {M("InChannels")}; ic++)
    sum += x[(ic * {M("InHeight")} + iy) * {M("InWidth")} + ix] * params[{M("Weight")} + {WeightIndex("oc", "ic", "ky", "kx")}];")}")}
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
                device.Add(ActivationDerivative(KernelName("delta"), $"{Name} backward: d *= the {Activation.Name} derivative, in place.",
                    Activation, Rows, OutFeatures, d, Pre, Output));
            }
            // The weight gradient sums small-side values times the big-side values their tap reads (see WeightGradient).
            device.Add(Launch(Kernel(KernelName("weight_grad"), $"{Name} backward: dW = d correlated with the input, summed over rows; one work item per weight.", WeightGradient(),
                    Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{Prefix}OutChannels * {Prefix}InChannels * {Prefix}Kernel * {Prefix}Kernel",
                Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows)));
            device.Add(Launch(Kernel(KernelName("bias_grad"), $"{Name} backward: db[{Spec.Out.Channels}] = d summed over rows and positions.", $@"float sum = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("OutHeight")} * {M("OutWidth")}; i++) sum += d[(vae_i64)r * {M("OutFeatures")} + gid * {M("OutHeight")} * {M("OutWidth")} + i];
grads[{M("Bias")} + gid] = sum;", Writes("grads"), Reads("d"), IntParameter("rows")),
                null, Prefix + "OutChannels", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Rows(Rows)));
            if (!first)
            {
                device.Add(Launch(Kernel(KernelName("input_grad"), $"{Name} backward: d_in = the transpose of the forward map applied to d; one work item per input value, visiting only the taps that read it.", $@"vae_i64 r = gid / {M("InFeatures")};
int at = (int)(gid % {M("InFeatures")});
int ic = at / ({M("InHeight")} * {M("InWidth")}), iy = at / {M("InWidth")} % {M("InHeight")}, ix = at % {M("InWidth")};
VAE_GLOBAL const float* dr = d + r * {M("OutFeatures")};
float sum = 0.0f;
{TapLoop("iy", "ky", "oy", "OutHeight", inverse: !Spec.Transposed, $@"{TapLoop("ix", "kx", "ox", "OutWidth", inverse: !Spec.Transposed, $@"for (int oc = 0; oc < {M("OutChannels")}; oc++)
    sum += dr[(oc * {M("OutHeight")} + oy) * {M("OutWidth")} + ox] * params[{M("Weight")} + {WeightIndex("oc", "ic", "ky", "kx")}];")}")}
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

        /// <summary>
        /// C for a loop over the taps <paramref name="k"/> that link position <paramref name="from"/> to a position
        /// <paramref name="to"/> inside [0, <paramref name="size"/>) of the other image, around <paramref name="body"/>.
        /// Direct: to = from s - p + k, every tap. Inverse (from = to s - p + k): only the taps k = (from + p) mod s,
        /// (from + p) mod s + s, ..., for which the division is exact, so no tap is tried and thrown away.
        /// </summary>
        private string TapLoop(string from, string k, string to, string size, bool inverse, string body) => inverse
            ? $@"for (int {k} = ({from} + {M("Padding")}) % {M("Stride")}; {k} < {M("Kernel")}; {k} += {M("Stride")})
{{
    int {to} = ({from} + {M("Padding")} - {k}) / {M("Stride")};
    if ({to} < 0 || {to} >= {M(size)}) continue;
    {body.Replace("\n", "\n    ")}
}}"
            : $@"for (int {k} = 0; {k} < {M("Kernel")}; {k}++)
{{
    int {to} = {from} * {M("Stride")} - {M("Padding")} + {k};
    if ({to} < 0 || {to} >= {M(size)}) continue;
    {body.Replace("\n", "\n    ")}
}}";

        /// <summary>
        /// C of the weight gradient for one weight (tap ky, kx between a small-side and a big-side channel): the sum over
        /// rows of small[sy, sx] big[sy s - p + ky, sx s - p + kx], over the small positions whose tap lands inside the
        /// big image. Seen from the Conv2d side, small is d and big the input; for ConvTranspose2d, small is the input
        /// and big is d, so both kinds run the direct relation with bounds computed once.
        /// </summary>
        private string WeightGradient()
        {
            string second = Spec.Transposed ? M("OutChannels") : M("InChannels");
            var (small, smallFeatures, smallChannel, smallHeight, smallWidth, big, bigFeatures, bigChannel, bigHeight, bigWidth) = Spec.Transposed
                ? ("in", M("InFeatures"), "ic", M("InHeight"), M("InWidth"), "d", M("OutFeatures"), "oc", M("OutHeight"), M("OutWidth"))
                : ("d", M("OutFeatures"), "oc", M("OutHeight"), M("OutWidth"), "in", M("InFeatures"), "ic", M("InHeight"), M("InWidth"));
            return $@"int kx = (int)(gid % {M("Kernel")}), ky = (int)(gid / {M("Kernel")} % {M("Kernel")});
int second = (int)(gid / ({M("Kernel")} * {M("Kernel")}) % {second});
int first_index = (int)(gid / ({M("Kernel")} * {M("Kernel")} * {second}));
int oc = {(Spec.Transposed ? "second" : "first_index")}, ic = {(Spec.Transposed ? "first_index" : "second")};
/* small positions sy with 0 <= sy s - p + ky < big height, and likewise for sx */
int sy0 = ({M("Padding")} - ky + {M("Stride")} - 1) / {M("Stride")}, sx0 = ({M("Padding")} - kx + {M("Stride")} - 1) / {M("Stride")};
if (sy0 < 0) sy0 = 0;
if (sx0 < 0) sx0 = 0;
int sy1 = {bigHeight} - 1 + {M("Padding")} - ky < 0 ? 0 : ({bigHeight} - 1 + {M("Padding")} - ky) / {M("Stride")} + 1;
int sx1 = {bigWidth} - 1 + {M("Padding")} - kx < 0 ? 0 : ({bigWidth} - 1 + {M("Padding")} - kx) / {M("Stride")} + 1;
if (sy1 > {smallHeight}) sy1 = {smallHeight};
if (sx1 > {smallWidth}) sx1 = {smallWidth};
float sum = 0.0f;
for (int r = 0; r < rows; r++)
{{
    VAE_GLOBAL const float* s_plane = {small} + (vae_i64)r * {smallFeatures} + {smallChannel} * {smallHeight} * {smallWidth};
    VAE_GLOBAL const float* b_plane = {big} + (vae_i64)r * {bigFeatures} + {bigChannel} * {bigHeight} * {bigWidth};
    for (int sy = sy0; sy < sy1; sy++)
    {{
        VAE_GLOBAL const float* s_row = s_plane + sy * {smallWidth};
        VAE_GLOBAL const float* b_row = b_plane + (sy * {M("Stride")} - {M("Padding")} + ky) * {bigWidth} - {M("Padding")} + kx;
        for (int sx = sx0; sx < sx1; sx++) sum += s_row[sx] * b_row[sx * {M("Stride")}];
    }}
}}
grads[{M("Weight")} + gid] = sum;";
        }

        private string WeightIndex(string oc, string ic, string ky, string kx) => Spec.Transposed
            ? $"(({ic} * {M("OutChannels")} + {oc}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}"
            : $"(({oc} * {M("InChannels")} + {ic}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}";

        private string KernelName(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
