namespace Vae;

/// <summary>
/// Declares the input as images of <c>channels x height x width</c> (row-major per example, as PyTorch's
/// <c>[C, H, W]</c>), so convolutional encoder layers can read it; the model's Input is their product.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ImageInputAttribute(int channels, int height, int width) : Attribute
{
    public int Channels { get; } = channels;
    public int Height { get; } = height;
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
    public int OutChannels { get; } = outChannels;
    public int Kernel { get; } = kernel;
    public int Stride { get; } = stride;
    public int Padding { get; } = padding;
    public Activation Activation { get; } = activation;
}

/// <summary>
/// Reshapes the decoder's dense output (or z, without dense decoder layers) to <c>channels x height x width</c> for the
/// decoder's transposed convolutions; the sizes must multiply to the width before it.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class DecoderReshapeAttribute(int channels, int height, int width) : Attribute
{
    public int Channels { get; } = channels;
    public int Height { get; } = height;
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
    public int OutChannels { get; } = outChannels;
    public int Kernel { get; } = kernel;
    public int Stride { get; } = stride;
    public int Padding { get; } = padding;
    public int OutputPadding { get; } = outputPadding;
    public Activation Activation { get; } = activation;
}
