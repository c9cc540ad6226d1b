using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Vae.Generator.Planning;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Parsing
{
    /// <summary>
    /// Reads an annotated class into a <see cref="ModelSpec"/>, collecting every mistake as a diagnostic with the
    /// location of the attribute argument at fault. Values the compiler itself rejects (errors in the attribute) are
    /// left to the compiler: the model is not generated and no second error is piled on.
    /// </summary>
    internal static class ModelParser
    {
        public const string ModelAttribute = "Vae.VariationalAutoencoderAttribute";
        public const string EncoderAttribute = "Vae.EncoderAttribute";
        public const string DecoderAttribute = "Vae.DecoderAttribute";
        public const string ConditionalAttribute = "Vae.ConditionalAttribute";
        public const string VectorQuantizedAttribute = "Vae.VectorQuantizedAttribute";

        /// <summary>The largest codebook: its uniform start's fan-in, K^2, is an int.</summary>
        public const int MaxCodes = 32768;
        private const string VaeModelType = "Vae.VaeModel";

        /// <summary>The largest flat parameter buffer: its offsets are C# ints.</summary>
        public const long MaxParameters = int.MaxValue;

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var symbol = (INamedTypeSymbol)context.TargetSymbol;
            var diagnostics = new List<DiagnosticInfo>();
            var node = (TypeDeclarationSyntax)context.TargetNode;
            var name = symbol.Name;
            var identifier = node.Identifier.GetLocation();
            bool usable = true;

            // A struct or interface is already refused by the attribute's usage (CS0592); a nameless class by the parser.
            if (node is StructDeclarationSyntax || node is InterfaceDeclarationSyntax || node.IsKind(SyntaxKind.RecordStructDeclaration)
                || node.Identifier.IsMissing || name.Length == 0)
                return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            if (node is RecordDeclarationSyntax)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotAClass, identifier, name, "record"));
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics));
            }
            // [VariationalAutoencoder] twice (on two partial declarations) is the compiler's CS0579; generate nothing.
            if (symbol.GetAttributes().Count(a => a.AttributeClass?.ToDisplayString() == ModelAttribute) > 1)
                return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            if (symbol.IsFileLocal)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.FileLocalClass, identifier, name));
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics));
            }

            if (!symbol.DeclaringSyntaxReferences.Select(r => r.GetSyntax(cancellationToken)).OfType<TypeDeclarationSyntax>()
                    .All(d => d.Modifiers.Any(SyntaxKind.PartialKeyword)))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassNotPartial, identifier, name));
                usable = false;
            }
            if (symbol.ContainingType is { } outer)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NestedClass, identifier, name, outer.Name));
                usable = false;
            }
            if (symbol.TypeParameters.Length > 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GenericClass, identifier, name));
                usable = false;
            }
            if (symbol.IsStatic || symbol.IsAbstract)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StaticOrAbstract, identifier, name, symbol.IsStatic ? "static" : "abstract"));
                usable = false;
            }
            if (symbol.BaseType is { } baseType && baseType.SpecialType != SpecialType.System_Object)
            {
                if (baseType.TypeKind == TypeKind.Error) usable = false;
                else if (baseType.ToDisplayString() != VaeModelType)
                {
                    var location = node.BaseList?.Types.FirstOrDefault()?.GetLocation() ?? identifier;
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HasBaseClass, location, name, baseType.ToDisplayString()));
                    usable = false;
                }
            }

            var attribute = context.Attributes[0];
            var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            var attributeLocation = attributeSyntax?.GetLocation() ?? identifier;
            bool attributeBroken = HasErrors(attribute) || attribute.NamedArguments.Any(a => a.Value.Value is null)
                || (attributeSyntax?.ArgumentList?.Arguments.Count ?? 0) != attribute.NamedArguments.Length + attribute.ConstructorArguments.Length;
            if (attributeBroken) usable = false;

            int? input = null, latent = null, latentSamples = null;
            double? beta = null, sigma = null, freeBits = null;
            string objective = "Elbo";
            Location? betaLocation = null, freeBitsLocation = null, objectiveLocation = null, latentSamplesLocation = null, likelihoodLocation = null;
            string likelihood = "Bernoulli";
            bool likelihoodDefined = true;
            foreach (var argument in attribute.NamedArguments)
            {
                var value = argument.Value;
                if (value.Kind == TypedConstantKind.Error || value.Value is null) { usable = false; continue; }
                var location = NamedArgumentLocation(attributeSyntax, argument.Key) ?? attributeLocation;
                switch (argument.Key)
                {
                    case "Input": input = (int)value.Value; break;
                    case "Latent": latent = (int)value.Value; break;
                    case "LatentSamples":
                        latentSamplesLocation = location;
                        latentSamples = (int)value.Value;
                        if (latentSamples < 1)
                        {
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LatentSamplesInvalid, location, name, Format(latentSamples.Value)));
                            usable = false;
                        }
                        break;
                    case "Beta":
                        betaLocation = location;
                        beta = Convert.ToDouble(value.Value, CultureInfo.InvariantCulture);
                        if (!(beta >= 0) || double.IsInfinity(beta.Value))
                        {
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BetaInvalid, location, name, Format(beta.Value)));
                            usable = false;
                        }
                        break;
                    case "Sigma":
                        sigma = Convert.ToDouble(value.Value, CultureInfo.InvariantCulture);
                        // The kernels compute in float: the value must survive the conversion.
                        float single = (float)sigma.Value;
                        if (!(single > 0) || float.IsInfinity(single))
                        {
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.SigmaNotPositive, location, name, Format(sigma.Value)));
                            usable = false;
                        }
                        break;
                    case "FreeBits":
                        freeBitsLocation = location;
                        freeBits = Convert.ToDouble(value.Value, CultureInfo.InvariantCulture);
                        // The kernels compute in float: the value must survive the conversion.
                        if (!(freeBits >= 0) || float.IsInfinity((float)freeBits.Value))
                        {
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.FreeBitsInvalid, location, name, Format(freeBits.Value)));
                            usable = false;
                        }
                        break;
                    case "Objective":
                        objectiveLocation = location;
                        var objectiveMember = EnumMemberName(value);
                        if (objectiveMember is null)
                        {
                            diagnostics.Add(UndefinedEnum(value, location));
                            usable = false;
                        }
                        else objective = objectiveMember;
                        break;
                    case "Likelihood":
                        likelihoodLocation = location;
                        var member = EnumMemberName(value);
                        if (member is null)
                        {
                            diagnostics.Add(UndefinedEnum(value, location));
                            likelihoodDefined = false;
                            usable = false;
                        }
                        else likelihood = member;
                        break;
                }
            }

            // With [ImageInput] the input size is the image's, so Input may be left out.
            bool hasImage = symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ConvolutionParser.ImageInputAttribute);
            if ((input is null && !attributeBroken && !hasImage) || input <= 0)
            {
                var location = NamedArgumentLocation(attributeSyntax, "Input") ?? attributeLocation;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InputNotPositive, location, name,
                    input is null ? "; Input is missing" : "; it is " + Format(input.Value)));
                usable = false;
            }
            var quantizer = ParseQuantizer(symbol, name, diagnostics, ref usable, cancellationToken, out var quantizerSyntax);
            bool quantized = quantizer is not null || quantizerSyntax is not null;
            // A VQ-VAE's latent is its encoder's output size, so Latent may be left out.
            if ((latent is null && !attributeBroken && !quantized) || latent <= 0)
            {
                var location = NamedArgumentLocation(attributeSyntax, "Latent") ?? attributeLocation;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LatentNotPositive, location, name,
                    latent is null ? "; Latent is missing" : "; it is " + Format(latent.Value)));
                usable = false;
            }
            if (sigma is not null && likelihoodDefined && likelihood != "Gaussian")
            {
                var location = NamedArgumentLocation(attributeSyntax, "Sigma") ?? attributeLocation;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.SigmaWithoutGaussian, location, name, likelihood));
                usable = false;
            }

            if (objective != "Elbo")
            {
                // Beta and free bits shape the ELBO's closed-form KL; the importance-weighted bound has none.
                if (beta is not null && beta != 1.0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ElboOnlySetting, betaLocation ?? attributeLocation, name, "Beta", objective));
                    usable = false;
                }
                if (freeBits is not null && freeBits != 0.0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ElboOnlySetting, freeBitsLocation ?? attributeLocation, name, "FreeBits", objective));
                    usable = false;
                }
            }

            int classes = ParseConditional(symbol, name, diagnostics, ref usable, cancellationToken);
            var encoder = ParseLayers(symbol, EncoderAttribute, "Encoder", name, diagnostics, ref usable, cancellationToken);
            var decoder = ParseLayers(symbol, DecoderAttribute, "Decoder", name, diagnostics, ref usable, cancellationToken);
            if (quantized)
            {
                // There is no KL term, no noise and no bound to choose: these settings would be silently ignored.
                foreach (var (setting, location) in new[] { ("Beta", betaLocation), ("LatentSamples", latentSamplesLocation), ("FreeBits", freeBitsLocation), ("Objective", objectiveLocation) })
                {
                    if (location is null) continue;
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotForQuantizedLatent, location, setting, name,
                        "a VQ-VAE has no KL term, no noise and no bound to choose; its loss is the reconstruction plus the commitment (and codebook) terms"));
                    usable = false;
                }
                if (classes > 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotForQuantizedLatent, identifier, "[Conditional]", name,
                        "a conditional VQ-VAE is not supported yet"));
                    usable = false;
                }
                if (likelihoodDefined && (likelihood == "Gaussian" || likelihood == "GaussianLearnedVariance"))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LikelihoodDoesNotFit, likelihoodLocation ?? attributeLocation, likelihood, name,
                        "a VQ-VAE's reconstruction term is Likelihood.MeanSquaredError (the mean over values of (x - x_hat)^2, as PyTorch's F.mse_loss) or Likelihood.Bernoulli"));
                    usable = false;
                }
            }
            else if (likelihoodDefined && likelihood == "MeanSquaredError")
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LikelihoodDoesNotFit, likelihoodLocation ?? attributeLocation, likelihood, name,
                    "the mean squared error is not a log-likelihood, so it has no place in a bound; use it with [VectorQuantized], or Likelihood.Gaussian here"));
                usable = false;
            }
            // A VQ-VAE with dense encoder layers quantises the last one's output; with convolutions alone, the last
            // convolution's map, whose size the convolution parser computes (latent 0 asks it to).
            int? denseOutput = quantized && encoder.Count > 0 ? encoder[encoder.Count - 1].Units : (int?)null;
            int? latentForShapes = quantized ? (latent ?? denseOutput ?? 0) : latent;
            var convolutions = usable && latentForShapes is int j
                ? ConvolutionParser.Parse(symbol, name, j, decoder, likelihood == "GaussianLearnedVariance" ? 2 : 1, classes, diagnostics, ref usable, cancellationToken)
                : new ConvolutionParser.Result();
            if (usable && quantized && quantizer is not null)
            {
                var lastConv = convolutions.EncoderConvs.Count > 0 ? convolutions.EncoderConvs[convolutions.EncoderConvs.Count - 1] : null;
                int encoderOutput = denseOutput ?? lastConv?.Out.Size ?? 0;
                string? problem =
                    encoderOutput == 0 ? "a vector-quantised latent quantises the encoder's output; add [Encoder] or [EncoderConv2d] layers" :
                    denseOutput is null && lastConv!.Out.Channels != quantizer.Dimension
                        ? $"Dimension = {Format(quantizer.Dimension)}, but the last encoder convolution writes {lastConv.Out} ({Format(lastConv.Out.Channels)} channels); every position of that map is a vector of its channels, so make them equal" :
                    denseOutput is int width && width % quantizer.Dimension != 0
                        ? $"Dimension = {Format(quantizer.Dimension)} does not divide the last encoder layer's {Format(width)} outputs, which are cut into vectors of Dimension" :
                    latent is int given && given != encoderOutput
                        ? $"Latent = {Format(given)}, but the encoder's output z_e has {Format(encoderOutput)} values; leave Latent out or make them agree" :
                    null;
                if (problem is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.QuantizerDoesNotFit, quantizerSyntax?.GetLocation() ?? identifier, name, problem));
                    usable = false;
                }
                else
                {
                    latent = encoderOutput;
                    quantizer = denseOutput is null
                        ? quantizer with { Convolutional = true, Area = lastConv!.Out.Height * lastConv.Out.Width }
                        : quantizer;
                }
            }
            if (convolutions.Image is { } image)
            {
                if (input is int declared && declared != image.Size)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, NamedArgumentLocation(attributeSyntax, "Input") ?? attributeLocation,
                        "Input", name, $"it is {Format(declared)}, but [ImageInput] is {image} = {Format(image.Size)} values; leave Input out or make them agree"));
                    usable = false;
                }
                input = image.Size;
            }

            LikelihoodKind likelihoodKind = LikelihoodKind.Bernoulli;
            if (usable && !TryEnum(likelihood, out likelihoodKind))
            {
                // The attribute's enum has a member the generator does not know: a version mismatch, not a user mistake.
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, attributeLocation, name,
                    $"the generator has no likelihood named {likelihood}"));
                usable = false;
            }

            ObjectiveKind objectiveKind = ObjectiveKind.Elbo;
            if (usable && !TryEnum(objective, out objectiveKind))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, objectiveLocation ?? attributeLocation, name,
                    $"the generator has no objective named {objective}"));
                usable = false;
            }

            ModelSpec? model = null;
            if (usable)
            {
                var ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } n ? Escape(n.ToDisplayString()) : null;
                var metadataNamespace = symbol.ContainingNamespace is { IsGlobalNamespace: false } mn ? mn.ToDisplayString().Replace("@", "") + "." : "";
                model = new ModelSpec(ns, Escape(name), metadataNamespace + name,
                    input!.Value, latent!.Value, likelihoodKind, quantizer is null ? LatentKind.Gaussian : LatentKind.VectorQuantized, objectiveKind,
                    beta ?? 1.0, latentSamples ?? 1, sigma ?? 1.0, freeBits ?? 0.0, classes,
                    new EquatableArray<LayerSpec>(encoder), new EquatableArray<LayerSpec>(decoder),
                    convolutions.Image, new EquatableArray<ConvSpec>(convolutions.EncoderConvs),
                    convolutions.Reshape, new EquatableArray<ConvSpec>(convolutions.DecoderConvs), quantizer);
                // The same ops that plan the model count its parameters: one layout, computed in one place.
                double count = Planner.ParameterCount(model);
                if (count > MaxParameters)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ModelTooLarge, identifier, name,
                        count.ToString("G4", CultureInfo.InvariantCulture), MaxParameters.ToString(CultureInfo.InvariantCulture)));
                    model = null;
                }
            }
            return new ParseResult(model, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        /// <summary>A class with [Encoder] or [Decoder] but no [VariationalAutoencoder]: the layers would be silently ignored.</summary>
        public static ParseResult ParseOrphanLayers(GeneratorAttributeSyntaxContext context, string attributeName, CancellationToken cancellationToken)
        {
            var symbol = context.TargetSymbol;
            if (symbol.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ModelAttribute))
                return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            var location = context.Attributes[0].ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation() ?? symbol.Locations.FirstOrDefault();
            return new ParseResult(null, new EquatableArray<DiagnosticInfo>(new[]
            {
                DiagnosticInfo.Create(DiagnosticDescriptors.LayerWithoutModel, location, symbol.Name, attributeName),
            }));
        }

        /// <summary>
        /// [VectorQuantized]'s settings, or null when the class has none (<paramref name="syntax"/> null) or they are
        /// unusable (reported). Whether they fit the encoder is checked once its shapes are known.
        /// </summary>
        private static QuantizerSpec? ParseQuantizer(INamedTypeSymbol symbol, string name, List<DiagnosticInfo> diagnostics, ref bool usable,
            CancellationToken cancellationToken, out AttributeSyntax? syntax)
        {
            syntax = null;
            var attribute = symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == VectorQuantizedAttribute);
            if (attribute is null) return null;
            syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            if (HasErrors(attribute) || attribute.NamedArguments.Any(a => a.Value.Value is null))
            {
                usable = false; // the compiler reports the attribute's own errors
                return null;
            }
            int? codes = null, dimension = null, restartAfter = null;
            double commitment = 0.25, decay = 0.99;
            var at = syntax;
            bool ok = true;
            void Problem(string property, string message)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.QuantizerOutOfRange, NamedArgumentLocation(at, property) ?? at?.GetLocation(), name, message));
                ok = false;
            }
            foreach (var argument in attribute.NamedArguments)
            {
                var value = argument.Value.Value!;
                switch (argument.Key)
                {
                    case "Codes": codes = (int)value; break;
                    case "Dimension": dimension = (int)value; break;
                    case "RestartAfter": restartAfter = (int)value; break;
                    case "Commitment": commitment = Convert.ToDouble(value, CultureInfo.InvariantCulture); break;
                    case "Decay": decay = Convert.ToDouble(value, CultureInfo.InvariantCulture); break;
                }
            }
            if (codes is null) Problem("Codes", "Codes (the codebook's size K) is missing");
            else if (codes < 2 || codes > MaxCodes) Problem("Codes", $"Codes must be from 2 to {Format(MaxCodes)}; it is {Format(codes.Value)}");
            if (dimension is null) Problem("Dimension", "Dimension (each code's D values) is missing");
            else if (dimension < 1) Problem("Dimension", $"Dimension must be >= 1; it is {Format(dimension.Value)}");
            // The kernels use the settings in float and double: they must be finite numbers in range.
            if (!(commitment >= 0) || float.IsInfinity((float)commitment)) Problem("Commitment", $"Commitment must be a finite number >= 0; it is {Format(commitment)}");
            if (!(decay >= 0 && decay < 1)) Problem("Decay", $"Decay must be in [0, 1) (0: the optimiser trains the codebook); it is {Format(decay)}");
            if (restartAfter < 0) Problem("RestartAfter", $"RestartAfter must be >= 0 (0 turns restarts off); it is {Format(restartAfter!.Value)}");
            if (!ok)
            {
                usable = false;
                return null;
            }
            return new QuantizerSpec(codes!.Value, dimension!.Value, commitment, decay, restartAfter ?? 100, Convolutional: false, Area: 0);
        }

        /// <summary>Classes of [Conditional], or 0 when the model has none.</summary>
        private static int ParseConditional(INamedTypeSymbol symbol, string name, List<DiagnosticInfo> diagnostics, ref bool usable,
            CancellationToken cancellationToken)
        {
            var attribute = symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ConditionalAttribute);
            if (attribute is null) return 0;
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            if (HasErrors(attribute))
            {
                usable = false;
                return 0;
            }
            var classes = attribute.NamedArguments.FirstOrDefault(a => a.Key == "Classes");
            int value = classes.Value.Value is int c ? c : 0;
            if (value < 2)
            {
                var location = NamedArgumentLocation(syntax, "Classes") ?? syntax?.GetLocation();
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassesInvalid, location, name,
                    classes.Key is null ? "does not set Classes" : "has Classes = " + Format(value)));
                usable = false;
            }
            return value;
        }

        private static List<LayerSpec> ParseLayers(INamedTypeSymbol symbol, string attributeType, string side, string name,
            List<DiagnosticInfo> diagnostics, ref bool usable, CancellationToken cancellationToken)
        {
            var layers = new List<LayerSpec>();
            var attributes = symbol.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == attributeType).ToList();
            var declarations = attributes
                .Select(a => a.ApplicationSyntaxReference?.GetSyntax(cancellationToken).FirstAncestorOrSelf<TypeDeclarationSyntax>())
                .Where(d => d is not null)
                .Distinct()
                .Count();
            if (declarations > 1)
            {
                var location = attributes[0].ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation();
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LayersSplitAcrossParts, location, name, side));
                usable = false;
            }

            for (int i = 0; i < attributes.Count; i++)
            {
                var attribute = attributes[i];
                var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
                if (HasErrors(attribute) || attribute.ConstructorArguments.Length < 2)
                {
                    usable = false;
                    continue;
                }
                var unitsConstant = attribute.ConstructorArguments[0];
                var activationConstant = attribute.ConstructorArguments[1];
                if (unitsConstant.Value is not int units || activationConstant.Value is null)
                {
                    usable = false;
                    continue;
                }
                if (units <= 0)
                {
                    var location = ConstructorArgumentLocation(syntax, 0, "units") ?? syntax?.GetLocation();
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnitsNotPositive, location, side, Format(i), name, Format(units)));
                    usable = false;
                }
                var activation = EnumMemberName(activationConstant);
                if (activation is null)
                {
                    var location = ConstructorArgumentLocation(syntax, 1, "activation") ?? syntax?.GetLocation();
                    diagnostics.Add(UndefinedEnum(activationConstant, location));
                    usable = false;
                    continue;
                }
                var function = ActivationFunction.Find(activation);
                if (function is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, syntax?.GetLocation(), name,
                        $"the generator has no activation named {activation}"));
                    usable = false;
                    continue;
                }
                layers.Add(new LayerSpec(units, function));
            }
            return layers;
        }

        /// <summary>The generator's enum member of the attribute enum's member name, matched exactly.</summary>
        private static bool TryEnum<T>(string name, out T kind) where T : struct
        {
            foreach (T k in Enum.GetValues(typeof(T)))
            {
                if (k.ToString() != name) continue;
                kind = k;
                return true;
            }
            kind = default;
            return false;
        }

        private static bool HasErrors(AttributeData attribute) =>
            attribute.AttributeConstructor is null
            || attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
            || attribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error);

        /// <summary>The name of the enum member with this value, or null when no member has it.</summary>
        private static string? EnumMemberName(TypedConstant constant)
        {
            if (constant.Type is not INamedTypeSymbol { TypeKind: TypeKind.Enum } type || constant.Value is null) return null;
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>())
                if (field.HasConstantValue && Equals(field.ConstantValue, constant.Value)) return field.Name;
            return null;
        }

        private static DiagnosticInfo UndefinedEnum(TypedConstant constant, Location? location)
        {
            var type = constant.Type as INamedTypeSymbol;
            var names = type?.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue).Select(f => f.Name) ?? Enumerable.Empty<string>();
            return DiagnosticInfo.Create(DiagnosticDescriptors.UndefinedEnumValue, location,
                Convert.ToString(constant.Value, CultureInfo.InvariantCulture) ?? "?", type?.Name ?? "enum", string.Join(", ", names));
        }

        private static Location? NamedArgumentLocation(AttributeSyntax? syntax, string property) =>
            syntax?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == property)?.Expression.GetLocation();

        private static Location? ConstructorArgumentLocation(AttributeSyntax? syntax, int index, string parameter)
        {
            if (syntax?.ArgumentList is null) return null;
            var arguments = syntax.ArgumentList.Arguments;
            var named = arguments.FirstOrDefault(a => a.NameColon?.Name.Identifier.ValueText == parameter);
            if (named is not null) return named.Expression.GetLocation();
            var positional = arguments.Where(a => a.NameEquals is null && a.NameColon is null).ToList();
            return index < positional.Count ? positional[index].Expression.GetLocation() : null;
        }

        /// <summary>A dotted name with every keyword part escaped (@class), as it must be written in code.</summary>
        private static string Escape(string dottedName) =>
            string.Join(".", dottedName.Split('.').Select(part =>
            {
                var bare = part.TrimStart('@');
                return SyntaxFacts.GetKeywordKind(bare) != SyntaxKind.None ? "@" + bare : bare;
            }));

        private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

        private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
    }
}
