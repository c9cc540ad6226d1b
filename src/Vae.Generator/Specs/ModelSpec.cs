namespace Vae.Generator.Specs
{
    /// <summary>One hidden layer as declared: width and the name of its Activation member.</summary>
    internal sealed record LayerSpec(int Units, string Activation);

    /// <summary>
    /// Everything the generator needs from one annotated class, as plain values (no symbols, syntax or locations),
    /// so that equal declarations give equal specs and the pipeline's later steps stay cached.
    /// </summary>
    internal sealed record ModelSpec(
        string? Namespace,
        string ClassName,
        string HintName,
        int Input,
        int Latent,
        string Likelihood,
        double Beta,
        int LatentSamples,
        double Sigma,
        EquatableArray<LayerSpec> Encoder,
        EquatableArray<LayerSpec> Decoder);

    /// <summary>The outcome of parsing one class: a spec when it is usable, and the diagnostics found on the way.</summary>
    internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
