using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Parsing
{
    /// <summary>
    /// Reads the image input and the convolutional layers, computes every layer's shape at compile time, and reports
    /// each mistake at the attribute at fault with the shapes in the message: an encoder is image -> convolutions ->
    /// flatten -> dense layers, a decoder is dense layers -> reshape -> transposed convolutions, the last of which gives
    /// the image back.
    /// </summary>
    internal static class ConvolutionParser
    {
        public const string ImageInputAttribute = "Vae.ImageInputAttribute";
        public const string EncoderConv2dAttribute = "Vae.EncoderConv2dAttribute";
        public const string DecoderReshapeAttribute = "Vae.DecoderReshapeAttribute";
        public const string DecoderConvTranspose2dAttribute = "Vae.DecoderConvTranspose2dAttribute";

        internal sealed class Result
        {
            public ImageSpec? Image;
            public List<ConvSpec> EncoderConvs = new List<ConvSpec>();
            public ImageSpec? Reshape;
            public List<ConvSpec> DecoderConvs = new List<ConvSpec>();
        }

        private static List<(AttributeData Data, AttributeSyntax? Syntax)> Attributes(INamedTypeSymbol symbol, string type, CancellationToken ct) =>
            symbol.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == type)
                .Select(a => (a, a.ApplicationSyntaxReference?.GetSyntax(ct) as AttributeSyntax)).ToList();

        private static int Position(AttributeSyntax? syntax) => syntax?.SpanStart ?? int.MaxValue;

        /// <param name="latent">The latent size, which a reshape straight after z must match.</param>
        /// <param name="decoderDense">The decoder's dense widths in order, the last of which a reshape must match.</param>
        /// <param name="outputsPerChannel">
        /// The decoder's output channels per input channel: 1, or 2 for a Gaussian with learned variance, whose output
        /// rows are [mean | log variance], so a last transposed convolution with 2C channels gives C mean planes then C
        /// log-variance planes.
        /// </param>
        /// <param name="labelPlanes">Channels a conditional model appends to the reshaped z (its label, one plane per class) when
        /// the decoder has no dense layer to take the label; 0 otherwise.</param>
        public static Result Parse(INamedTypeSymbol symbol, string name, int latent, IReadOnlyList<LayerSpec> decoderDense, int outputsPerChannel,
            int labelPlanes, List<DiagnosticInfo> diagnostics, ref bool usable, CancellationToken ct)
        {
            var result = new Result();
            var image = Attributes(symbol, ImageInputAttribute, ct).FirstOrDefault();
            var convs = Attributes(symbol, EncoderConv2dAttribute, ct);
            var reshape = Attributes(symbol, DecoderReshapeAttribute, ct).FirstOrDefault();
            var convTs = Attributes(symbol, DecoderConvTranspose2dAttribute, ct);
            if (image.Data is null && convs.Count == 0 && reshape.Data is null && convTs.Count == 0) return result;

            bool broken = new[] { image, reshape }.Where(a => a.Data is not null).Concat(convs).Concat(convTs)
                .Any(a => a.Data.AttributeConstructor is null || a.Data.ConstructorArguments.Any(c => c.Kind == TypedConstantKind.Error || c.Value is null)
                          || a.Data.NamedArguments.Any(n => n.Value.Kind == TypedConstantKind.Error));
            if (broken)
            {
                usable = false; // the compiler reports the attribute's own errors
                return result;
            }

            if (image.Data is not null)
            {
                var shape = Shape(image.Data);
                if (shape.Channels <= 0 || shape.Height <= 0 || shape.Width <= 0)
                {
                    Report(diagnostics, DiagnosticDescriptors.ConvolutionOutOfRange, image.Syntax, "[ImageInput]", name,
                        $"channels, height and width must be > 0; they are {shape.Channels}, {shape.Height} and {shape.Width}");
                    usable = false;
                    return result;
                }
                result.Image = shape;
            }

            // Encoder: convolutions come first, on the image, before any dense layer reads them flattened.
            var dense = Attributes(symbol, ModelParser.EncoderAttribute, ct);
            int firstDense = dense.Count == 0 ? int.MaxValue : dense.Min(d => Position(d.Syntax));
            var current = result.Image;
            for (int i = 0; i < convs.Count; i++)
            {
                var (data, syntax) = convs[i];
                string what = $"[EncoderConv2d] #{i + 1}";
                if (result.Image is null)
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, syntax, what, name, "a convolution needs an image input; add [ImageInput(channels, height, width)]");
                    usable = false;
                    return result;
                }
                if (Position(syntax) > firstDense)
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, syntax, what, name,
                        "encoder convolutions must come before the encoder's dense layers, which read their output flattened");
                    usable = false;
                    return result;
                }
                var spec = Conv(data, syntax, what, name, current!, transposed: false, diagnostics, ref usable);
                if (spec is null) return result;
                result.EncoderConvs.Add(spec);
                current = spec.Out;
            }

            // A VQ-VAE of convolutions alone (latent 0): z is the last convolution's map.
            if (latent <= 0 && convs.Count > 0 && current is not null) latent = current.Size;

            // Decoder: dense layers, a reshape, then transposed convolutions; the last gives the image back.
            if (reshape.Data is not null || convTs.Count > 0)
            {
                if (reshape.Data is null)
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, convTs[0].Syntax, "[DecoderConvTranspose2d] #1", name,
                        "transposed convolutions read an image: add [DecoderReshape(channels, height, width)] after the decoder's dense layers");
                    usable = false;
                    return result;
                }
                var shape = Shape(reshape.Data);
                int before = decoderDense.Count == 0 ? latent : decoderDense[decoderDense.Count - 1].Units;
                string from = decoderDense.Count == 0 ? $"z of {Format(latent)}" : $"the last dense decoder layer's {Format(before)} outputs";
                if (shape.Channels <= 0 || shape.Height <= 0 || shape.Width <= 0 || (long)shape.Channels * shape.Height * shape.Width != before)
                {
                    Report(diagnostics, DiagnosticDescriptors.ShapeMismatch, reshape.Syntax, "[DecoderReshape]", name,
                        $"{shape} has {Format((long)shape.Channels * shape.Height * shape.Width)} elements, but it reshapes {from}");
                    usable = false;
                    return result;
                }
                var decoderDenseAttributes = Attributes(symbol, ModelParser.DecoderAttribute, ct);
                if (decoderDenseAttributes.Any(d => Position(d.Syntax) > Position(reshape.Syntax)) || convTs.Any(c => Position(c.Syntax) < Position(reshape.Syntax)))
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, reshape.Syntax, "[DecoderReshape]", name,
                        "the reshape goes between the decoder's dense layers and its transposed convolutions");
                    usable = false;
                    return result;
                }
                if (convTs.Count == 0)
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, reshape.Syntax, "[DecoderReshape]", name,
                        "a reshape needs transposed convolutions after it ([DecoderConvTranspose2d])");
                    usable = false;
                    return result;
                }
                result.Reshape = shape;
                // A conditional decoder without dense layers reads the label as planes after z's channels.
                current = decoderDense.Count == 0 && labelPlanes > 0 ? shape with { Channels = shape.Channels + labelPlanes } : shape;
                for (int i = 0; i < convTs.Count; i++)
                {
                    var (data, syntax) = convTs[i];
                    string what = $"[DecoderConvTranspose2d] #{i + 1}";
                    var spec = Conv(data, syntax, what, name, current!, transposed: true, diagnostics, ref usable);
                    if (spec is null) return result;
                    result.DecoderConvs.Add(spec);
                    current = spec.Out;
                }
                var last = result.DecoderConvs[result.DecoderConvs.Count - 1];
                var lastSyntax = convTs[convTs.Count - 1].Syntax;
                var expected = result.Image is null ? null : result.Image with { Channels = result.Image.Channels * outputsPerChannel };
                if (expected is null || !last.Out.Equals(expected))
                {
                    Report(diagnostics, DiagnosticDescriptors.ShapeMismatch, lastSyntax, $"[DecoderConvTranspose2d] #{convTs.Count}", name,
                        expected is null
                            ? $"the decoder ends in an image of {last.Out}, but the model has no [ImageInput] to match"
                            : outputsPerChannel == 1
                                ? $"the decoder ends in {last.Out}, but the input is {result.Image}; the last transposed convolution must give the input's shape"
                                : $"the decoder ends in {last.Out}, but the input is {result.Image} and a learned variance needs a mean and a log-variance plane per channel: " +
                                  $"the last transposed convolution must give {expected}");
                    usable = false;
                    return result;
                }
                if (last.BatchNorm)
                {
                    // The output layer's values are the likelihood's parameters (logits or means): normalising them
                    // to the batch would tie every reconstruction to its batch, so PyTorch models end without one.
                    Report(diagnostics, DiagnosticDescriptors.BatchNormPlacement, lastSyntax, $"[DecoderConvTranspose2d] #{convTs.Count}", name,
                        "the last transposed convolution is the output layer (the likelihood's parameters) and takes no BatchNorm; " +
                        "put BatchNorm = true on the hidden transposed convolutions before it");
                    usable = false;
                    return result;
                }
                if (!last.Activation.IsIdentity)
                {
                    Report(diagnostics, DiagnosticDescriptors.LayerOrder, lastSyntax, $"[DecoderConvTranspose2d] #{convTs.Count}", name,
                        $"the last transposed convolution is the output layer (the likelihood's parameters) and takes Activation.Identity, not {last.Activation.Name}");
                    usable = false;
                }
            }
            return result;
        }

        private static ConvSpec? Conv(AttributeData data, AttributeSyntax? syntax, string what, string name, ImageSpec input, bool transposed,
            List<DiagnosticInfo> diagnostics, ref bool usable)
        {
            var a = data.ConstructorArguments;
            int outChannels = (int)a[0].Value!, kernel = (int)a[1].Value!, stride = (int)a[2].Value!, padding = (int)a[3].Value!;
            int outputPadding = transposed ? (int)a[4].Value! : 0;
            var activationConstant = a[transposed ? 5 : 4];
            string? problem =
                outChannels <= 0 ? $"outChannels must be > 0; it is {outChannels}" :
                kernel <= 0 ? $"kernel must be > 0; it is {kernel}" :
                stride <= 0 ? $"stride must be > 0; it is {stride}" :
                padding < 0 ? $"padding must be >= 0; it is {padding}" :
                outputPadding < 0 || (transposed && outputPadding >= stride) ? $"outputPadding must be >= 0 and smaller than the stride ({stride}); it is {outputPadding}" :
                !transposed && 2L * padding >= (long)kernel + input.Height && 2L * padding >= (long)kernel + input.Width ? $"padding {padding} leaves only padding under the {kernel}x{kernel} kernel" :
                null;
            if (problem is not null)
            {
                Report(diagnostics, DiagnosticDescriptors.ConvolutionOutOfRange, syntax, what, name, problem);
                usable = false;
                return null;
            }
            var activationName = EnumName(activationConstant);
            var activation = activationName is null ? null : ActivationFunction.Find(activationName);
            if (activation is null)
            {
                usable = false; // an undefined enum value; the dense layers' check reports the same kind of mistake
                Report(diagnostics, DiagnosticDescriptors.ConvolutionOutOfRange, syntax, what, name, $"the activation {activationConstant.Value} is not one the generator knows");
                return null;
            }
            long height = transposed
                ? ((long)input.Height - 1) * stride - 2L * padding + kernel + outputPadding
                : ((long)input.Height + 2L * padding - kernel) / stride + 1;
            long width = transposed
                ? ((long)input.Width - 1) * stride - 2L * padding + kernel + outputPadding
                : ((long)input.Width + 2L * padding - kernel) / stride + 1;
            if (!transposed && (input.Height + 2L * padding < kernel || input.Width + 2L * padding < kernel)) height = width = 0;
            if (height <= 0 || width <= 0 || (long)outChannels * height * width > int.MaxValue)
            {
                Report(diagnostics, DiagnosticDescriptors.ShapeNotPositive, syntax, what, name, input.ToString(), $"{outChannels}x{height}x{width}");
                usable = false;
                return null;
            }
            // BatchNorm is a named property (false unless set); a non-constant value is the compiler's own error, caught above.
            bool batchNorm = data.NamedArguments.Any(n => n.Key == "BatchNorm" && n.Value.Value is true);
            return new ConvSpec(transposed, outChannels, kernel, stride, padding, outputPadding, activation, input,
                new ImageSpec(outChannels, (int)height, (int)width), batchNorm);
        }

        private static ImageSpec Shape(AttributeData data) =>
            new ImageSpec((int)data.ConstructorArguments[0].Value!, (int)data.ConstructorArguments[1].Value!, (int)data.ConstructorArguments[2].Value!);

        private static string? EnumName(TypedConstant constant)
        {
            if (constant.Type is not INamedTypeSymbol { TypeKind: TypeKind.Enum } type) return null;
            return type.GetMembers().OfType<IFieldSymbol>().FirstOrDefault(f => f.HasConstantValue && Equals(f.ConstantValue, constant.Value))?.Name;
        }

        private static void Report(List<DiagnosticInfo> diagnostics, DiagnosticDescriptor descriptor, AttributeSyntax? syntax, params string[] args) =>
            diagnostics.Add(DiagnosticInfo.Create(descriptor, syntax?.GetLocation(), args));

        private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
    }
}
