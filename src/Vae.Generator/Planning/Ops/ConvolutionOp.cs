using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;
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
                MapLaunch(forward: true, Arg.Buffer(Input), new[] { Arg.Buffer(Pre), Arg.Buffer(Output) }));
        }

        /// <summary>
        /// The forward with the BatchNorm after it in evaluation mode (running statistics) and its activation in the
        /// epilogue, writing the BatchNorm's buffers: the programs other than Train, where the statistics are known
        /// before the convolution runs (training mode needs the whole output's statistics first).
        /// </summary>
        public Step NormalizedForwardStep(BatchNormOp norm)
        {
            var args = new List<Arg> { Arg.Value("threads"), Arg.Rows(Rows) };
            args.AddRange(Geometry());
            args.AddRange(new[]
            {
                Arg.Constant(BatchNormOp.Epsilon), Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Parameters(Bias), Arg.Parameters(norm.Weight),
                Arg.Parameters(norm.Bias), Arg.Parameters(norm.RunningMean), Arg.Parameters(norm.RunningVar), Arg.Buffer(norm.Pre), Arg.Buffer(norm.Output),
            });
            string method = "global::Vae.Kernels.Cpu.Convolution." + (Spec.Transposed ? "TransposedNormalizedForward" : "NormalizedForward") + $"<{norm.Activation.CpuType}>";
            return Step($"{Name} and {norm.Name} (evaluation): {Shapes}, running statistics, {norm.Activation.Name} after", Cpu(method, args.ToArray()),
                MapLaunch(forward: true, Arg.Buffer(Input), new[] { Arg.Buffer(norm.Pre), Arg.Buffer(norm.Output) }, norm));
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
            // The weight gradient sums small-side values times the big-side values their tap reads (see WeightGradientLaunch).
            device.Add(WeightGradientLaunch(d));
            device.Add(Launch(Kernel(KernelName("bias_grad"), $"{Name} backward: db[{Spec.Out.Channels}] = d summed over rows and positions.", $@"float sum = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("OutHeight")} * {M("OutWidth")}; i++) sum += d[(vae_i64)r * {M("OutFeatures")} + gid * {M("OutHeight")} * {M("OutWidth")} + i];
grads[{M("Bias")} + gid] = sum;", Writes("grads"), Reads("d"), IntParameter("rows")),
                null, Prefix + "OutChannels", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Rows(Rows)));
            if (!first)
            {
                device.Add(MapLaunch(forward: false, Arg.Buffer(d), new[] { Arg.Buffer(flow.Other) }));
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

        /// <summary>Positions of a tile along x: one per lane of a <c>vae_f8</c>.</summary>
        public const int Lanes = 8;

        /// <summary>
        /// Most destination channels in a tile of the forward and input-gradient kernels (one <c>vae_f8</c> accumulator
        /// each), and most small-side x big-side channels in a block of the weight gradient's.
        /// </summary>
        public const int TileChannels = 8, GradientSmall = 4, GradientBig = 4;

        /// <summary>
        /// The channels of a tile when <paramref name="channels"/> are cut into as few blocks of at most
        /// <paramref name="most"/> as possible, as evenly as they go (33 channels: five blocks of seven; one channel: one).
        /// </summary>
        private static int TileOf(int channels, int most)
        {
            int blocks = (channels + most - 1) / most;
            return (channels + blocks - 1) / blocks;
        }

        private static string Channels(int count, string kind = "") => $"{Int(count)} {kind}channel{(count == 1 ? "" : "s")}";



        /// <summary>An expression over this op's constants, as the launcher's C# writes it, in C with their macros.</summary>
        private string C(string expression) => Regex.Replace(expression, $@"\b{Prefix}[A-Z]\w*", m => Macro(m.Value));

        /// <summary>
        /// The forward pass (in to out, then bias and activation) or the input gradient (d to d_in): both carry a source
        /// image to a destination image through the weights, directly (source x = x s - p + k: Conv2d's forward,
        /// ConvTranspose2d's input gradient) or inversely (x = source x s - p + k: the other two, a gather that visits only
        /// the taps k = (x + p) mod s, ... for which the division is exact). A work item computes a tile of one row and one
        /// destination y: up to <see cref="TileChannels"/> destination channels x <see cref="Lanes"/> positions in x,
        /// one <c>vae_f8</c> accumulator per channel. Inversely the tile's positions are x = rho + s (x0 + j), one residue
        /// rho mod s, so that they share their taps and read consecutive source values. Per tap and source channel it
        /// loads the eight source values once (zero outside the image) and feeds them to every channel of the tile, each
        /// weight to all eight positions. Sums run over taps, then source channels, in order; the bias comes last.
        /// </summary>
        /// <remarks>With <paramref name="norm"/>, the forward's epilogue is that BatchNorm in evaluation mode and its activation.</remarks>
        private Launch MapLaunch(bool forward, Arg source, Arg[] outputs, BatchNormOp? norm = null)
        {
            string dst = forward ? "Out" : "In", src = forward ? "In" : "Out";
            bool inverse = forward == Spec.Transposed;
            int tc = TileOf(forward ? Spec.Out.Channels : Spec.In.Channels, TileChannels);
            string P(string what) => Prefix + what;
            string ocStride = Spec.Transposed ? $"{P("Kernel")} * {P("Kernel")}" : $"{P("InChannels")} * {P("Kernel")} * {P("Kernel")}";
            string icStride = Spec.Transposed ? $"{P("OutChannels")} * {P("Kernel")} * {P("Kernel")}" : $"{P("Kernel")} * {P("Kernel")}";
            string dstStride = forward ? ocStride : icStride, srcStride = forward ? icStride : ocStride;
            string quads = inverse ? Blocks($"({P(dst + "Width")} + {P("Stride")} - 1) / {P("Stride")}", Lanes) : Blocks(P(dst + "Width"), Lanes);
            string xTiles = inverse ? $"({P("Stride")} * {quads})" : quads;
            string channelBlocks = Blocks(P(dst + "Channels"), tc);
            string dc = M(dst + "Channels"), dh = M(dst + "Height"), dw = M(dst + "Width");
            string sw = M(src + "Width"), k = M("Kernel"), s = M("Stride"), p = M("Padding");
            string inner(string stride) => $@"for (int sc = 0; sc < {M(src + "Channels")}; sc++)
{{
    vae_f8 v = vae_gather8(image, (sc * {M(src + "Height")} + sy) * {sw} + c, {stride}, lo, hi);
    int at = ky * {k} + kx + sc * ({C(srcStride)});
    {Each(tc, "a{t} = vae_madd8(w{t}[at], v, a{t});", " ")}
}}".Replace("\n", "\n    ");
            string xLoop = inverse
                ? $@"for (int kx = (rho + {p}) % {s}; kx < {k}; kx += {s})
{{
    /* lane j reads source x c + j */
    int c = (rho + {p} - kx) / {s} + x0;
    int lo = c < 0 ? -c : 0, hi = {sw} - c < {Lanes} ? {sw} - c : {Lanes};
    if (lo >= hi) continue;
    {inner("1")}
}}"
                : $@"for (int kx = 0; kx < {k}; kx++)
{{
    /* lane j reads source x c + j s */
    int c = x0 * {s} - {p} + kx;
    int lo = c < 0 ? ({s} - 1 - c) / {s} : 0, hi = c < {sw} ? ({sw} - c + {s} - 1) / {s} : 0;
    if (hi > {Lanes}) hi = {Lanes};
    if (lo >= hi) continue;
    {inner(s)}
}}";
            string step = inverse ? $"j * {s}" : "j";
            // The BatchNorm's running statistics in the operations of its own evaluation kernel, so each value is the unfused one's.
            string N(string constant) => Macro(constant) + " + c0 + {t}";
            string store = !forward ? $"for (int j = 0; j < live; j++) d_in[at + {step}] = lane[j];"
                : norm is null
                ? $"float b = params[{M("Bias")} + c0 + {{t}}]; for (int j = 0; j < live; j++) {{ float v = lane[j] + b; pre[at + {step}] = v; out[at + {step}] = {Activation.DeviceFunction}(v); }}"
                : $"float b = params[{M("Bias")} + c0 + {{t}}], nw = params[{N(norm.Weight)}], nb = params[{N(norm.Bias)}], nm = params[{N(norm.RunningMean)}], " +
                  $"nd = VAE_SQRT(params[{N(norm.RunningVar)}] + {Macro(BatchNormOp.Epsilon)}); " +
                  $"for (int j = 0; j < live; j++) {{ float y = nw * ((lane[j] + b - nm) / nd) + nb; pre[at + {step}] = y; out[at + {step}] = {norm.Activation.DeviceFunction}(y); }}";
            string image = forward ? "in" : "d";
            string body = $@"/* Work item: (row, block of {Channels(tc)}, y, x tile); lane j of the tile is x = {(inverse ? "rho + s (x0 + j)" : "x0 + j")}. */
int xt = (int)(gid % {C(xTiles)});
vae_i64 rest = gid / {C(xTiles)};
int y = (int)(rest % {dh});
rest /= {dh};
int c0 = (int)(rest % {C(channelBlocks)}){(tc > 1 ? " * " + Int(tc) : "")};
vae_i64 r = rest / {C(channelBlocks)};
{(inverse ? $"int rho = xt / {C(quads)}, x0 = xt % {C(quads)} * {Lanes};" : $"int x0 = xt * {Lanes};")}
VAE_GLOBAL const float* image = {image} + r * {M(src + "Features")};
/* The ragged last channel block reads the last channel's weights again and writes only its real channels. */
{Each(tc, $"VAE_GLOBAL const float* w{{t}} = params + {M("Weight")} + (c0 + {{t}} < {dc} ? c0 + {{t}} : {dc} - 1) * ({C(dstStride)});")}
vae_f8 {Each(tc, "a{t} = vae_zero8()", ", ")};
{TapLoop("y", "ky", "sy", src + "Height", inverse, xLoop)}
/* {(forward ? "Bias and activation" : "The sums")} lane by lane, for the channels and positions inside the image. */
int live = {(inverse ? $"({dw} - rho + {s} - 1) / {s} - x0" : $"{dw} - x0")};
if (live > {Lanes}) live = {Lanes};
vae_i64 at0 = r * {M(dst + "Features")} + (vae_i64)y * {dw} + {(inverse ? $"rho + {s} * x0" : "x0")};
float lane[{Lanes}];
{Each(tc, $"if (c0 + {{t}} < {dc}) {{ vae_i64 at = at0 + (vae_i64)(c0 + {{t}}) * ({dh} * {dw}); vae_store8(a{{t}}, lane); {store} }}")}";
            string tile = $"a tile of {Channels(tc, forward ? "output " : "input ")} x {Lanes} {(inverse && Spec.Stride > 1 ? "x positions of one residue mod the stride" : "consecutive x positions")} per work item";
            var kernel = forward && norm is not null
                ? Kernel(KernelName("forward_normalized"), $"{Name} and {norm.Name} (evaluation): {Shapes}, running statistics, {norm.Activation.Name} after; {tile}, visiting only the taps that reach it.", body,
                    Reads("params"), Reads("in"), Writes("pre"), Writes("out"))
                : forward
                ? Kernel(KernelName("forward"), $"{Name}: {Shapes}, {Activation.Name}; {tile}, visiting only the taps that reach it.", body,
                    Reads("params"), Reads("in"), Writes("pre"), Writes("out"))
                : Kernel(KernelName("input_grad"), $"{Name} backward: d_in = the transpose of the forward map applied to d; {tile}, visiting only the taps that read it.", body,
                    Reads("params"), Reads("d"), Writes("d_in"));
            var args = new List<Arg> { Arg.Buffer(Planner.ParametersBuffer), source };
            args.AddRange(outputs);
            return Launch(kernel, Rows, $"{channelBlocks} * {P(dst + "Height")} * {xTiles}", args.ToArray());
        }

        /// <summary>
        /// The weight gradient: for each weight (tap ky, kx between a small-side and a big-side channel), the sum over rows
        /// of small[sy, sx] big[sy s - p + ky, sx s - p + kx], over the small positions whose tap lands inside the big
        /// image. Seen from the Conv2d side, small is d and big the input; for ConvTranspose2d, small is the input and big
        /// is d, so both kinds run the direct relation with bounds computed once per work item. A work item computes one
        /// tap for a block of up to <see cref="GradientSmall"/> x <see cref="GradientBig"/> channel pairs, eight small x
        /// positions at a time: each loaded vector feeds every pair it belongs to. The sum runs over rows, y and x in
        /// order, each lane a partial sum, and the eight lanes are added pairwise at the end: a fixed order, no atomics.
        /// </summary>
        private Launch WeightGradientLaunch(string d)
        {
            bool t = Spec.Transposed;
            string small = t ? "in" : "d", big = t ? "d" : "in";
            string smallIo = t ? "In" : "Out", bigIo = t ? "Out" : "In";
            int ts = TileOf(t ? Spec.In.Channels : Spec.Out.Channels, GradientSmall), tb = TileOf(t ? Spec.Out.Channels : Spec.In.Channels, GradientBig);
            string smallBlocks = Blocks(Prefix + smallIo + "Channels", ts), bigBlocks = Blocks(Prefix + bigIo + "Channels", tb);
            string k = M("Kernel"), s = M("Stride"), p = M("Padding");
            string sc = M(smallIo + "Channels"), sh = M(smallIo + "Height"), sw = M(smallIo + "Width");
            string bc = M(bigIo + "Channels"), bh = M(bigIo + "Height"), bw = M(bigIo + "Width");
            var pairs = Enumerable.Range(0, ts).SelectMany(i => Enumerable.Range(0, tb).Select(u => (I: Int(i), U: Int(u)))).ToList();
            string body = $@"/* Work item: tap (ky, kx) for {Channels(ts, t ? "input " : "output ")} x {Channels(tb, t ? "output " : "input ")}. */
int kx = (int)(gid % {k}), ky = (int)(gid / {k} % {k});
vae_i64 rest = gid / ({k} * {k});
int b0 = (int)(rest % {C(bigBlocks)}){(tb > 1 ? " * " + Int(tb) : "")};
int s0 = (int)(rest / {C(bigBlocks)}){(ts > 1 ? " * " + Int(ts) : "")};
/* small positions sy with 0 <= sy s - p + ky < big height, and likewise for sx */
int sy0 = ({p} - ky + {s} - 1) / {s}, sx0 = ({p} - kx + {s} - 1) / {s};
if (sy0 < 0) sy0 = 0;
if (sx0 < 0) sx0 = 0;
int sy1 = {bh} - 1 + {p} - ky < 0 ? 0 : ({bh} - 1 + {p} - ky) / {s} + 1;
int sx1 = {bw} - 1 + {p} - kx < 0 ? 0 : ({bw} - 1 + {p} - kx) / {s} + 1;
if (sy1 > {sh}) sy1 = {sh};
if (sx1 > {sw}) sx1 = {sw};
/* The ragged last blocks read the last channel again and write only the real ones. */
{Each(ts, $"int sp{{t}} = (s0 + {{t}} < {sc} ? s0 + {{t}} : {sc} - 1) * {sh} * {sw};")}
{Each(tb, $"int bp{{t}} = (b0 + {{t}} < {bc} ? b0 + {{t}} : {bc} - 1) * {bh} * {bw};")}
{Each(ts, "vae_f8 " + Each(tb, "a{i}_{t} = vae_zero8()", ", ").Replace("{i}", "{t}") + ";")}
for (int r = 0; r < rows; r++)
{{
    VAE_GLOBAL const float* s_image = {small} + (vae_i64)r * {M(smallIo + "Features")};
    VAE_GLOBAL const float* b_image = {big} + (vae_i64)r * {M(bigIo + "Features")};
    for (int sy = sy0; sy < sy1; sy++)
    {{
        int s_row = sy * {sw}, b_row = (sy * {s} - {p} + ky) * {bw} - {p} + kx;
        /* lane j: small x sx + j and the big x its tap reads, (sx + j) s - p + kx */
        for (int sx = sx0; sx < sx1; sx += {Lanes})
        {{
            vae_f8 {Each(ts, "sv{t} = vae_gather8(s_image, sp{t} + s_row + sx, 1, 0, sx1 - sx)", ", ")};
            vae_f8 {Each(tb, $"bv{{t}} = vae_gather8(b_image, bp{{t}} + b_row + sx * {s}, {s}, 0, sx1 - sx)", ", ")};
{string.Join("\n", Enumerable.Range(0, ts).Select(i => "            " + Each(tb, $"a{Int(i)}_{{t}} = vae_madd8(sv{Int(i)}, bv{{t}}, a{Int(i)}_{{t}});", " ")))}
        }}
    }}
}}
{string.Join("\n", pairs.Select(q => $"if (s0 + {q.I} < {sc} && b0 + {q.U} < {bc}) grads[{M("Weight")} + {(t ? WeightIndex($"(b0 + {q.U})", $"(s0 + {q.I})", "ky", "kx") : WeightIndex($"(s0 + {q.I})", $"(b0 + {q.U})", "ky", "kx"))}] = vae_hsum8(a{q.I}_{q.U});"))}";
            return Launch(Kernel(KernelName("weight_grad"), $"{Name} backward: dW = d correlated with the input, summed over rows; one tap of {Int(ts)} x {Int(tb)} channel pairs per work item, eight x positions at a time.", body,
                    Writes("grads"), Reads("d"), Reads("in"), IntParameter("rows")),
                null, $"{Prefix}Kernel * {Prefix}Kernel * {smallBlocks} * {bigBlocks}",
                Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Rows(Rows));
        }

        private string WeightIndex(string oc, string ic, string ky, string kx) => Spec.Transposed
            ? $"(({ic} * {M("OutChannels")} + {oc}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}"
            : $"(({oc} * {M("InChannels")} + {ic}) * {M("Kernel")} + {ky}) * {M("Kernel")} + {kx}";

        private string KernelName(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
