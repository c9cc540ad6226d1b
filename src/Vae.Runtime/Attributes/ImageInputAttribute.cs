namespace Vae;

/// <summary>
/// Declares the input as images of <c>channels x height x width</c> (row-major per example, as PyTorch's
/// <c>[C, H, W]</c>), so convolutional encoder layers can read it; the model's Input is their product.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ImageInputAttribute(int channels, int height, int width) : Attribute
{
    /// <summary>Channels of an input image.</summary>
    public int Channels { get; } = channels;
    /// <summary>Rows of an input image.</summary>
    public int Height { get; } = height;
    /// <summary>Columns of an input image.</summary>
    public int Width { get; } = width;
}

/// <summary>
/// An encoder convolution, PyTorch's <c>Conv2d(in, outChannels, kernel, stride, padding)</c> with a square kernel,
/// followed by <paramref name="activation"/>. Encoder convolutions come before the encoder's dense layers, which read
/// their output flattened.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class EncoderConv2dAttribute(int outChannels, int kernel, int stride, int padding, Activation activation) : Attribute
{
    /// <summary>Channels the convolution writes.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Side of the square kernel.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Step between kernel positions, in both directions.</summary>
    public int Stride { get; } = stride;
    /// <summary>Zeros added on every side of the input.</summary>
    public int Padding { get; } = padding;
    /// <summary>The non-linearity after the bias (after the batch normalisation when <see cref="BatchNorm"/> is set).</summary>
    public Activation Activation { get; } = activation;
    /// <summary>
    /// Follows the convolution with PyTorch's <c>BatchNorm2d(outChannels)</c> (eps 1e-5, momentum 0.1, affine), named
    /// <c>&lt;layer&gt;.bn</c>; the layer is then Conv2d -> BatchNorm2d -> activation, the usual block. Training steps
    /// normalise by the batch's statistics and update the running ones; every other call uses the running statistics.
    /// </summary>
    public bool BatchNorm { get; set; }
}

/// <summary>
/// Reshapes the decoder's dense output (or z, without dense decoder layers) to <c>channels x height x width</c> for the
/// decoder's transposed convolutions; the sizes must multiply to the width before it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class DecoderReshapeAttribute(int channels, int height, int width) : Attribute
{
    /// <summary>Channels of the reshaped image.</summary>
    public int Channels { get; } = channels;
    /// <summary>Rows of the reshaped image.</summary>
    public int Height { get; } = height;
    /// <summary>Columns of the reshaped image.</summary>
    public int Width { get; } = width;
}

/// <summary>
/// A decoder transposed convolution, PyTorch's <c>ConvTranspose2d(in, outChannels, kernel, stride, padding,
/// outputPadding)</c> with a square kernel, followed by <paramref name="activation"/>. The last one is the decoder's
/// output layer (named <c>decoder.out</c>): it must give the input's image shape, with the Identity activation.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class DecoderConvTranspose2dAttribute(int outChannels, int kernel, int stride, int padding, int outputPadding, Activation activation) : Attribute
{
    /// <summary>Channels the transposed convolution writes.</summary>
    public int OutChannels { get; } = outChannels;
    /// <summary>Side of the square kernel.</summary>
    public int Kernel { get; } = kernel;
    /// <summary>Step between the input positions on the output, in both directions.</summary>
    public int Stride { get; } = stride;
    /// <summary>Rows and columns taken off every side of the output (PyTorch's padding).</summary>
    public int Padding { get; } = padding;
    /// <summary>Rows and columns added at the bottom and right of the output, smaller than the stride.</summary>
    public int OutputPadding { get; } = outputPadding;
    /// <summary>The non-linearity after the bias (Identity for the output layer; after the batch normalisation when <see cref="BatchNorm"/> is set).</summary>
    public Activation Activation { get; } = activation;
    /// <summary>
    /// Follows the transposed convolution with PyTorch's <c>BatchNorm2d(outChannels)</c>, as
    /// <see cref="EncoderConv2dAttribute.BatchNorm"/> does; not allowed on the last one, the output layer.
    /// </summary>
    public bool BatchNorm { get; set; }
}
