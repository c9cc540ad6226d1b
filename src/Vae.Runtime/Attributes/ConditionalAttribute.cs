namespace Vae;

/// <summary>
/// Makes the model conditional on a class label (a conditional VAE): the label, one-hot over <see cref="Classes"/>,
/// is appended to the encoder's input and to every latent sample the decoder reads, so q(z|x, y) and p(x|z, y).
/// The first encoder and decoder layers take Input + Classes and Latent + Classes inputs (PyTorch's shapes for the
/// same concatenation); every entry point takes the labels beside the data.
/// With <see cref="EncoderConv2dAttribute"/> layers the convolutions read the image alone and the label is appended to
/// the last convolution's output, flattened: the first dense encoder layer (or the latent heads) takes its size plus
/// Classes. A decoder whose <see cref="DecoderReshapeAttribute"/> comes straight after z (no dense decoder layer) reads
/// the label as Classes planes after z's channels, ones in the label's plane, so its first transposed convolution takes
/// channels + Classes.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ConditionalAttribute : Attribute
{
    /// <summary>Number of classes; labels are 0 .. Classes - 1. Required, at least 2.</summary>
    public int Classes { get; set; }
}
