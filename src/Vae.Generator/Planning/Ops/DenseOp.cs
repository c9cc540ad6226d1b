using System.Collections.Generic;
using System.Globalization;
using System.Linq;
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
        /// Register tiles of the device GEMMs. dW and dx, whose second operand is contiguous along the output's
        /// columns, give a work item a strip of <see cref="StripRows"/> x <see cref="StripColumns"/> outputs held in
        /// <c>vae_f8</c> vectors; the forward, where both operands are contiguous along k, gives it a
        /// <see cref="TileRows"/> x <see cref="TileOutputs"/> tile of dot products accumulated <see cref="Lanes"/> lanes
        /// at a time along k. Every loaded value feeds several multiply-adds, and the inner loop runs on vector
        /// registers even where the device runs a kernel's loops one work item at a time (PoCL on a CPU). dW and dx add
        /// each output's products in the order of one output per work item; the forward adds eight partial sums,
        /// pairwise, then the ragged tail of k.
        /// </summary>
        public const int TileRows = 4, TileOutputs = 4, Lanes = 8;



        /// <summary>
        /// The device forward: a <see cref="TileRows"/> x <see cref="TileOutputs"/> tile of (row, output) per work item.
        /// The tile is written out statement by statement, accumulators as named variables: PoCL does not unroll the
        /// loops of a small array into registers, and then each multiply-add goes through memory.
        /// </summary>
        public Launch ForwardLaunch()
        {
            string inF = M("InFeatures"), outF = M("OutFeatures");
            var pairs = Enumerable.Range(0, TileRows).SelectMany(t => Enumerable.Range(0, TileOutputs).Select(u => (T: Int(t), U: Int(u)))).ToList();
            string body = $@"int o0 = (int)(gid % {Blocks(outF, TileOutputs)}) * {Int(TileOutputs)};
int r0 = (int)(gid / {Blocks(outF, TileOutputs)}) * {Int(TileRows)};
/* The ragged last tile reads the last valid row or output again and writes only its real ones. */
{Each(TileRows, $"VAE_GLOBAL const float* x{{t}} = in + (vae_i64)(r0 + {{t}} < rows ? r0 + {{t}} : rows - 1) * {inF};")}
{Each(TileOutputs, $"VAE_GLOBAL const float* w{{t}} = params + {M("Weight")} + (vae_i64)(o0 + {{t}} < {outF} ? o0 + {{t}} : {outF} - 1) * {inF};")}
{Each(TileRows, "vae_f8 " + Each(TileOutputs, "a{r}_{t} = vae_zero8()", ", ").Replace("{r}", "{t}") + ";")}
int k = 0;
for (; k + {Int(Lanes)} <= {inF}; k += {Int(Lanes)})
{{
    vae_f8 {Each(TileRows, "xv{t} = vae_load8(x{t} + k)", ", ")};
    vae_f8 {Each(TileOutputs, "wv{t} = vae_load8(w{t} + k)", ", ")};
{string.Join("\n", Enumerable.Range(0, TileRows).Select(t => "    " + Each(TileOutputs, $"a{Int(t)}_{{t}} = vae_madd8(xv{Int(t)}, wv{{t}}, a{Int(t)}_{{t}});", " ")))}
}}
/* Bias, the eight partial sums, then the k left over by the vectors. */
{string.Join("\n", pairs.Select(p => $"if (r0 + {p.T} < rows && o0 + {p.U} < {outF}) {{ float s = vae_dot_tail(params[{M("Bias")} + o0 + {p.U}] + vae_hsum8(a{p.T}_{p.U}), x{p.T}, w{p.U}, k, {inF}); vae_i64 at = (vae_i64)(r0 + {p.T}) * {outF} + o0 + {p.U}; pre[at] = s; out[at] = {Activation.DeviceFunction}(s); }}"))}";
            string groups = WorkGroupGemm.Body("rows", outF, inF, new WorkGroupGemm.Operand("in", inF, "1"), new WorkGroupGemm.Operand($"params + {M("Weight")}", inF, "1"),
                $"float s = params[{M("Bias")} + j] + c[at]; vae_i64 o = (vae_i64)i * {outF} + j; pre[o] = s; out[o] = {Activation.DeviceFunction}(s);");
            return new Launch(
                Kernel(Kernel("forward"), $"{Name}: {Shapes}, {Activation.Name}; {PerWorkItem($"a {Int(TileRows)} x {Int(TileOutputs)} tile of (row, output), k {Int(Lanes)} lanes at a time")}.",
                    WorkGroupGemm.PerDeviceKind(groups, body),
                    Reads("params"), Reads("in"), Writes("pre"), Writes("out"), IntParameter("rows")),
                Rows, Blocks(OutFeatures, TileOutputs),
                new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Rows(Rows) }),
                TileRows, new WorkGroupLaunch(WorkGroupGemm.Block, $"{WorkGroupGemm.Blocks(OutFeatures)} * {Int(WorkGroupGemm.GroupSize)}"));
        }

        /// <summary>Rows and columns of the dW and dx strips: <see cref="StripColumns"/> is two <see cref="Lanes"/>-wide vectors.</summary>
        public const int StripRows = 8, StripColumns = 16;

        /// <summary>
        /// C[t][c0 .. c0 + <see cref="StripColumns"/>) = sum over s of A(t, s) B[s][same columns] for the work item's
        /// <see cref="StripRows"/> rows t: per s, two vector loads of B's strip and one broadcast of A per row, written
        /// out statement by statement (see <see cref="ForwardLaunch"/>), while the whole strip fits; one column at a
        /// time at the ragged right edge. The sum over s runs in order, as one output per work item did.
        /// </summary>
        private static string RowStrip(string depth, string aIndex, string bRow, string width, string store) => $@"if (c0 + {Int(StripColumns)} <= {width})
{{
{Each(StripRows, "    vae_f8 c{t}_0 = vae_zero8(), c{t}_1 = vae_zero8();")}
    for (int s = 0; s < {depth}; s++)
    {{
        VAE_GLOBAL const float* b = {bRow} + c0;
        vae_f8 b0 = vae_load8(b), b1 = vae_load8(b + {Int(Lanes)});
        float a;
{Each(StripRows, $"        a = {aIndex.Replace("[t]", "[{t}]")}; c{{t}}_0 = vae_madd8(a, b0, c{{t}}_0); c{{t}}_1 = vae_madd8(a, b1, c{{t}}_1);")}
    }}
{Each(StripRows, $"    if ({{t}} < live) {{ vae_store8(c{{t}}_0, {store.Replace("(o0 + t)", "(o0 + {t})").Replace("(r0 + t)", "(r0 + {t})")}); vae_store8(c{{t}}_1, {store.Replace("(o0 + t)", "(o0 + {t})").Replace("(r0 + t)", "(r0 + {t})")} + {Int(Lanes)}); }}")}
}}
else
{{
    for (int t = 0; t < {Int(StripRows)} && t < live; t++)
        for (int c = c0; c < {width}; c++)
        {{
            float sum = 0.0f;
            for (int s = 0; s < {depth}; s++) sum += {aIndex} * ({bRow})[c];
            ({store})[c - c0] = sum;
        }}
}}";

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            string d = flow.Current;
            var device = new List<Launch>();
            if (!Activation.IsIdentity)
            {
                device.Add(ActivationDerivative(Kernel("delta"), $"{Name} backward: d[rows, {Int(Out)}] *= the {Activation.Name} derivative, in place.",
                    Activation, Rows, OutFeatures, d, Pre, Output));
            }
            string weightGroups = WorkGroupGemm.Body(M("OutFeatures"), M("InFeatures"), "rows",
                new WorkGroupGemm.Operand("d", "1", M("OutFeatures")), new WorkGroupGemm.Operand("in", "1", M("InFeatures")),
                $"grads[{M("Weight")} + (vae_i64)i * {M("InFeatures")} + j] = c[at];",
                $@"/* db[o] = d summed over rows, by the first column block's work-groups. */
if (n0 == 0 && lid < {Int(WorkGroupGemm.Block)} && m0 + lid < {M("OutFeatures")})
{{
    float sum = 0.0f;
    for (int r = 0; r < rows; r++) sum += d[(vae_i64)r * {M("OutFeatures")} + m0 + lid];
    grads[{M("Bias")} + m0 + lid] = sum;
}}");
            device.Add(new Launch(Kernel(Kernel("weight_grad"), $"{Name} backward: dW[{Int(Out)}, {Int(In)}] = d^T in and db[{Int(Out)}] = d, summed over rows; {PerWorkItem($"{Int(StripRows)} outputs x {Int(StripColumns)} inputs")}.", WorkGroupGemm.PerDeviceKind(weightGroups, $@"int c0 = (int)(gid % {Blocks(M("InFeatures"), StripColumns)}) * {Int(StripColumns)};
int o0 = (int)(gid / {Blocks(M("InFeatures"), StripColumns)}) * {Int(StripRows)};
int live = {M("OutFeatures")} - o0;
int oc[{Int(StripRows)}];
for (int t = 0; t < {Int(StripRows)}; t++) oc[t] = t < live ? o0 + t : {M("OutFeatures")} - 1;
{RowStrip("rows", $"d[(vae_i64)s * {M("OutFeatures")} + oc[t]]", $"in + (vae_i64)s * {M("InFeatures")}", M("InFeatures"), $"grads + {M("Weight")} + (vae_i64)(o0 + t) * {M("InFeatures")} + c0")}
/* db[o] = d summed over rows, by the work items of the first column strip (one launch fewer per layer). */
if (c0 == 0)
    for (int t = 0; t < {Int(StripRows)} && t < live; t++)
    {{
        float sum = 0.0f;
        for (int r = 0; r < rows; r++) sum += d[(vae_i64)r * {M("OutFeatures")} + o0 + t];
        grads[{M("Bias")} + o0 + t] = sum;
    }}"), Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{Blocks(OutFeatures, StripRows)} * {Blocks(InFeatures, StripColumns)}",
                new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows) }),
                WorkGroups: new WorkGroupLaunch(0, $"{WorkGroupGemm.Blocks(OutFeatures)} * {WorkGroupGemm.Blocks(InFeatures)} * {Int(WorkGroupGemm.GroupSize)}")));
            if (!first)
            {
                string inputGroups = WorkGroupGemm.Body("rows", M("InFeatures"), M("OutFeatures"),
                    new WorkGroupGemm.Operand("d", M("OutFeatures"), "1"), new WorkGroupGemm.Operand($"params + {M("Weight")}", "1", M("InFeatures")),
                    $"d_in[(vae_i64)i * {M("InFeatures")} + j] = c[at];");
                device.Add(new Launch(Kernel(Kernel("input_grad"), $"{Name} backward: d_in[rows, {Int(In)}] = d W; {PerWorkItem($"{Int(StripRows)} rows x {Int(StripColumns)} inputs")}.", WorkGroupGemm.PerDeviceKind(inputGroups, $@"int c0 = (int)(gid % {Blocks(M("InFeatures"), StripColumns)}) * {Int(StripColumns)};
int r0 = (int)(gid / {Blocks(M("InFeatures"), StripColumns)}) * {Int(StripRows)};
int live = rows - r0;
vae_i64 rc[{Int(StripRows)}];
for (int t = 0; t < {Int(StripRows)}; t++) rc[t] = (vae_i64)(t < live ? r0 + t : rows - 1) * {M("OutFeatures")};
{RowStrip(M("OutFeatures"), "d[rc[t] + s]", $"params + {M("Weight")} + (vae_i64)s * {M("InFeatures")}", M("InFeatures"), $"d_in + (vae_i64)(r0 + t) * {M("InFeatures")} + c0")}"), Reads("params"), Reads("d"), Writes("d_in"), IntParameter("rows")),
                    Rows, Blocks(InFeatures, StripColumns),
                    new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(d), Arg.Buffer(flow.Other), Arg.Rows(Rows) }),
                    StripRows, new WorkGroupLaunch(WorkGroupGemm.Block, $"{WorkGroupGemm.Blocks(InFeatures)} * {Int(WorkGroupGemm.GroupSize)}")));
            }
            var step = Step($"{Name} backward: d{Activation.Name}, dW, db" + (first ? "" : ", dx"),
                Cpu($"global::Vae.Kernels.Cpu.Linear.Backward<{Activation.CpuType}>", Arg.Value("threads"), Arg.Rows(Rows),
                    Arg.Constant(InFeatures), Arg.Constant(OutFeatures), Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Buffer(Input),
                    Arg.Parameters(Weight), Arg.Gradients(Weight), Arg.Gradients(Bias), first ? Arg.None() : Arg.Buffer(flow.Other), Arg.Buffer(d)),
                device.ToArray());
            if (!first) flow.Swap();
            return new[] { step };
        }

        /// <summary>What a work item computes in each variant, for a kernel's comment.</summary>
        private static string PerWorkItem(string registerTile) =>
            $"per work item {registerTile} on a CPU device, or a {Int(WorkGroupGemm.Tile)} x {Int(WorkGroupGemm.Tile)} tile of a work-group's {Int(WorkGroupGemm.Block)} x {Int(WorkGroupGemm.Block)} block staged in local memory on a GPU";

        private string Kernel(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
