using System.Collections.Generic;
using System.Globalization;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

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

        /// <summary>
        /// Register tile of the device GEMMs: each work item computes <see cref="TileRows"/> x <see cref="TileColumns"/>
        /// outputs, so every value it loads feeds several multiply-adds (one per output would load two floats per
        /// multiply-add). Each output still adds its products in the order k = 0, 1, ..., as one output per work item did.
        /// </summary>
        public const int TileRows = 4, TileColumns = 4;

        /// <summary>
        /// Clamped row offsets (so the ragged last tile reads valid memory and only its real outputs are written) and
        /// the accumulators of one tile; <paramref name="init"/> gives an accumulator's first value for column j.
        /// </summary>
        private static string TileStart(string rowVar, string rowLimit, string rowStride, string colVar, string colLimit, string colBase, string colStride, string init) => $@"vae_i64 ro[{Int(TileRows)}];
vae_i64 co[{Int(TileColumns)}];
float acc[{Int(TileRows)}][{Int(TileColumns)}];
for (int t = 0; t < {Int(TileRows)}; t++) ro[t] = (vae_i64)({rowVar} + t < {rowLimit} ? {rowVar} + t : {rowLimit} - 1) * {rowStride};
for (int u = 0; u < {Int(TileColumns)}; u++) co[u] = {colBase} + (vae_i64)({colVar} + u < {colLimit} ? {colVar} + u : {colLimit} - 1) * {colStride};
for (int t = 0; t < {Int(TileRows)}; t++)
    for (int u = 0; u < {Int(TileColumns)}; u++) acc[t][u] = {init};";

        private static string TileInner(string a, string aIndex, string b, string bIndex) => $@"    float av[{Int(TileRows)}], bv[{Int(TileColumns)}];
    for (int t = 0; t < {Int(TileRows)}; t++) av[t] = {a}[ro[t] + {aIndex}];
    for (int u = 0; u < {Int(TileColumns)}; u++) bv[u] = {b}[co[u] + {bIndex}];
    for (int t = 0; t < {Int(TileRows)}; t++)
        for (int u = 0; u < {Int(TileColumns)}; u++) acc[t][u] += av[t] * bv[u];";

        private static string Blocks(string extent, int tile) => $"(({extent} + {Int(tile - 1)}) / {Int(tile)})";

        /// <summary>The device forward: a <see cref="TileRows"/> x <see cref="TileColumns"/> tile of outputs per work item.</summary>
        public Launch ForwardLaunch() => new Launch(
            Kernel(Kernel("forward"), $"{Name}: {Shapes}, {Activation.Name}; a {Int(TileRows)} x {Int(TileColumns)} tile of (row, output) per work item.", $@"int o0 = (int)(gid % {Blocks(M("OutFeatures"), TileColumns)}) * {Int(TileColumns)};
int r0 = (int)(gid / {Blocks(M("OutFeatures"), TileColumns)}) * {Int(TileRows)};
{TileStart("r0", "rows", M("InFeatures"), "o0", M("OutFeatures"), M("Weight"), M("InFeatures"), $"params[{M("Bias")} + (o0 + u < {M("OutFeatures")} ? o0 + u : 0)]")}
for (int k = 0; k < {M("InFeatures")}; k++)
{{
{TileInner("in", "k", "params", "k")}
}}
for (int t = 0; t < {Int(TileRows)} && r0 + t < rows; t++)
    for (int u = 0; u < {Int(TileColumns)} && o0 + u < {M("OutFeatures")}; u++)
    {{
        vae_i64 at = (vae_i64)(r0 + t) * {M("OutFeatures")} + o0 + u;
        pre[at] = acc[t][u];
        out[at] = {Activation.DeviceFunction}(acc[t][u]);
    }}",
                Reads("params"), Reads("in"), Writes("pre"), Writes("out"), IntParameter("rows")),
            Rows, Blocks(OutFeatures, TileColumns),
            new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Rows(Rows) }),
            TileRows);

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
            device.Add(Launch(Kernel(Kernel("weight_grad"), $"{Name} backward: dW[{Int(Out)}, {Int(In)}] = d^T in, summed over rows; a {Int(TileRows)} x {Int(TileColumns)} tile of (output, input) per work item.", $@"int i0 = (int)(gid % {Blocks(M("InFeatures"), TileColumns)}) * {Int(TileColumns)};
int o0 = (int)(gid / {Blocks(M("InFeatures"), TileColumns)}) * {Int(TileRows)};
{TileStart("o0", M("OutFeatures"), "1", "i0", M("InFeatures"), "0", "1", "0.0f")}
for (int r = 0; r < rows; r++)
{{
{TileInner("d", $"(vae_i64)r * {M("OutFeatures")}", "in", $"(vae_i64)r * {M("InFeatures")}")}
}}
for (int t = 0; t < {Int(TileRows)} && o0 + t < {M("OutFeatures")}; t++)
    for (int u = 0; u < {Int(TileColumns)} && i0 + u < {M("InFeatures")}; u++)
        grads[{M("Weight")} + (vae_i64)(o0 + t) * {M("InFeatures")} + i0 + u] = acc[t][u];", Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{Blocks(OutFeatures, TileRows)} * {Blocks(InFeatures, TileColumns)}", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows)));
            device.Add(Launch(Kernel(Kernel("bias_grad"), $"{Name} backward: db[{Int(Out)}] = d summed over rows.", $@"float sum = 0.0f;
for (int r = 0; r < rows; r++) sum += d[(vae_i64)r * {M("OutFeatures")} + gid];
grads[{M("Bias")} + gid] = sum;", Writes("grads"), Reads("d"), IntParameter("rows")),
                null, OutFeatures, Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Rows(Rows)));
            if (!first)
            {
                device.Add(new Launch(Kernel(Kernel("input_grad"), $"{Name} backward: d_in[rows, {Int(In)}] = d W; a {Int(TileRows)} x {Int(TileColumns)} tile of (row, input) per work item.", $@"int i0 = (int)(gid % {Blocks(M("InFeatures"), TileColumns)}) * {Int(TileColumns)};
int r0 = (int)(gid / {Blocks(M("InFeatures"), TileColumns)}) * {Int(TileRows)};
{TileStart("r0", "rows", M("OutFeatures"), "i0", M("InFeatures"), M("Weight"), "1", "0.0f")}
for (int o = 0; o < {M("OutFeatures")}; o++)
{{
{TileInner("d", "o", "params", $"(vae_i64)o * {M("InFeatures")}")}
}}
for (int t = 0; t < {Int(TileRows)} && r0 + t < rows; t++)
    for (int u = 0; u < {Int(TileColumns)} && i0 + u < {M("InFeatures")}; u++)
        d_in[(vae_i64)(r0 + t) * {M("InFeatures")} + i0 + u] = acc[t][u];", Reads("params"), Reads("d"), Writes("d_in"), IntParameter("rows")),
                    Rows, Blocks(InFeatures, TileColumns),
                    new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(d), Arg.Buffer(flow.Other), Arg.Rows(Rows) }),
                    TileRows));
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
