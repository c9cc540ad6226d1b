using Vae.Generator.Planning.Activations;

namespace Vae.Generator.Specs
{
    /// <summary>The decoder's p(x|z), as the Likelihood enum of the attributes names it.</summary>
    internal enum LikelihoodKind
    {
        Bernoulli,
        Gaussian,
        GaussianLearnedVariance,
    }

    /// <summary>The latent variable's family. Only the diagonal Gaussian exists today; a vector-quantised latent joins here.</summary>
    internal enum LatentKind
    {
        Gaussian,
    }

    /// <summary>The bound the training loss is the negative of. Importance-weighted bounds join here.</summary>
    internal enum ObjectiveKind
    {
        Elbo,
        ImportanceWeighted,
        ImportanceWeightedDReG,
    }

    /// <summary>One hidden layer as declared: width and its activation from the catalogue.</summary>
    internal sealed record LayerSpec(int Units, ActivationFunction Activation);

    /// <summary>
    /// Everything the generator needs from one annotated class, as plain values (no symbols, syntax or locations),
    /// so that equal declarations give equal specs and the pipeline's later steps stay cached.
    /// </summary>
    /// <param name="Classes">Classes of a conditional model's label, appended one-hot to the encoder input and to z; 0 when unconditional.</param>
    internal sealed record ModelSpec(
        string? Namespace,
        string ClassName,
        string HintPrefix,
        int Input,
        int Latent,
        LikelihoodKind Likelihood,
        LatentKind LatentKind,
        ObjectiveKind Objective,
        double Beta,
        int LatentSamples,
        double Sigma,
        double FreeBits,
        int Classes,
        EquatableArray<LayerSpec> Encoder,
        EquatableArray<LayerSpec> Decoder);

    /// <summary>The outcome of parsing one class: a spec when it is usable, and the diagnostics found on the way.</summary>
    internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
