using System.Linq;
using Vae.Generator.Planning;
using Vae.Generator.Specs;
using static Vae.Generator.Emitting.Literals;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// Emits {Model}.g.cs: the partial class's public face (sizes, the descriptor with the plan's layout, the
    /// constructor and Load). The CPU kernels and the device kernels are their own files.
    /// </summary>
    internal static class ModelEmitter
    {
        public static string Emit(ModelPlan plan)
        {
            var m = plan.Model;
            var w = new SourceWriter();
            Header(w, m.ClassName, "The model class");
            System.IDisposable? ns = m.Namespace is null ? null : w.Block("namespace " + m.Namespace);
            w.Line("/// <summary>");
            w.Line("/// A variational autoencoder " + plan.Summary + ", with kernels generated for exactly this architecture.");
            w.Line("/// </summary>");
            using (w.Block("partial class " + m.ClassName + " : global::Vae.VaeModel"))
            {
                w.Line("/// <summary>Input features per example.</summary>");
                w.Line($"public const int InputSize = {Int(m.Input)};");
                if (m.Image is { } image)
                {
                    w.Line($"/// <summary>Channels, height and width of an input image ({image}); InputSize is their product.</summary>");
                    w.Line($"public const int ImageChannels = {Int(image.Channels)}, ImageHeight = {Int(image.Height)}, ImageWidth = {Int(image.Width)};");
                }
                w.Line(m.Quantizer is null ? "/// <summary>Latent dimensions.</summary>" : "/// <summary>Values of z_e and z_q per example: CodePositions vectors of CodeDimension.</summary>");
                w.Line($"public const int LatentSize = {Int(m.Latent)};");
                if (m.Quantizer is { } quantizer)
                {
                    w.Line("/// <summary>Codes in the codebook (K), values per code (D) and code positions per example.</summary>");
                    w.Line($"public const int CodeCount = {Int(quantizer.Codes)}, CodeDimension = {Int(quantizer.Dimension)}, CodePositions = {Int(m.Latent / quantizer.Dimension)};");
                }
                w.Line("/// <summary>Noise samples per example in the reconstruction term (L).</summary>");
                w.Line($"public const int LatentSampleCount = {Int(m.LatentSamples)};");
                w.Line("/// <summary>Floats in the flat parameter buffer (gradients and optimiser state share its layout).</summary>");
                w.Line($"public const int ParameterCount = {Int(plan.ParameterCount)};");
                if (plan.StateCount > 0)
                {
                    w.Line("/// <summary>Floats of non-trained state (BatchNorm's running statistics), after the parameters in the flat buffer.</summary>");
                    w.Line($"public const int StateCount = {Int(plan.StateCount)};");
                }
                w.Line();
                EmitDescriptor(w, plan);
                w.Line();
                w.Line("/// <summary>Creates the model on <paramref name=\"device\"/> with weights initialised like PyTorch's nn.Linear from <paramref name=\"seed\"/>.</summary>");
                w.Line($"public {m.ClassName}(global::Vae.Device device, ulong seed = 0)");
                w.Line("    : base(device, Descriptor, new global::Vae.ModelKernels(GeneratedCpuKernels.Instance, GeneratedAcceleratorKernels.Instance, DeviceSource), seed)");
                w.Line("{");
                w.Line("}");
                w.Line();
                w.Line("/// <summary>Loads a checkpoint written by Save; fails with a message naming every difference if it holds another architecture.</summary>");
                using (w.Block($"public static {m.ClassName} Load(global::Vae.Device device, string path, global::Vae.Optimizer? optimizer = null)"))
                {
                    w.Line($"var model = new {m.ClassName}(device);");
                    using (w.Block("try"))
                    {
                        w.Line("global::Vae.Files.Checkpoint.LoadInto(model, path, optimizer);");
                        w.Line("return model;");
                    }
                    using (w.Block("catch"))
                    {
                        w.Line("model.Dispose();");
                        w.Line("throw;");
                    }
                }
            }
            ns?.Dispose();
            return w.ToString();
        }

        private static void EmitDescriptor(SourceWriter w, ModelPlan plan)
        {
            var m = plan.Model;
            w.Line("/// <summary>The architecture and the plan's flat layout, for the reference oracle, the devices and checkpoints.</summary>");
            w.Line("public static global::Vae.ModelDescriptor Descriptor { get; } = new global::Vae.ModelDescriptor(");
            w.Indent();
            w.Line($"name: \"{m.ClassName}\",");
            w.Line("input: InputSize,");
            w.Line("latent: LatentSize,");
            w.Line($"likelihood: global::Vae.Likelihood.{m.Likelihood},");
            w.Line($"beta: {Double(m.Beta)},");
            w.Line("latentSamples: LatentSampleCount,");
            w.Line($"sigma: {Double(m.Sigma)},");
            if (m.Objective != ObjectiveKind.Elbo) w.Line($"objective: global::Vae.Objective.{m.Objective},");
            if (m.FreeBits != 0) w.Line($"freeBits: {Double(m.FreeBits)},");
            if (m.Classes != 0) w.Line($"classes: {Int(m.Classes)},");
            if (m.Image is { } image)
            {
                w.Line($"image: {Shape(image)},");
                Convolutions(w, "encoderConvolutions", m.EncoderConvs);
                if (m.DecoderReshape is { } reshape) w.Line($"decoderReshape: {Shape(reshape)},");
                Convolutions(w, "decoderConvolutions", m.DecoderConvs);
            }
            if (m.Quantizer is { } q)
                w.Line($"quantizer: new global::Vae.VectorQuantizerDescriptor({Int(q.Codes)}, {Int(q.Dimension)}, {Double(q.Commitment)}, {Double(q.Decay)}, {Int(q.RestartAfter)}, {(q.Convolutional ? "true" : "false")}),");
            Layers(w, "encoder", m.Encoder);
            Layers(w, "decoder", m.Decoder);
            w.Line("tensors: new global::Vae.TensorDescriptor[]");
            w.Line("{");
            w.Indent();
            foreach (var t in plan.Tensors)
            {
                string shape = t.Shape.Count == 0 ? "new int[0]" : $"new[] {{ {string.Join(", ", t.Shape.Select(Int))} }}";
                string init = t.Init == TensorInit.Uniform ? "" : $", Init: global::Vae.TensorInit.{t.Init}";
                string type = t.Int64 ? ", Type: global::Vae.TensorType.Int64" : "";
                w.Line($"new global::Vae.TensorDescriptor(\"{t.Name}\", {shape}, {Int(t.Offset)}, global::Vae.TensorRole.{t.Role}, FanIn: {Int(t.FanIn)}{init}{type}),");
            }
            w.Outdent();
            w.Line("});");
            w.Outdent();
        }

        private static string Shape(ImageSpec s) => $"new global::Vae.ImageShape({Int(s.Channels)}, {Int(s.Height)}, {Int(s.Width)})";

        private static void Convolutions(SourceWriter w, string name, EquatableArray<ConvSpec> layers)
        {
            w.Line($"{name}: new global::Vae.ConvolutionDescriptor[]");
            w.Line("{");
            w.Indent();
            foreach (var c in layers)
                w.Line($"new global::Vae.ConvolutionDescriptor({Int(c.OutChannels)}, {Int(c.Kernel)}, {Int(c.Stride)}, {Int(c.Padding)}, {Int(c.OutputPadding)}, " +
                       $"global::Vae.Activation.{c.Activation.Name}, {Shape(c.In)}, {Shape(c.Out)}{(c.BatchNorm ? ", BatchNorm: true" : "")}),");
            w.Outdent();
            w.Line("},");
        }

        private static void Layers(SourceWriter w, string name, EquatableArray<LayerSpec> layers)
        {
            if (layers.Count == 0)
            {
                w.Line($"{name}: new global::Vae.LayerDescriptor[0],");
                return;
            }
            w.Line($"{name}: new global::Vae.LayerDescriptor[]");
            w.Line("{");
            w.Indent();
            foreach (var l in layers) w.Line($"new global::Vae.LayerDescriptor({Int(l.Units)}, global::Vae.Activation.{l.Activation.Name}),");
            w.Outdent();
            w.Line("},");
        }
    }
}
