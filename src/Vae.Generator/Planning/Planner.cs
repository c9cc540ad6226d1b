using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Planning.Ops;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>
    /// Turns a spec into a <see cref="ModelPlan"/>: makes the ops in order (each declares its tensors, buffers and
    /// constants, so the layout is computed here once), applies the fusion rewrites, and assembles each entry point's
    /// steps, the backward pass walking the forward pass in reverse. Pure and target-free.
    /// </summary>
    internal static class Planner
    {
        public const string ParametersBuffer = "Parameters";
        public const string GradientsBuffer = "Gradients";
        public const string GradientA = "GradientA";
        public const string GradientB = "GradientB";

        public static ModelPlan Plan(ModelSpec model)
        {
            var layout = new LayoutBuilder();
            var ops = Ops(model, layout);
            if (layout.Total + layout.StateTotal > int.MaxValue) throw new InvalidOperationException("The model has more parameters than int offsets can address.");

            var fused = Fusion.Apply(ops);
            var programs = new List<ProgramPlan>();
            foreach (ProgramKind kind in Programs(model.LatentKind))
            {
                var steps = fused.SelectMany(op => op.Forward(kind)).ToList();
                int backwardFrom = steps.Count;
                if (kind == ProgramKind.Train)
                {
                    // The backward pass: the forward ops in reverse, the gradient ping-ponging between two buffers.
                    var flow = new GradientFlow(GradientA, GradientB);
                    // The first op that has parameters passes no gradient on: the model's input needs none.
                    for (int i = fused.Count - 1; i >= 0; i--)
                    {
                        if (fused[i].TakesNoGradient) continue;
                        steps.AddRange(fused[i].Backward(flow, first: fused.Take(i).All(o => o.TakesNoGradient)).ToList());
                    }
                    // What needs the whole step's results (a VQ-VAE's codebook maintenance) comes after the backward pass.
                    steps.AddRange(fused.SelectMany(op => op.AfterBackward()));
                }
                programs.Add(new ProgramPlan(kind, new EquatableArray<Step>(steps.ToArray()), backwardFrom));
            }

            var (trainLoss, evaluateLoss, gradientScale) = model.LatentKind == LatentKind.VectorQuantized
                ? (QuantizedObjective.TrainLoss(), QuantizedObjective.EvaluateLoss(), QuantizedObjective.RowGradientScale)
                : model.Objective switch
            {
                ObjectiveKind.Elbo => (ElboObjective.TrainLoss(), ElboObjective.EvaluateLoss(), ElboObjective.RowGradientScale),
                ObjectiveKind.ImportanceWeighted or ObjectiveKind.ImportanceWeightedDReG =>
                    (ImportanceWeightedObjectiveOp.Loss(), ImportanceWeightedObjectiveOp.Loss(), ImportanceWeightedObjectiveOp.RowGradientScale),
                _ => throw new InvalidOperationException("Unknown objective " + model.Objective + "."),
            };
            var dense = ops.OfType<DenseOp>().Concat(ops.OfType<GaussianLatentOp>().Select(l => l.Heads)).ToList();
            // Only dense layers transpose weights into the packed scratch; a VQ-VAE of convolutions alone has none.
            var widest = dense.OrderByDescending(d => (long)d.In * d.Out).FirstOrDefault();
            return new ModelPlan(model, layout.Tensors, (int)layout.Total, (int)layout.StateTotal, layout.Constants, layout.Buffers,
                new EquatableArray<ProgramPlan>(programs.ToArray()), trainLoss, evaluateLoss, gradientScale, Summary(model),
                widest is null ? "0L" : $"(long){widest.InFeatures} * {widest.OutFeatures}");
        }

        /// <summary>The entry points of a model with this latent: a VQ-VAE draws no noise and has codes instead of mu and logvar.</summary>
        private static ProgramKind[] Programs(LatentKind latent) => latent switch
        {
            LatentKind.Gaussian => new[] { ProgramKind.DrawNoise, ProgramKind.Train, ProgramKind.Evaluate, ProgramKind.Encode, ProgramKind.Decode, ProgramKind.DecoderNegativeLogLikelihood },
            LatentKind.VectorQuantized => new[] { ProgramKind.Train, ProgramKind.Evaluate, ProgramKind.EncodeCodes, ProgramKind.Decode, ProgramKind.DecodeCodes },
            _ => throw new InvalidOperationException("Unknown latent kind " + latent + "."),
        };

        /// <summary>
        /// The reshaped z of a conditional model whose decoder has no dense layer: its label joins as one plane of that
        /// height and width per class (the parser added the planes to the first transposed convolution's input); null otherwise.
        /// </summary>
        private static ImageSpec? LabelPlanes(ModelSpec model) =>
            model.Classes > 0 && model.Decoder.Count == 0 && model.DecoderConvs.Count > 0 ? model.DecoderReshape : null;

        /// <summary>Floats in the flat buffer (parameters and state), in double so an absurd size is reported instead of wrapping.</summary>
        public static double ParameterCount(ModelSpec model)
        {
            var layout = new LayoutBuilder();
            Ops(model, layout);
            return layout.Total + layout.StateTotal;
        }

        /// <summary>The model's ops in forward order, before fusion; each declares what it needs to <paramref name="layout"/>.</summary>
        private static List<Op> Ops(ModelSpec model, LayoutBuilder layout)
        {
            var likelihood = Likelihood(model);
            int outputWidth = likelihood.OutputWidth(model.Input);
            layout.IntConstant("Input", model.Input, "InputSize", "input features per example");
            layout.IntConstant("Latent", model.Latent, "LatentSize", "latent dimensions");
            layout.IntConstant("Samples", model.LatentSamples, "LatentSampleCount", "noise samples per example (L)");
            layout.IntConstant("OutputWidth", outputWidth, outputWidth == model.Input ? "Input" : "2 * Input", "decoder output per row: " +
                (outputWidth == model.Input ? "the mean" : "mean | log variance"));
            likelihood.Declare(layout);
            layout.Buffer(LikelihoodOp.InputBuffer, model.Input, "Input", RowSpace.Examples, BufferKind.Surface, "input examples");

            var ops = new List<Op>();
            string input = LikelihoodOp.InputBuffer, inExpression = "Input";
            int width = model.Input;
            bool conditional = model.Classes > 0;
            if (conditional)
            {
                // The label, one-hot, is appended to x for the encoder and to every z for the decoder.
                layout.IntConstant("Classes", model.Classes, Int(model.Classes), "classes of the label");
                // A convolutional encoder reads the image alone: its label joins the flattened output of the last
                // convolution instead, the input of the first dense layer or of the heads.
                if (model.EncoderConvs.Count == 0) layout.IntConstant("ConditionedInput", model.Input + model.Classes, "Input + Classes", "encoder input: x | one-hot label");
                if (LabelPlanes(model) is { } reshape)
                {
                    // No dense decoder layer to take the label: it joins the reshaped z as one plane per class.
                    int area = reshape.Height * reshape.Width;
                    layout.IntConstant("LabelArea", area, Int(area), $"positions of each label plane ({reshape.Height}x{reshape.Width})");
                    layout.IntConstant("LabelColumns", model.Classes * area, "Classes * LabelArea", "values of the label's planes per row");
                    layout.IntConstant("ConditionedLatent", model.Latent + model.Classes * area, "Latent + LabelColumns",
                        $"decoder input: z as {reshape} | one plane per class, ones in the label's");
                }
                else layout.IntConstant("ConditionedLatent", model.Latent + model.Classes, "Latent + Classes", "decoder input: z | one-hot label");
                layout.Buffer(LabelInputOp.LabelsBuffer, 1, "1", RowSpace.Examples, BufferKind.Surface, "each example's class label, as a float");
                if (model.EncoderConvs.Count == 0)
                {
                    layout.Buffer("XY", model.Input + model.Classes, "ConditionedInput", RowSpace.Examples, BufferKind.Workspace, "x | one-hot label");
                    ops.Add(new LabelInputOp(input, "XY", "Input", "ConditionedInput"));
                    (input, inExpression, width) = ("XY", "ConditionedInput", model.Input + model.Classes);
                }
            }
            // Encoder: convolutions on the image first, then dense layers on their output, flattened (the same memory).
            int encoderLayer = 0;
            foreach (var conv in model.EncoderConvs)
            {
                var op = ConvolutionOp.Declare(layout, Side.Encoder, $"encoder.{Int(encoderLayer)}", $"Encoder{Int(encoderLayer)}", WithoutActivation(conv), input, RowSpace.Examples);
                ops.Add(op);
                (input, inExpression, width) = (op.Output, op.OutFeatures, conv.Out.Size);
                if (conv.BatchNorm)
                {
                    var norm = BatchNormOp.Declare(layout, Side.Encoder, $"encoder.{Int(encoderLayer)}.bn", $"Encoder{Int(encoderLayer)}Bn", conv.Out, conv.Activation, input, RowSpace.Examples);
                    ops.Add(norm);
                    (input, inExpression) = (norm.Output, norm.OutFeatures);
                }
                encoderLayer++;
            }
            if (conditional && model.EncoderConvs.Count > 0)
            {
                int features = model.EncoderConvs[model.EncoderConvs.Count - 1].Out.Size;
                layout.IntConstant("ConditionedFeatures", features + model.Classes, inExpression + " + Classes", "first dense encoder input: flattened last convolution | one-hot label");
                layout.Buffer("HY", features + model.Classes, "ConditionedFeatures", RowSpace.Examples, BufferKind.Workspace, "flattened last convolution | one-hot label");
                ops.Add(new LabelFeaturesOp(input, "HY", inExpression, "ConditionedFeatures"));
                (input, inExpression, width) = ("HY", "ConditionedFeatures", features + model.Classes);
            }
            for (int i = 0; i < model.Encoder.Count; i++, encoderLayer++)
            {
                var layer = model.Encoder[i];
                var op = Hidden(layout, Side.Encoder, "encoder", "Encoder", encoderLayer, layer, width, inExpression, input, RowSpace.Examples);
                ops.Add(op);
                (input, inExpression, width) = (op.Output, op.OutFeatures, layer.Units);
            }

            switch (model.LatentKind)
            {
                case LatentKind.Gaussian:
                    ops.Add(GaussianLatentOp.Declare(layout, model.Objective, model.Latent, width, inExpression, input));
                    break;
                case LatentKind.VectorQuantized:
                    // The parser made the encoder's output z_e exactly Latent wide, a whole number of code vectors.
                    ops.Add(VectorQuantizerOp.Declare(layout, model.Quantizer ?? throw new InvalidOperationException("A vector-quantised model without its quantiser."),
                        model.Latent, input));
                    break;
                default:
                    throw new InvalidOperationException("Unknown latent kind " + model.LatentKind + ".");
            }

            (input, inExpression, width) = (GaussianLatentOp.LatentBuffer, "Latent", model.Latent);
            if (conditional)
            {
                var planes = LabelPlanes(model);
                int conditioned = model.Latent + model.Classes * (planes is null ? 1 : planes.Height * planes.Width);
                layout.Buffer("ZY", conditioned, "ConditionedLatent", RowSpace.Samples, BufferKind.Workspace,
                    planes is null ? "z | one-hot label, one row per sample" : "z | the label's planes, one row per sample");
                ops.Add(planes is null ? new LabelLatentOp(input, "ZY") : new LabelPlanesOp(input, "ZY"));
                (input, inExpression, width) = ("ZY", "ConditionedLatent", conditioned);
            }
            for (int i = 0; i < model.Decoder.Count; i++)
            {
                var layer = model.Decoder[i];
                var op = Hidden(layout, Side.Decoder, "decoder", "Decoder", i, layer, width, inExpression, input, RowSpace.Samples);
                ops.Add(op);
                (input, inExpression, width) = (op.Output, op.OutFeatures, layer.Units);
            }

            // Transposed convolutions after the reshape (the same memory as the dense output); the last is the output layer.
            for (int i = 0; i < model.DecoderConvs.Count; i++)
            {
                var conv = model.DecoderConvs[i];
                bool last = i == model.DecoderConvs.Count - 1;
                int index = model.Decoder.Count + i;
                var op = ConvolutionOp.Declare(layout, Side.Decoder, last ? "decoder.out" : $"decoder.{Int(index)}", last ? "DecoderOutput" : $"Decoder{Int(index)}",
                    WithoutActivation(conv), input, RowSpace.Samples, last ? LikelihoodOp.OutputBuffer : null, last ? (likelihood is BernoulliLikelihoodOp ? "decoder logits" : "decoder mean") : null);
                ops.Add(op);
                (input, inExpression, width) = (op.Output, op.OutFeatures, conv.Out.Size);
                if (conv.BatchNorm)
                {
                    // The parser refuses BatchNorm on the output layer, so this is a hidden transposed convolution.
                    var norm = BatchNormOp.Declare(layout, Side.Decoder, $"decoder.{Int(index)}.bn", $"Decoder{Int(index)}Bn", conv.Out, conv.Activation, input, RowSpace.Samples);
                    ops.Add(norm);
                    (input, inExpression) = (norm.Output, norm.OutFeatures);
                }
            }
            bool convOutput = model.DecoderConvs.Count > 0;

            // The output layer: mean (and log-variance) heads stacked as one GEMM, as the encoder's heads are.
            bool twoHeads = outputWidth != model.Input;
            if (!convOutput)
            {
                int weight = layout.Tensor("decoder.out.weight", TensorRole.Parameter, width, model.Input, width);
                if (twoHeads) layout.Tensor("decoder.logvar.weight", TensorRole.Parameter, width, model.Input, width);
                int bias = layout.Tensor("decoder.out.bias", TensorRole.Parameter, width, model.Input);
                if (twoHeads) layout.Tensor("decoder.logvar.bias", TensorRole.Parameter, width, model.Input);
                ops.Add(DenseOp.Declare(layout, Side.Decoder, "decoder.out", "DecoderOutput", width, inExpression, outputWidth, "OutputWidth",
                    IdentityActivation.Instance, input, RowSpace.Samples, weight, bias,
                    twoHeads ? "decoder.out.weight | decoder.logvar.weight" : "decoder.out.weight",
                    LikelihoodOp.OutputBuffer, likelihood is BernoulliLikelihoodOp ? "decoder logits" : twoHeads ? "decoder mean | logvar" : "decoder mean"));
            }
            layout.Buffer(LikelihoodOp.RowNllBuffer, 1, "1", RowSpace.Samples, BufferKind.Workspace, "-log p(x|z) per sample");
            layout.Buffer(LikelihoodOp.MeanBuffer, model.Input, "Input", RowSpace.Samples, BufferKind.Surface, "the decoder's mean");
            ops.Add(likelihood);
            if (model.Objective != ObjectiveKind.Elbo) ops.Add(ImportanceWeightedObjectiveOp.Declare(layout, GradientA));

            int maxWidth = layout.Buffers.Where(b => b.Kind == BufferKind.Workspace && b.Rows != RowSpace.Single).Max(b => b.Width);
            layout.IntConstant("MaxWidth", maxWidth, Int(maxWidth), "the widest layer, for the gradient scratch");
            layout.Buffer(GradientA, maxWidth, "MaxWidth", RowSpace.Samples, BufferKind.Workspace, "gradient scratch (ping), as wide as the widest layer");
            layout.Buffer(GradientB, maxWidth, "MaxWidth", RowSpace.Samples, BufferKind.Workspace, "gradient scratch (pong)");
            return ops;
        }

        /// <summary>
        /// A convolution followed by BatchNorm is planned with the identity: its activation applies after the
        /// normalisation (Conv -> BatchNorm -> activation), in the BatchNorm op.
        /// </summary>
        private static ConvSpec WithoutActivation(ConvSpec conv) => conv.BatchNorm ? conv with { Activation = IdentityActivation.Instance } : conv;

        private static DenseOp Hidden(LayoutBuilder layout, Side side, string name, string prefix, int i, LayerSpec layer,
            int width, string inExpression, string input, RowSpace rows)
        {
            // Weight [out, in] then bias, as nn.Linear names them; the bias's fan-in is its weight's.
            int w = layout.Tensor($"{name}.{Int(i)}.weight", TensorRole.Parameter, width, layer.Units, width);
            int b = layout.Tensor($"{name}.{Int(i)}.bias", TensorRole.Parameter, width, layer.Units);
            return DenseOp.Declare(layout, side, $"{name}.{Int(i)}", prefix + Int(i), width, inExpression, layer.Units, Int(layer.Units),
                layer.Activation, input, rows, w, b, $"{name}.{Int(i)}.weight");
        }

        private static LikelihoodOp Likelihood(ModelSpec model) => model.Likelihood switch
        {
            LikelihoodKind.Bernoulli => new BernoulliLikelihoodOp(GradientA),
            LikelihoodKind.Gaussian => new GaussianLikelihoodOp(GradientA, model.Sigma),
            LikelihoodKind.GaussianLearnedVariance => new LearnedVarianceLikelihoodOp(GradientA),
            LikelihoodKind.MeanSquaredError => new MeanSquaredErrorLikelihoodOp(GradientA),
            _ => throw new InvalidOperationException("Unknown likelihood " + model.Likelihood + "."),
        };

        /// <summary>A one-line description such as 784-400(Relu)-[20]-400(Relu)-784, Bernoulli likelihood.</summary>
        public static string Summary(ModelSpec m)
        {
            var parts = new[] { m.Image?.ToString() ?? Int(m.Input) }
                .Concat(m.EncoderConvs.Select(c => $"{c.Out}({(c.BatchNorm ? "BatchNorm, " : "")}{c.Activation.Name})"))
                .Concat(m.Encoder.Select(l => $"{Int(l.Units)}({l.Activation.Name})"))
                .Concat(new[] { m.Quantizer is { } q ? $"[{Int(m.Latent / q.Dimension)}x{Int(q.Dimension)} of {Int(q.Codes)} codes]" : $"[{Int(m.Latent)}]" })
                .Concat(m.Decoder.Select(l => $"{Int(l.Units)}({l.Activation.Name})"))
                .Concat(m.DecoderReshape is { } reshape ? new[] { reshape.ToString() } : new string[0])
                .Concat(m.DecoderConvs.Take(m.DecoderConvs.Count - 1).Select(c => $"{c.Out}({(c.BatchNorm ? "BatchNorm, " : "")}{c.Activation.Name})"))
                .Concat(new[] { m.Image?.ToString() ?? Int(m.Input) });
            return string.Join("-", parts) + ", " + m.Likelihood + " likelihood" + (m.Classes > 0 ? ", conditional on " + Int(m.Classes) + " classes" : "") + (m.Objective == ObjectiveKind.Elbo ? "" : ", " + m.Objective + " objective");
        }

        private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
