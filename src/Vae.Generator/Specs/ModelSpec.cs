using Vae.Generator.Planning.Activations;

namespace Vae.Generator.Specs
{
    /// <summary>The decoder's p(x|z), as the Likelihood enum of the attributes names it.</summary>
    internal enum LikelihoodKind
    {
        Bernoulli,
        Gaussian,
        GaussianLearnedVariance,
        /// <summary>Mean squared error per value: a VQ-VAE's reconstruction loss, not a log-likelihood.</summary>
        MeanSquaredError,
    }

    /// <summary>The latent variable's family: the diagonal Gaussian, or a vector quantiser (VQ-VAE).</summary>
    internal enum LatentKind
    {
        Gaussian,
        VectorQuantized,
    }

    /// <summary>
    /// A vector quantiser as declared: K codes of D values, the commitment weight, the EMA decay (0: trained by the
    /// optimiser) and the restart threshold in steps (0: off); <paramref name="Convolutional"/> when the quantised vectors
    /// are the channels of each position of a convolutional encoder's map (D = its channels, <paramref name="Area"/> = H W),
    /// rather than consecutive values of a dense output (Area 0).
    /// </summary>
    internal sealed record QuantizerSpec(int Codes, int Dimension, double Commitment, double Decay, int RestartAfter, bool Convolutional, int Area);

    /// <summary>The bound the training loss is the negative of. Importance-weighted bounds join here.</summary>
    internal enum ObjectiveKind
    {
        Elbo,
        ImportanceWeighted,
        ImportanceWeightedDReG,
    }

    /// <summary>An image shape, channels x height x width (row-major per example, PyTorch's [C, H, W]).</summary>
    internal sealed record ImageSpec(int Channels, int Height, int Width)
    {
        public int Size => Channels * Height * Width;
        public override string ToString() => $"{Channels}x{Height}x{Width}";
    }

    /// <summary>
    /// A convolution as declared (square kernel): Conv2d in the encoder, ConvTranspose2d in the decoder, with the
    /// shapes it reads and writes computed by the parser. With <paramref name="BatchNorm"/> a BatchNorm2d follows it and
    /// the activation applies after the normalisation (Conv -> BatchNorm -> activation).
    /// </summary>
    internal sealed record ConvSpec(bool Transposed, int OutChannels, int Kernel, int Stride, int Padding, int OutputPadding,
        ActivationFunction Activation, ImageSpec In, ImageSpec Out, bool BatchNorm = false);

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
        EquatableArray<LayerSpec> Decoder,
        ImageSpec? Image = null,
        EquatableArray<ConvSpec> EncoderConvs = default,
        ImageSpec? DecoderReshape = null,
        EquatableArray<ConvSpec> DecoderConvs = default,
        QuantizerSpec? Quantizer = null);

    /// <summary>The outcome of parsing one class: a spec when it is usable, and the diagnostics found on the way.</summary>
    internal sealed record ParseResult(ModelSpec? Model, EquatableArray<DiagnosticInfo> Diagnostics);
}
