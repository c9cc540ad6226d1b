using System.Collections.Generic;
using System.Globalization;
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
    /// CPU only so far: the steps have no device launches, and the generator emits no device file for the model.
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
                Arg.Buffer(from), Arg.Buffer(to)));

        private Step ToChannels(string from, string to, string what) => Step($"{what}: [examples * positions, D] -> [examples, D, positions].",
            Cpu(VectorQuantizer + ".RowsToChannels", Arg.Value("threads"), Arg.Rows(RowSpace.Examples), Arg.Constant("CodeDimension"), Arg.Constant("CodePositions"),
                Arg.Buffer(from), Arg.Buffer(to)));

        private Step Quantize(bool distance) => Step("Nearest code of every row (float GEMM shortlist, exact double decision, ties to the lowest index), z_q = E[code]" +
                (distance ? " and each row's squared distance." : "."),
            Cpu(VectorQuantizer + ".Forward", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                Arg.Buffer(ZeRows), CodebookArg, Arg.Buffer(CodesBuffer), Arg.Buffer(ZqRows), distance ? Arg.Buffer(DistanceBuffer) : Arg.None()));

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
                                Arg.Value("seed"), Arg.Parameters(Initialized), CodebookArg, ClusterSizeArg, EmbedSumArg));
                    }
                    yield return Quantize(distance: program != ProgramKind.EncodeCodes);
                    if (Spec.Convolutional && program != ProgramKind.EncodeCodes) yield return ToChannels(QuantizedRowsBuffer, LatentBuffer, "z_q to the decoder's layout");
                    break;
                case ProgramKind.DecodeCodes:
                    yield return Step("z_q = E[code] for the given codes.",
                        Cpu(VectorQuantizer + ".Gather", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                            Arg.Buffer(CodesBuffer), CodebookArg, Arg.Buffer(ZqRows)));
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
                    Arg.Buffer(ZeRows), Arg.Buffer(ZqRows), commitment, Arg.Buffer(rows)));
            if (Spec.Convolutional) yield return ToChannels(flow.Other, flow.Current, "dz_e to the encoder's layout");
            if (!Ema)
            {
                yield return Step("The codebook loss's gradient: dE[k] = 2 / (N D) sum over the rows that chose k of (E[k] - z_e).",
                    Cpu(VectorQuantizer + ".CodebookGradient", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                        Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer), CodebookArg,
                        Arg.Nested(Cpu(VectorQuantizer + ".CodebookScale", Rows, Arg.Constant("CodeDimension"))), Arg.Gradients(Codebook)));
            }
        }

        public override IEnumerable<Step> AfterBackward()
        {
            if (Ema)
            {
                yield return Step("The codebook's EMA step (the peer's, Laplace-smoothed) and this batch's code histogram.",
                    Cpu(VectorQuantizer + ".EmaUpdate", Arg.Value("threads"), Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"),
                        Arg.Buffer(ZeRows), Arg.Buffer(CodesBuffer), Arg.Constant("Decay"), Arg.Parameters(ClusterSize), Arg.Parameters(EmbedSum),
                        CodebookArg, Arg.Buffer(CountsBuffer)));
            }
            else
            {
                yield return Step("This batch's code histogram.",
                    Cpu(VectorQuantizer + ".Histogram", Rows, Arg.Constant("CodeCount"), Arg.Buffer(CodesBuffer), Arg.Buffer(CountsBuffer)));
            }
            yield return Step("Idle counters: 0 for the codes this batch chose, one more step for the others.",
                Cpu(VectorQuantizer + ".UpdateIdle", Arg.Constant("CodeCount"), Arg.Buffer(CountsBuffer), Arg.Parameters(Idle)));
            if (Spec.RestartAfter > 0)
            {
                yield return Step("Dead-code restarts: a code idle for RestartAfter steps moves to a random encoder output of this batch" +
                                  (Ema ? " (cluster size 1)." : " (before the optimiser's step, in which its zero gradient leaves it where Adam's decayed moments put it)."),
                    Cpu(VectorQuantizer + ".RestartDeadCodes", Rows, Arg.Constant("CodeDimension"), Arg.Constant("CodeCount"), Arg.Buffer(ZeRows),
                        Arg.Parameters(Idle), Arg.Constant("RestartAfter"), Arg.Value("seed"), Arg.Value("step"), CodebookArg, ClusterSizeArg, EmbedSumArg));
            }
        }

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
