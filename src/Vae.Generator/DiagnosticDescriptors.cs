using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Vae.Generator
{
    /// <summary>Every diagnostic the generator reports, with sequential IDs. Keep AnalyzerReleases.Shipped.md in step.</summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "Vae";

        private static DiagnosticDescriptor Error(string id, string title, string message) =>
            new DiagnosticDescriptor(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ClassNotPartial = Error("VAE001",
            "Model class must be partial",
            "'{0}' must be declared 'partial' so that Vae can generate the model's members into it");

        public static readonly DiagnosticDescriptor InputNotPositive = Error("VAE002",
            "Input size must be positive",
            "VariationalAutoencoder on '{0}' needs Input > 0 (the number of input features){1}");

        public static readonly DiagnosticDescriptor LatentNotPositive = Error("VAE003",
            "Latent size must be positive",
            "VariationalAutoencoder on '{0}' needs Latent > 0 (the number of latent dimensions){1}");

        public static readonly DiagnosticDescriptor UnitsNotPositive = Error("VAE004",
            "Layer units must be positive",
            "{0} layer {1} of '{2}' has {3} units; a layer needs at least 1 unit");

        public static readonly DiagnosticDescriptor SigmaNotPositive = Error("VAE005",
            "Sigma must be positive",
            "Sigma on '{0}' is {1}; the Gaussian decoder's standard deviation must be a finite number > 0");

        public static readonly DiagnosticDescriptor SigmaWithoutGaussian = Error("VAE006",
            "Sigma needs the Gaussian likelihood",
            "Sigma on '{0}' only applies to Likelihood.Gaussian, but the likelihood is {1}; remove Sigma or use Likelihood.Gaussian");

        public static readonly DiagnosticDescriptor BetaInvalid = Error("VAE007",
            "Beta must be non-negative",
            "Beta on '{0}' is {1}; the KL weight must be a finite number >= 0");

        public static readonly DiagnosticDescriptor LatentSamplesInvalid = Error("VAE008",
            "LatentSamples must be at least 1",
            "LatentSamples on '{0}' is {1}; at least one noise sample per example is needed");

        public static readonly DiagnosticDescriptor UndefinedEnumValue = Error("VAE009",
            "Undefined enum value",
            "{0} is not a defined {1} value; use one of: {2}");

        public static readonly DiagnosticDescriptor LayerWithoutModel = Error("VAE010",
            "Layer attribute without VariationalAutoencoder",
            "'{0}' has [{1}] but no [VariationalAutoencoder]; add [VariationalAutoencoder(Input = ..., Latent = ...)] or remove the attribute");

        public static readonly DiagnosticDescriptor NestedClass = Error("VAE011",
            "Model class must not be nested",
            "'{0}' is nested inside '{1}'; declare the model as a top-level class");

        public static readonly DiagnosticDescriptor GenericClass = Error("VAE012",
            "Model class must not be generic",
            "'{0}' has type parameters; a model's architecture is fixed at compile time, so declare a non-generic class");

        public static readonly DiagnosticDescriptor HasBaseClass = Error("VAE013",
            "Model class must not declare a base class",
            "'{0}' derives from '{1}'; the generated part derives from Vae.VaeModel, so remove the base class");

        public static readonly DiagnosticDescriptor StaticOrAbstract = Error("VAE014",
            "Model class must be a concrete, non-static class",
            "'{0}' is {1}; a model class must be instantiable");

        public static readonly DiagnosticDescriptor NotAClass = Error("VAE015",
            "Model must be a class",
            "'{0}' is a {1}; declare the model as a 'partial class'");

        public static readonly DiagnosticDescriptor ModelTooLarge = Error("VAE016",
            "Model too large",
            "'{0}' would have {1} parameters; at most {2} fit in one flat buffer");

        public static readonly DiagnosticDescriptor LayersSplitAcrossParts = Error("VAE017",
            "Layers declared on several partial declarations",
            "'{0}' declares [{1}] layers on more than one partial declaration, so their order is ambiguous; keep them on one declaration");

        public static readonly DiagnosticDescriptor FileLocalClass = Error("VAE018",
            "Model class must not be file-local",
            "'{0}' is a file-local type; the generated part lives in another file, so declare the model without 'file'");

        public static readonly DiagnosticDescriptor InternalError = Error("VAE999",
            "The Vae generator failed",
            "The Vae generator failed on '{0}': {1}. This is a bug in Vae; please report it with the declaration.");

        public static readonly DiagnosticDescriptor FreeBitsInvalid = Error("VAE019",
            "FreeBits must be non-negative",
            "FreeBits on '{0}' is {1}; the per-dimension KL floor must be a finite number >= 0 (in nats)");

        public static readonly DiagnosticDescriptor ElboOnlySetting = Error("VAE020",
            "Setting applies to the ELBO only",
            "{1} on '{0}' applies to the ELBO only, but the objective is {2}: the importance-weighted bound has no separate KL term to weight or floor");

        public static readonly DiagnosticDescriptor ClassesInvalid = Error("VAE021",
            "A conditional model needs at least two classes",
            "[Conditional] on '{0}' {1}; a label must choose among at least 2 classes");

        public static readonly DiagnosticDescriptor ConvolutionOutOfRange = Error("VAE022",
            "Convolution setting out of range",
            "{0} on '{1}': {2}");

        public static readonly DiagnosticDescriptor ShapeNotPositive = Error("VAE023",
            "A layer's output would be empty",
            "{0} on '{1}' maps {2} to {3}, which has no elements; use a smaller kernel or stride or more padding");

        public static readonly DiagnosticDescriptor LayerOrder = Error("VAE024",
            "Convolutional layer in the wrong place",
            "{0} on '{1}': {2}");

        public static readonly DiagnosticDescriptor ShapeMismatch = Error("VAE025",
            "Shapes do not fit",
            "{0} on '{1}': {2}");

        public static readonly DiagnosticDescriptor BatchNormPlacement = Error("VAE026",
            "BatchNorm2d where it cannot go",
            "{0} on '{1}': {2}");

        public static readonly DiagnosticDescriptor QuantizerOutOfRange = Error("VAE027",
            "Vector quantiser setting out of range",
            "[VectorQuantized] on '{0}': {1}");

        public static readonly DiagnosticDescriptor NotForQuantizedLatent = Error("VAE028",
            "Setting does not apply to a vector-quantised latent",
            "{0} on '{1}' does not apply to a vector-quantised latent: {2}");

        public static readonly DiagnosticDescriptor QuantizerDoesNotFit = Error("VAE029",
            "The quantiser does not fit the encoder",
            "[VectorQuantized] on '{0}': {1}");

        public static readonly DiagnosticDescriptor LikelihoodDoesNotFit = Error("VAE030",
            "Likelihood does not fit the latent",
            "Likelihood.{0} on '{1}': {2}");

        private static readonly Dictionary<string, DiagnosticDescriptor> All = new[]
        {
            ClassNotPartial, InputNotPositive, LatentNotPositive, UnitsNotPositive, SigmaNotPositive, SigmaWithoutGaussian,
            BetaInvalid, LatentSamplesInvalid, UndefinedEnumValue, LayerWithoutModel, NestedClass, GenericClass,
            HasBaseClass, StaticOrAbstract, NotAClass, ModelTooLarge, LayersSplitAcrossParts, FileLocalClass, FreeBitsInvalid,
            ElboOnlySetting, ClassesInvalid, ConvolutionOutOfRange, ShapeNotPositive, LayerOrder, ShapeMismatch, BatchNormPlacement,
            QuantizerOutOfRange, NotForQuantizedLatent, QuantizerDoesNotFit, LikelihoodDoesNotFit, InternalError,
        }.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor ById(string id) => All[id];

        public static IEnumerable<DiagnosticDescriptor> Every => All.Values;
    }
}
