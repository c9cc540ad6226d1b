using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The vector quantiser of a VQ-VAE (van den Oord et al. 2017) in place of the Gaussian latent: the encoder's output
    /// z_e as N = examples * CodePositions rows of CodeDimension (a convolutional map's channels per position, moved to
    /// rows first; a dense output is already rows), each replaced by its nearest code (float GEMM shortlist, exact double
    /// decision: <c>Kernels/Cpu/VectorQuantizer.cs</c>), z_q moved back to the decoder's layout in Z. Backward: the
    /// decoder's gradient copied straight through to z_e plus the commitment term, and with Decay 0 the codebook loss's
    /// gradient into the codebook. After the backward pass the codebook's maintenance: the EMA step (Decay &gt; 0) or the
    /// code histogram, the idle counters and the dead-code restarts. The first training batch initialises the codebook.
    /// </summary>
    /// <remarks>
    /// Tensors: <c>quantizer.codebook</c> [K, D] (a parameter with Decay 0, state with EMA, then with
    /// <c>quantizer.cluster_size</c> [K] and <c>quantizer.embed_sum</c> [K, D]), and the state <c>quantizer.idle</c> [K]
    /// (steps since each code was last chosen, as whole floats) and <c>quantizer.initialized</c> [1] (1 once the first
    /// batch has set the codebook), which checkpoints carry, so resumed training is the training that was interrupted.
    /// Every step has its device launches too (one work item per value, row or code, every reduction in a fixed order
    /// without atomics); the code indices and counts are int buffers on the device as in the CPU workspace.
    /// </remarks>
    internal sealed record VectorQuantizerOp(QuantizerSpec Spec, string EncoderOutput) : Op(Side.Encoder)
    {
        public const string RowsBuffer = "QuantizerInput";
        public const string QuantizedRowsBuffer = "QuantizedRows";
        public const string DistanceBuffer = "CodeDistance";
        public const string CodesBuffer = "Codes";
        public const string CountsBuffer = "CodeCounts";
        public const string LatentBuffer = GaussianLatentOp.LatentBuffer;

        private const string Codebook = "QuantizerCodebook";
        private const string ClusterSize = "QuantizerClusterSize";
        private const string EmbedSum = "QuantizerEmbedSum";
        private const string Idle = "QuantizerIdle";
        private const string Initialized = "QuantizerInitialized";
        private const string VectorQuantizer = "global::Vae.Kernels.Cpu.VectorQuantizer";

        private bool Ema => Spec.Decay > 0;

        /// <summary>The rows z_e is quantised as: a convolutional map's positions moved to rows, or the encoder's own output.</summary>
        private string ZeRows => Spec.Convolutional ? RowsBuffer : EncoderOutput;

        /// <summary>Where z_q rows go: straight into Z for a dense encoder (the same layout), else a buffer moved to channels after.</summary>
        private string ZqRows => Spec.Convolutional ? QuantizedRowsBuffer : LatentBuffer;

        public static VectorQuantizerOp Declare(LayoutBuilder layout, QuantizerSpec spec, int latent, string encoderOutput)
        {
            int k = spec.Codes, d = spec.Dimension, positions = latent / d;
            layout.IntConstant("CodeCount", k, Int(k), "codes in the codebook (K)");
            layout.IntConstant("CodeDimension", d, Int(d), "values per code (D)");
            layout.IntConstant("CodePositions", positions, "Latent / CodeDimension", spec.Convolutional
                ? "quantised positions per example: the encoder map's height times width"
                : "quantised vectors per example: the encoder's output cut into vectors of D");
            layout.IntConstant("RestartAfter", spec.RestartAfter, Int(spec.RestartAfter), "steps a code may go unchosen before it is restarted (0: never)");
            layout.Constant(DoubleConstant("Commitment", spec.Commitment, "the commitment loss's weight (beta)"));
            layout.Constant(DoubleConstant("Decay", spec.Decay, spec.Decay > 0 ? "the codebook's EMA decay (gamma)" : "0: the optimiser trains the codebook"));
            layout.Constant(DoubleConstant("QuantizerLossWeight", spec.Commitment + (spec.Decay > 0 ? 0 : 1),
                spec.Decay > 0 ? "weight of the mean squared distance in the loss: the commitment" : "weight of the mean squared distance in the loss: the commitment plus the codebook loss's 1"));

            if (spec.Decay > 0)
            {
                layout.State("quantizer.codebook", TensorInit.Zeros, Codebook, "offset of quantizer.codebook [K, D], EMA state", k, d);
                layout.State("quantizer.cluster_size", TensorInit.Zeros, ClusterSize, "offset of quantizer.cluster_size [K], EMA state", k);
                layout.State("quantizer.embed_sum", TensorInit.Zeros, EmbedSum, "offset of quantizer.embed_sum [K, D], EMA state", k, d);
            }
            else
            {
                // Uniform in +-1/K as the peer starts it (a fan-in of K^2), until the first batch replaces it.
                int offset = layout.Tensor("quantizer.codebook", TensorRole.Parameter, k * k, k, d);
                layout.IntConstant(Codebook, offset, Int(offset), "offset of quantizer.codebook [K, D], trained by the optimiser");
            }
            layout.State("quantizer.idle", TensorInit.Zeros, Idle, "offset of quantizer.idle [K]: training steps since each code was chosen", k);
            layout.State("quantizer.initialized", TensorInit.Zeros, Initialized, "offset of quantizer.initialized [1]: 1 once the first batch set the codebook", 1);

            if (spec.Convolutional)
            {
                layout.Buffer(RowsBuffer, latent, "Latent", RowSpace.Examples, BufferKind.Workspace, "z_e as rows of D, one per position");
                layout.Buffer(QuantizedRowsBuffer, latent, "Latent", RowSpace.Examples, BufferKind.Workspace, "z_q as rows of D, one per position");
            }
            layout.Buffer(LatentBuffer, latent, "Latent", RowSpace.Samples, BufferKind.Workspace, "z_q in the decoder's layout");
            layout.Buffer(DistanceBuffer, positions, "CodePositions", RowSpace.Examples, BufferKind.Workspace, "each position's squared distance to its code");
            layout.IntBuffer(CodesBuffer, positions, "CodePositions", RowSpace.Examples, "each position's code index");
            layout.IntBuffer(CountsBuffer, k, "CodeCount", RowSpace.Single, "how many positions of the batch chose each code");
            return new VectorQuantizerOp(spec, encoderOutput);
        }

        private static ConstantPlan DoubleConstant(string name, double value, string comment)
        {
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            if (!text.Contains(".") && !text.Contains("E")) text += ".0";
            return new ConstantPlan(name, Macro(name), "double", text, text, comment);
        }

        private static Arg CodebookArg => Arg.Parameters(Codebook);
        private Arg ClusterSizeArg => Ema ? Arg.Parameters(ClusterSize) : Arg.None();
        private Arg EmbedSumArg => Ema ? Arg.Parameters(EmbedSum) : Arg.None();
        private static Arg Rows => Arg.Value("quantizedRows");

        private Step ToRows(string from, string to, string what) => Step($"{what}: [examples, D, positions] -> [examples * positions, D].",
            Cpu(VectorQuantizer + ".ChannelsToRows", Arg.Value("threads"), Arg.Rows(RowSpace.Examples), Arg.Constant("CodeDimension"), Arg.Constant("CodePositions"),
                Arg.Buffer(from), Arg.Buffer(to)),
            Launch(ToRowsKernel, RowSpace.Examples, "Latent", Arg.Buffer(from), Arg.Buffer(to)));

        private Step ToChannels(string from, string to, string what) => Step($"{what}: [examples * positions, D] -> [examples, D, positions].",
            Cpu(VectorQuantizer + ".RowsToChannels", Arg.Value("threads"), Arg.Rows(RowSpace.Examples), Arg.Constant("CodeDimension"), Arg.Constant("CodePositions"),
                Arg.Buffer(from), Arg.Buffer(to)),
            Launch(ToChannelsKernel, RowSpace.Examples, "Latent", Arg.Buffer(from), Arg.Buffer(to)));

        private Step Quantize(bool distance) => Step("Nearest code of every row (float GEMM shortlist, exact double decision, ties to the lowest index), z_q = E[code]" +
                (distance ? " and each row's squared distance." : "."),
            Cpu(VectorQuantizer + ".Forward", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                Arg.Buffer(ZeRows), CodebookArg, Arg.Buffer(CodesBuffer), Arg.Buffer(ZqRows), distance ? Arg.Buffer(DistanceBuffer) : Arg.None()),
            new Launch(NearestKernel, RowSpace.Examples, "CodePositions", new EquatableArray<Arg>(new[] { Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(ZeRows),
                Arg.Buffer(CodesBuffer), Arg.Buffer(ZqRows), Arg.Buffer(DistanceBuffer), Arg.Rows(RowSpace.Examples) }), NearestRows));

        // Device kernels. Rows of z are examples * CODE_POSITIONS; the codebook and the quantiser's state are addressed in
        // the flat parameter buffer by their offset macros. Every reduction runs in one work item in a fixed order (no
        // atomics), in the CPU's order where the CPU's result depends on it.

        private static DeviceKernel ToRowsKernel => Kernel("vq_to_rows",
            "z as [examples, D, positions] -> rows [examples * positions, D]; one work item per value.", @"vae_i64 b = gid / LATENT;
int at = (int)(gid % LATENT);
dst[gid] = src[b * LATENT + (at % CODE_DIMENSION) * CODE_POSITIONS + at / CODE_DIMENSION];", Reads("src"), Writes("dst"));

        private static DeviceKernel ToChannelsKernel => Kernel("vq_to_channels",
            "rows [examples * positions, D] -> [examples, D, positions]; one work item per value.", @"vae_i64 b = gid / LATENT;
int at = (int)(gid % LATENT);
dst[gid] = src[b * LATENT + (at % CODE_POSITIONS) * CODE_DIMENSION + at / CODE_POSITIONS];", Reads("src"), Writes("dst"));

        /// <summary>
        /// The nearest code, the CPU's contract (Kernels/Cpu/VectorQuantizer.cs): float GEMM-form distances
        /// ||z||^2 - 2 z.e + ||e||^2 nominate, with the margin 2 (D + 4) u (||z|| + ||e||)^2, every code that may be
        /// nearest; the candidates' exact double distances (vae_exact_distance, ascending d, no contraction) decide in
        /// ascending code order with a strict comparison. The dot products are a GEMM of z [rows, D] and E^T [D, K] in
        /// register tiles, as the dense layers' device forward: a work item holds <see cref="NearestRows"/> rows (the same
        /// position of consecutive examples) against <see cref="NearestCodes"/> codes at a time, D eight lanes at a time,
        /// so each loaded value feeds several multiply-adds; ||e||^2 comes out of the same loads. The arg-min is fused:
        /// pass 1 takes each row's least upper bound min (g + b) over the code tiles, pass 2 recomputes the same tiles and
        /// lets the candidates (g - b &lt;= upper) decide. Nothing K-sized is stored.
        /// </summary>
        public const int NearestRows = 4, NearestCodes = 4;


        /// <summary>Lines for every (row t, code u) pair of the tile, from a template with {t} and {u}.</summary>
        private static string EachPair(string template, string indent) =>
            string.Join("\n", Enumerable.Range(0, NearestRows).SelectMany(t => Enumerable.Range(0, NearestCodes)
                .Select(u => indent + template.Replace("{t}", Int(t)).Replace("{u}", Int(u)))));

        private static DeviceKernel NearestKernel => Kernel("vq_nearest",
            $"The nearest code of rows (first .. first + {Int(NearestRows - 1)}) x CODE_POSITIONS + p of z [rows, D] in the codebook [K, D]: codes, zq = E[code], distance = the exact squared distance; " +
            $"a tile of {Int(NearestRows)} rows x {Int(NearestCodes)} codes of the GEMM z E^T at a time, fused with the arg-min.",
            $@"int p = (int)(gid % CODE_POSITIONS);
int first = (int)(gid / CODE_POSITIONS) * {Int(NearestRows)};
/* The ragged last tile repeats the last example and writes only its real rows. */
{Each(NearestRows, "vae_i64 row{t} = (vae_i64)(first + {t} < examples ? first + {t} : examples - 1) * CODE_POSITIONS + p;")}
{Each(NearestRows, "VAE_GLOBAL const float* z{t} = z + row{t} * CODE_DIMENSION;")}
VAE_GLOBAL const float* codebook = params + QUANTIZER_CODEBOOK;
{Each(NearestRows, "float zn2_{t} = vae_dot_tail(0.0f, z{t}, z{t}, 0, CODE_DIMENSION);")}
{Each(NearestRows, "float zn_{t} = VAE_SQRT(zn2_{t});")}
/* The CPU's margin factor; its absolute floor is a normal number here (a device may flush subnormals), which only widens the shortlist. */
float slack = (float)(2.0 * (CODE_DIMENSION + 4) / 16777216.0);
float floor_margin = 4.0f * (CODE_DIMENSION + 4) * 1.17549435e-38f;
/* upper: the most the nearest code's exact distance can be (a NaN never lowers it); best: the decision so far. */
{Each(NearestRows, "float upper{t} = VAE_INFINITY;")}
{Each(NearestRows, "int best{t} = -1;")}
{Each(NearestRows, "double best_distance{t} = 0.0;")}
for (int pass = 0; pass < 2; pass++)
{{
    for (int k0 = 0; k0 < CODE_COUNT; k0 += {Int(NearestCodes)})
    {{
        /* The ragged last code tile reads the last code again and skips it. */
{Each(NearestCodes, "        VAE_GLOBAL const float* e{t} = codebook + (vae_i64)(k0 + {t} < CODE_COUNT ? k0 + {t} : CODE_COUNT - 1) * CODE_DIMENSION;")}
{Each(NearestRows, "        vae_f8 " + Each(NearestCodes, "a{r}_{t} = vae_zero8()", ", ").Replace("{r}", "{t}") + ";")}
        vae_f8 {Each(NearestCodes, "n{t} = vae_zero8()", ", ")};
        int d = 0;
        for (; d + 8 <= CODE_DIMENSION; d += 8)
        {{
            vae_f8 {Each(NearestRows, "zv{t} = vae_load8(z{t} + d)", ", ")};
            vae_f8 {Each(NearestCodes, "ev{t} = vae_load8(e{t} + d)", ", ")};
{EachPair("a{t}_{u} = vae_madd8(zv{t}, ev{u}, a{t}_{u});", "            ")}
{Each(NearestCodes, "            n{t} = vae_madd8(ev{t}, ev{t}, n{t});")}
        }}
{Each(NearestCodes, "        float en2_{t} = vae_dot_tail(vae_hsum8(n{t}), e{t}, e{t}, d, CODE_DIMENSION);")}
{Each(NearestCodes, "        float en_{t} = VAE_SQRT(en2_{t});")}
{EachPair("float g{t}_{u} = zn2_{t} - 2.0f * vae_dot_tail(vae_hsum8(a{t}_{u}), z{t}, e{u}, d, CODE_DIMENSION) + en2_{u}, s{t}_{u} = zn_{t} + en_{u}, b{t}_{u} = slack * (s{t}_{u} * s{t}_{u}) + floor_margin;", "        ")}
        if (pass == 0)
        {{
{EachPair("if (k0 + {u} < CODE_COUNT && g{t}_{u} + b{t}_{u} < upper{t}) upper{t} = g{t}_{u} + b{t}_{u};", "            ")}
        }}
        else
        {{
            /* The candidates of each row, in ascending code order. */
{EachPair("if (k0 + {u} < CODE_COUNT && g{t}_{u} - b{t}_{u} <= upper{t}) { double dist = vae_exact_distance(z{t}, e{u}, CODE_DIMENSION); if (best{t} < 0 ? dist == dist : dist < best_distance{t}) { best{t} = k0 + {u}; best_distance{t} = dist; } }", "            ")}
        }}
    }}
}}
/* No finite margin (a NaN or overflowing row): the plain scan over every code, then code 0, as the CPU; then the writes. */
{Each(NearestRows, @"if (first + {t} < examples)
{
    for (int k = 0; best{t} < 0 && k < CODE_COUNT; k++)
    {
        double dist = vae_exact_distance(z{t}, codebook + (vae_i64)k * CODE_DIMENSION, CODE_DIMENSION);
        if (dist == dist) { best{t} = k; best_distance{t} = dist; }
    }
    if (best{t} < 0) { best{t} = 0; best_distance{t} = vae_exact_distance(z{t}, codebook, CODE_DIMENSION); }
    codes[row{t}] = best{t};
    for (int d = 0; d < CODE_DIMENSION; d++) zq[row{t} * CODE_DIMENSION + d] = codebook[(vae_i64)best{t} * CODE_DIMENSION + d];
    distance[row{t}] = (float)best_distance{t};
}")}", Reads("params"), Reads("z"), IntBuffer("codes"), Writes("zq"), Writes("distance"), IntParameter("examples"));

        private static DeviceKernel GatherKernel => Kernel("vq_gather",
            "zq [rows, D] = the codebook's rows at codes [rows] (the host checked every code); one work item per value.",
            "zq[gid] = params[QUANTIZER_CODEBOOK + codes[gid / CODE_DIMENSION] * CODE_DIMENSION + gid % CODE_DIMENSION];",
            Reads("params"), IntBuffer("codes"), Writes("zq"));

        /// <summary>The rows the codebook starts from: the EMA state follows the codebook (cluster size 1, embedding sum the row).</summary>
        private string SetCodeFromRow(string row) => $@"for (int d = 0; d < CODE_DIMENSION; d++)
{{
    params[QUANTIZER_CODEBOOK + k * CODE_DIMENSION + d] = z[(vae_i64){row} * CODE_DIMENSION + d];" + (Ema ? $@"
    params[QUANTIZER_EMBED_SUM + k * CODE_DIMENSION + d] = z[(vae_i64){row} * CODE_DIMENSION + d];" : "") + @"
}" + (Ema ? @"
params[QUANTIZER_CLUSTER_SIZE + k] = 1.0f;" : "");

        private DeviceKernel InitializeKernel => Kernel("vq_initialize",
            "The first training batch sets code k to the batch row the CPU's VectorQuantizer.InitialRows names: entry k mod min(K, rows) of a partial Fisher-Yates shuffle, traced back through the swaps before it, so no work item needs the whole permutation; one work item per code.",
            @"int rows = examples * CODE_POSITIONS;
if (params[QUANTIZER_INITIALIZED] != 0.0f || rows == 0) return;
int k = (int)gid;
int shuffled = rows < CODE_COUNT ? rows : CODE_COUNT;
int j = k % shuffled;
/* The entry at j is what swap j brought there from its partner; going back through swaps j-1..0 finds where that started. */
int row = j + (int)(vae_philox_wide((vae_u32)j, 0u, VAE_VQ_INITIALIZE_STREAM, seed_lo, seed_hi) % (vae_u64)(rows - j));
for (int i = j - 1; i >= 0; i--)
{
    int partner = i + (int)(vae_philox_wide((vae_u32)i, 0u, VAE_VQ_INITIALIZE_STREAM, seed_lo, seed_hi) % (vae_u64)(rows - i));
    if (row == i) row = partner;
    else if (row == partner) row = i;
}
" + SetCodeFromRow("row"), Writes("params"), Reads("z"), IntParameter("examples"), UnsignedParameter("seed_lo"), UnsignedParameter("seed_hi"));

        private static DeviceKernel MarkInitializedKernel => Kernel("vq_mark_initialized",
            "quantizer.initialized = 1 after the first non-empty training batch (its own launch: vq_initialize's work items all read it).",
            "if (examples > 0) params[QUANTIZER_INITIALIZED] = 1.0f;", Writes("params"), IntParameter("examples"));

        private static DeviceKernel StraightThroughKernel => Kernel("vq_straight_through",
            "Straight-through with the commitment gradient, in place: d = d + scale (z_e - z_q), [rows, D]; one work item per value.",
            "d[gid] = d[gid] + scale * (z[gid] - zq[gid]);", Writes("d"), Reads("z"), Reads("zq"), FloatParameter("scale"));

        private static DeviceKernel CodebookGradientKernel => Kernel("vq_codebook_grad",
            "The codebook loss's gradient dE[k, d] = scale * sum over the rows that chose k, ascending, of (E[k, d] - z[r, d]); one work item per codebook value.",
            @"int k = (int)(gid / CODE_DIMENSION), d = (int)(gid % CODE_DIMENSION);
int rows = examples * CODE_POSITIONS;
float e = params[QUANTIZER_CODEBOOK + gid];
float sum = 0.0f;
for (int r = 0; r < rows; r++)
    if (codes[r] == k) sum += e - z[(vae_i64)r * CODE_DIMENSION + d];
grads[QUANTIZER_CODEBOOK + gid] = sum * scale;", Writes("grads"), Reads("params"), Reads("z"), IntBuffer("codes"), IntParameter("examples"), FloatParameter("scale"));

        private static DeviceKernel EmaAccumulateKernel => Kernel("vq_ema_accumulate",
            "EMA, first half: m[k, d] = fma(1 - gamma, sum over the rows that chose k (double, ascending), gamma m[k, d]); the d = 0 work item also counts code k and moves its cluster size likewise; one work item per codebook value.",
            @"int k = (int)(gid / CODE_DIMENSION), d = (int)(gid % CODE_DIMENSION);
int rows = examples * CODE_POSITIONS;
double sum = 0.0;
int count = 0;
for (int r = 0; r < rows; r++)
{
    if (codes[r] != k) continue;
    count++;
    sum += (double)z[(vae_i64)r * CODE_DIMENSION + d];
}
/* PyTorch's mul_(gamma) then add_(x, alpha = 1 - gamma) is a fused multiply-add, as on the CPU. */
float g = (float)DECAY, a = (float)(1.0 - DECAY);
params[QUANTIZER_EMBED_SUM + gid] = VAE_FMA(a, (float)sum, params[QUANTIZER_EMBED_SUM + gid] * g);
if (d == 0)
{
    counts[k] = count;
    params[QUANTIZER_CLUSTER_SIZE + k] = VAE_FMA(a, (float)count, params[QUANTIZER_CLUSTER_SIZE + k] * g);
}", Writes("params"), Reads("z"), IntBuffer("codes"), IntBuffer("counts"), IntParameter("examples"));

        private static DeviceKernel EmaCodebookKernel => Kernel("vq_ema_codebook",
            "EMA, second half: n = the cluster sizes summed in double, ascending; size = (N_k + eps) / (n + K eps) n; E[k] = m[k] / size; one work item per code.",
            @"int k = (int)gid;
if (examples == 0) return;
double total = 0.0;
for (int j = 0; j < CODE_COUNT; j++) total += (double)params[QUANTIZER_CLUSTER_SIZE + j];
float total_size = (float)total;
float smoothed_total = total_size + (float)((double)CODE_COUNT * 1e-5);
float size = (params[QUANTIZER_CLUSTER_SIZE + k] + 1e-5f) / smoothed_total * total_size;
for (int d = 0; d < CODE_DIMENSION; d++)
    params[QUANTIZER_CODEBOOK + k * CODE_DIMENSION + d] = params[QUANTIZER_EMBED_SUM + k * CODE_DIMENSION + d] / size;",
            Writes("params"), IntParameter("examples"));

        private static DeviceKernel HistogramKernel => Kernel("vq_histogram",
            "counts[k] = how many of the batch's rows chose code k; one work item per code.", @"int rows = examples * CODE_POSITIONS;
int count = 0;
for (int r = 0; r < rows; r++) if (codes[r] == (int)gid) count++;
counts[gid] = count;", IntBuffer("codes"), IntBuffer("counts"), IntParameter("examples"));

        private static DeviceKernel UpdateIdleKernel => Kernel("vq_update_idle",
            "Idle counters (whole floats in the state): 0 for a code this batch chose, else one more, saturating at 2^24; one work item per code.",
            @"float idle = params[QUANTIZER_IDLE + gid];
params[QUANTIZER_IDLE + gid] = counts[gid] > 0 ? 0.0f : (idle + 1.0f < 16777216.0f ? idle + 1.0f : 16777216.0f);",
            Writes("params"), IntBuffer("counts"));

        private DeviceKernel RestartKernel => Kernel("vq_restart",
            "Dead-code restarts: code k, idle for RESTART_AFTER steps, is the j-th such code in ascending order and moves to batch row Philox(j, step, RSTR) mod rows, as the CPU's VectorQuantizer.RestartRow; one work item per code (the counters are reset by the next launch, which is why this one only reads them).",
            @"int rows = examples * CODE_POSITIONS;
int k = (int)gid;
if (rows == 0 || params[QUANTIZER_IDLE + k] < (float)RESTART_AFTER) return;
int j = 0;
for (int i = 0; i < k; i++) if (params[QUANTIZER_IDLE + i] >= (float)RESTART_AFTER) j++;
int row = (int)(vae_philox_wide((vae_u32)j, step, VAE_VQ_RESTART_STREAM, seed_lo, seed_hi) % (vae_u64)rows);
" + SetCodeFromRow("row"), Writes("params"), Reads("z"), IntParameter("examples"), UnsignedParameter("seed_lo"), UnsignedParameter("seed_hi"), UnsignedParameter("step"));

        private static DeviceKernel RestartResetKernel => Kernel("vq_restart_reset",
            "The restarted codes' idle counters back to 0; one work item per code.",
            @"if (examples > 0 && params[QUANTIZER_IDLE + gid] >= (float)RESTART_AFTER) params[QUANTIZER_IDLE + gid] = 0.0f;",
            Writes("params"), IntParameter("examples"));

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            switch (program)
            {
                case ProgramKind.Train:
                case ProgramKind.Evaluate:
                case ProgramKind.EncodeCodes:
                    if (Spec.Convolutional) yield return ToRows(EncoderOutput, RowsBuffer, "z_e to rows of D");
                    if (program == ProgramKind.Train)
                    {
                        yield return Step("The first training batch sets the codebook to its encoder outputs (once; quantizer.initialized remembers).",
                            Cpu(VectorQuantizer + ".InitializeCodebook", Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"), Arg.Buffer(ZeRows),
                                Arg.Value("seed"), Arg.Parameters(Initialized), CodebookArg, ClusterSizeArg, EmbedSumArg),
                            Launch(InitializeKernel, null, "CodeCount", Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(ZeRows), Arg.Rows(RowSpace.Examples),
                                Arg.Value("seedLow"), Arg.Value("seedHigh")),
                            Launch(MarkInitializedKernel, null, "1", Arg.Buffer(Planner.ParametersBuffer), Arg.Rows(RowSpace.Examples)));
                    }
                    yield return Quantize(distance: program != ProgramKind.EncodeCodes);
                    if (Spec.Convolutional && program != ProgramKind.EncodeCodes) yield return ToChannels(QuantizedRowsBuffer, LatentBuffer, "z_q to the decoder's layout");
                    break;
                case ProgramKind.DecodeCodes:
                    yield return Step("z_q = E[code] for the given codes.",
                        Cpu(VectorQuantizer + ".Gather", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                            Arg.Buffer(CodesBuffer), CodebookArg, Arg.Buffer(ZqRows)),
                        Launch(GatherKernel, RowSpace.Examples, "Latent", Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(CodesBuffer), Arg.Buffer(ZqRows)));
                    if (Spec.Convolutional) yield return ToChannels(QuantizedRowsBuffer, LatentBuffer, "z_q to the decoder's layout");
                    break;
                case ProgramKind.DrawNoise:
                case ProgramKind.Encode:
                case ProgramKind.Decode:
                case ProgramKind.DecoderNegativeLogLikelihood:
                    break;
            }
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            var commitment = Arg.Nested(Cpu(VectorQuantizer + ".CommitmentScale", Arg.Constant("Commitment"), Rows, Arg.Constant("CodeDimension")));
            // The gradient rows: a convolutional map's gradient is moved to rows in the other scratch buffer and back.
            string rows = Spec.Convolutional ? flow.Other : flow.Current;
            if (Spec.Convolutional) yield return ToRows(flow.Current, flow.Other, "dz_q to rows of D");
            yield return Step("Straight-through: dz_e = dz_q + 2 beta (z_e - z_q) / (N D), the commitment loss's gradient.",
                Cpu(VectorQuantizer + ".StraightThroughBackward", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Buffer(rows),
                    Arg.Buffer(ZeRows), Arg.Buffer(ZqRows), commitment, Arg.Buffer(rows)),
                Launch(StraightThroughKernel, RowSpace.Examples, "Latent", Arg.Buffer(rows), Arg.Buffer(ZeRows), Arg.Buffer(ZqRows), Arg.Value("commitmentScale")));
            if (Spec.Convolutional) yield return ToChannels(flow.Other, flow.Current, "dz_e to the encoder's layout");
            if (!Ema)
            {
                yield return Step("The codebook loss's gradient: dE[k] = 2 / (N D) sum over the rows that chose k of (E[k] - z_e).",
                    Cpu(VectorQuantizer + ".CodebookGradient", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                        Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer), CodebookArg,
                        Arg.Nested(Cpu(VectorQuantizer + ".CodebookScale", Rows, Arg.Constant("CodeDimension"))), Arg.Gradients(Codebook)),
                    Launch(CodebookGradientKernel, null, "CodeCount * CodeDimension", Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(Planner.ParametersBuffer),
                        Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer), Arg.Rows(RowSpace.Examples), Arg.Value("codebookScale")));
            }
        }

        public override IEnumerable<Step> AfterBackward()
        {
            if (Ema)
            {
                yield return Step("The codebook's EMA step (the peer's, Laplace-smoothed) and this batch's code histogram.",
                    Cpu(VectorQuantizer + ".EmaUpdate", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                        Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer), Arg.Constant("Decay"), Arg.Parameters(ClusterSize), Arg.Parameters(EmbedSum),
                        CodebookArg, Arg.Buffer(CountsBuffer)),
                    Launch(EmaAccumulateKernel, null, "CodeCount * CodeDimension", Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer),
                        Arg.Buffer(CountsBuffer), Arg.Rows(RowSpace.Examples)),
                    Launch(EmaCodebookKernel, null, "CodeCount", Arg.Buffer(Planner.ParametersBuffer), Arg.Rows(RowSpace.Examples)));
            }
            else
            {
                yield return Step("This batch's code histogram.",
                    Cpu(VectorQuantizer + ".Histogram", Rows, Arg.Constant("CodeCount"), Arg.Buffer(CodesBuffer), Arg.Buffer(CountsBuffer)),
                    Launch(HistogramKernel, null, "CodeCount", Arg.Buffer(CodesBuffer), Arg.Buffer(CountsBuffer), Arg.Rows(RowSpace.Examples)));
            }
            yield return Step("Idle counters: 0 for the codes this batch chose, one more step for the others.",
                Cpu(VectorQuantizer + ".UpdateIdle", Arg.Constant("CodeCount"), Arg.Buffer(CountsBuffer), Arg.Parameters(Idle)),
                Launch(UpdateIdleKernel, null, "CodeCount", Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(CountsBuffer)));
            if (Spec.RestartAfter > 0)
            {
                yield return Step("Dead-code restarts: a code idle for RestartAfter steps moves to a random encoder output of this batch" +
                                  (Ema ? " (cluster size 1)." : " (before the optimiser's step, in which its zero gradient leaves it where Adam's decayed moments put it)."),
                    Cpu(VectorQuantizer + ".RestartDeadCodes", Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"), Arg.Buffer(ZeRows),
                        Arg.Parameters(Idle), Arg.Constant("RestartAfter"), Arg.Value("seed"), Arg.Value("step"), CodebookArg, ClusterSizeArg, EmbedSumArg),
                    Launch(RestartKernel, null, "CodeCount", Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(ZeRows), Arg.Rows(RowSpace.Examples),
                        Arg.Value("seedLow"), Arg.Value("seedHigh"), Arg.Value("step")),
                    Launch(RestartResetKernel, null, "CodeCount", Arg.Buffer(Planner.ParametersBuffer), Arg.Rows(RowSpace.Examples)));
            }
        }

    }
}
