using System;
using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>
    /// Turns a spec into a <see cref="KernelPlan"/>. This is the one place that knows how the layers connect, how the
    /// heads are stacked and in which order the backward pass runs; emitters only translate ops into their language.
    /// </summary>
    internal static class Planner
    {
        public const string Identity = "Identity";
        public const string InputBuffer = "X";
        public const string LatentBuffer = "Z";
        public const string HeadsBuffer = "Heads";
        public const string KlBuffer = "Kl";
        public const string OutputBuffer = "Output";
        public const string RowNllBuffer = "RowNll";
        public const string GradientA = "GradientA";
        public const string GradientB = "GradientB";

        public static KernelPlan Plan(ModelSpec model)
        {
            var tensors = new List<TensorPlan>();
            int offset = 0;
            int AddTensor(string name, params int[] shape)
            {
                int length = shape.Aggregate(1, (a, b) => a * b);
                tensors.Add(new TensorPlan(name, new EquatableArray<int>(shape), offset, length));
                int at = offset;
                offset += length;
                return at;
            }

            bool learnedVariance = model.Likelihood == "GaussianLearnedVariance";
            int outputWidth = learnedVariance ? 2 * model.Input : model.Input;
            var buffers = new List<BufferPlan>();
            var layers = new List<LinearPlan>();

            // Encoder hidden layers: weight [out, in] then bias, as nn.Linear names them.
            string input = InputBuffer;
            int width = model.Input;
            for (int i = 0; i < model.Encoder.Count; i++)
            {
                var layer = model.Encoder[i];
                int w = AddTensor($"encoder.{i}.weight", layer.Units, width);
                int b = AddTensor($"encoder.{i}.bias", layer.Units);
                var (pre, output) = HiddenBuffers(buffers, $"Encoder{i}", layer, RowSpace.Examples, $"encoder.{i}");
                layers.Add(new LinearPlan($"encoder.{i}", $"Encoder{i}", width, layer.Units, layer.Activation, w, b, input, pre, output, RowSpace.Examples));
                input = output;
                width = layer.Units;
            }

            // The two heads stacked: one GEMM gives [mu | logvar] per example.
            int headsWeight = AddTensor("encoder.mu.weight", model.Latent, width);
            AddTensor("encoder.logvar.weight", model.Latent, width);
            int headsBias = AddTensor("encoder.mu.bias", model.Latent);
            AddTensor("encoder.logvar.bias", model.Latent);
            buffers.Add(new BufferPlan(HeadsBuffer, 2 * model.Latent, RowSpace.Examples, "encoder heads: mu | logvar", "EncoderHeadsOutFeatures"));
            layers.Add(new LinearPlan("encoder.heads", "EncoderHeads", width, 2 * model.Latent, Identity, headsWeight, headsBias, input, HeadsBuffer, HeadsBuffer, RowSpace.Examples));
            int encoderLayers = layers.Count;
            buffers.Add(new BufferPlan(KlBuffer, 1, RowSpace.Examples, "KL(q(z|x) || N(0, I)) per example", "1"));
            buffers.Add(new BufferPlan(LatentBuffer, model.Latent, RowSpace.DecoderRows, "z = mu + exp(logvar / 2) eps, one row per sample", "Latent"));

            input = LatentBuffer;
            width = model.Latent;
            for (int i = 0; i < model.Decoder.Count; i++)
            {
                var layer = model.Decoder[i];
                int w = AddTensor($"decoder.{i}.weight", layer.Units, width);
                int b = AddTensor($"decoder.{i}.bias", layer.Units);
                var (pre, output) = HiddenBuffers(buffers, $"Decoder{i}", layer, RowSpace.DecoderRows, $"decoder.{i}");
                layers.Add(new LinearPlan($"decoder.{i}", $"Decoder{i}", width, layer.Units, layer.Activation, w, b, input, pre, output, RowSpace.DecoderRows));
                input = output;
                width = layer.Units;
            }

            int outWeight = AddTensor("decoder.out.weight", model.Input, width);
            if (learnedVariance) AddTensor("decoder.logvar.weight", model.Input, width);
            int outBias = AddTensor("decoder.out.bias", model.Input);
            if (learnedVariance) AddTensor("decoder.logvar.bias", model.Input);
            buffers.Add(new BufferPlan(OutputBuffer, outputWidth, RowSpace.DecoderRows,
                model.Likelihood == "Bernoulli" ? "decoder logits" : learnedVariance ? "decoder mean | logvar" : "decoder mean", "OutputWidth"));
            layers.Add(new LinearPlan("decoder.out", "DecoderOutput", width, outputWidth, Identity, outWeight, outBias, input, OutputBuffer, OutputBuffer, RowSpace.DecoderRows));
            buffers.Add(new BufferPlan(RowNllBuffer, 1, RowSpace.DecoderRows, "-log p(x|z) per sample", "1"));

            int maxWidth = new[] { model.Input, outputWidth, 2 * model.Latent }
                .Concat(model.Encoder.Select(l => l.Units)).Concat(model.Decoder.Select(l => l.Units)).Max();
            buffers.Add(new BufferPlan(GradientA, maxWidth, RowSpace.DecoderRows, "gradient scratch (ping), as wide as the widest layer", "MaxWidth"));
            buffers.Add(new BufferPlan(GradientB, maxWidth, RowSpace.DecoderRows, "gradient scratch (pong)", "MaxWidth"));

            var forward = new List<Op>();
            for (int i = 0; i < encoderLayers; i++) forward.Add(new Op(OpKind.Linear, i, "", ""));
            forward.Add(new Op(OpKind.Reparameterize, -1, "", ""));
            for (int i = encoderLayers; i < layers.Count; i++) forward.Add(new Op(OpKind.Linear, i, "", ""));
            forward.Add(new Op(OpKind.Likelihood, layers.Count - 1, "", GradientA));

            // The backward pass walks the forward pass in reverse, the gradient ping-ponging between two buffers.
            var backward = new List<Op>();
            string current = GradientA, other = GradientB;
            for (int i = layers.Count - 1; i >= 0; i--)
            {
                bool first = i == 0;
                backward.Add(new Op(OpKind.LinearBackward, i, current, first ? "" : other));
                (current, other) = (other, current);
                if (i == encoderLayers)
                {
                    backward.Add(new Op(OpKind.ReparameterizeBackward, -1, current, other));
                    (current, other) = (other, current);
                }
            }

            int packed = layers.Max(l => l.In * l.Out);
            return new KernelPlan(model, new EquatableArray<TensorPlan>(tensors), offset, new EquatableArray<BufferPlan>(buffers),
                new EquatableArray<LinearPlan>(layers), encoderLayers, new EquatableArray<Op>(forward), new EquatableArray<Op>(backward),
                outputWidth, maxWidth, packed);
        }

        /// <summary>An identity layer needs no separate pre-activation buffer: pre and output are the same values.</summary>
        private static (string Pre, string Output) HiddenBuffers(List<BufferPlan> buffers, string prefix, LayerSpec layer, RowSpace rows, string name)
        {
            if (layer.Activation == Identity)
            {
                buffers.Add(new BufferPlan(prefix + "Out", layer.Units, rows, $"{name} output", prefix + "OutFeatures"));
                return (prefix + "Out", prefix + "Out");
            }
            buffers.Add(new BufferPlan(prefix + "Pre", layer.Units, rows, $"{name} before {layer.Activation}", prefix + "OutFeatures"));
            buffers.Add(new BufferPlan(prefix + "Out", layer.Units, rows, $"{name} after {layer.Activation}", prefix + "OutFeatures"));
            return (prefix + "Pre", prefix + "Out");
        }
    }
}
