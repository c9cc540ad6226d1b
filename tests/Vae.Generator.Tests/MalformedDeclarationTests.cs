using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Vae.Generator.Tests;

/// <summary>
/// Declarations a person gets wrong or is half-way through typing. Whatever the input, the generator must not throw,
/// must report exactly the expected VAE diagnostics at exactly the marked spans, must generate nothing for a model it
/// reported, and must never add errors of its own making in generated files (garbage on top of the user's mistake).
/// </summary>
public class MalformedDeclarationTests
{
    private const string Using = "using Vae;\n\n";

    /// <summary>(case name, marked sources, whether the compiler itself reports an error in the user's code).</summary>
    public static TheoryData<string, string[], bool> Cases => new()
    {
        // The class itself.
        { "not partial", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic class {|VAE001:M|};" }, false },
        { "not partial and static", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic static class {|VAE001:{|VAE014:M|}|};" }, false },
        { "nested class", new[] { Using + "public partial class Outer\n{\n    [VariationalAutoencoder(Input = 784, Latent = 20)]\n    public partial class {|VAE011:Inner|};\n}" }, false },
        { "generic class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class {|VAE012:M|}<T>;" }, false },
        { "static class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic static partial class {|VAE014:M|};" }, false },
        { "abstract class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic abstract partial class {|VAE014:M|};" }, false },
        { "base class", new[] { Using + "public class Base\n{\n}\n\n[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M : {|VAE013:Base|};" }, false },
        { "record", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial record {|VAE015:M|};" }, false },
        { "positional record", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial record {|VAE015:M|}(int Size);" }, false },
        { "too many parameters", new[] { Using + "[VariationalAutoencoder(Input = 100000, Latent = 20)]\n[Encoder(100000, Activation.Relu)]\npublic partial class {|VAE016:M|};" }, false },

        // VariationalAutoencoder's arguments.
        { "empty VariationalAutoencoder", new[] { Using + "[{|VAE002:{|VAE003:VariationalAutoencoder|}|}]\npublic partial class M;" }, false },
        { "Input missing", new[] { Using + "[{|VAE002:VariationalAutoencoder(Latent = 20)|}]\npublic partial class M;" }, false },
        { "Input zero", new[] { Using + "[VariationalAutoencoder(Input = {|VAE002:0|}, Latent = 20)]\npublic partial class M;" }, false },
        { "Input negative", new[] { Using + "[VariationalAutoencoder(Input = {|VAE002:-784|}, Latent = 20)]\npublic partial class M;" }, false },
        { "Latent missing", new[] { Using + "[{|VAE003:VariationalAutoencoder(Input = 784)|}]\npublic partial class M;" }, false },
        { "Latent zero", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = {|VAE003:0|})]\npublic partial class M;" }, false },
        { "Sigma zero", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:0|})]\npublic partial class M;" }, false },
        { "Sigma negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:-0.5|})]\npublic partial class M;" }, false },
        { "Sigma NaN", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:double.NaN|})]\npublic partial class M;" }, false },
        { "Sigma infinite", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:double.PositiveInfinity|})]\npublic partial class M;" }, false },
        { "Sigma with Bernoulli", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli, Sigma = {|VAE006:0.5|})]\npublic partial class M;" }, false },
        { "Sigma with the default likelihood", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Sigma = {|VAE006:0.5|})]\npublic partial class M;" }, false },
        { "Sigma with GaussianLearnedVariance", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.GaussianLearnedVariance, Sigma = {|VAE006:1|})]\npublic partial class M;" }, false },
        { "negative Sigma with Bernoulli", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Sigma = {|VAE005:{|VAE006:-1|}|})]\npublic partial class M;" }, false },
        { "Beta negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Beta = {|VAE007:-0.5|})]\npublic partial class M;" }, false },
        { "Beta NaN", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Beta = {|VAE007:double.NaN|})]\npublic partial class M;" }, false },
        { "Beta infinite", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Beta = {|VAE007:double.PositiveInfinity|})]\npublic partial class M;" }, false },
        { "Beta infinite by division", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Beta = {|VAE007:1.0 / 0|})]\npublic partial class M;" }, false },
        { "LatentSamples zero", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, LatentSamples = {|VAE008:0|})]\npublic partial class M;" }, false },
        { "LatentSamples negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, LatentSamples = {|VAE008:-2|})]\npublic partial class M;" }, false },
        { "undefined Likelihood", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = {|VAE009:(Likelihood)7|})]\npublic partial class M;" }, false },
        { "undefined Likelihood with Sigma", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = {|VAE009:(Likelihood)7|}, Sigma = 0.5)]\npublic partial class M;" }, false },
        { "FreeBits negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, FreeBits = {|VAE019:-0.25|})]\npublic partial class M;" }, false },
        { "FreeBits NaN", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, FreeBits = {|VAE019:double.NaN|})]\npublic partial class M;" }, false },
        { "FreeBits beyond float", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, FreeBits = {|VAE019:1e300|})]\npublic partial class M;" }, false },
        { "FreeBits with the importance-weighted bound", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Objective = Objective.ImportanceWeighted, LatentSamples = 5, FreeBits = {|VAE020:0.5|})]\npublic partial class M;" }, false },
        { "Beta with DReG", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Beta = {|VAE020:0.5|}, Objective = Objective.ImportanceWeightedDReG)]\npublic partial class M;" }, false },
        { "undefined Objective", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Objective = {|VAE009:(Objective)9|})]\npublic partial class M;" }, false },
        { "Conditional with one class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Conditional(Classes = {|VAE021:1|})]\npublic partial class M;" }, false },
        { "Conditional with negative classes", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Conditional(Classes = {|VAE021:-10|})]\npublic partial class M;" }, false },
        { "Conditional without classes", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[{|VAE021:Conditional|}]\npublic partial class M;" }, false },
        { "Conditional without a model", new[] { Using + "[{|VAE010:Conditional(Classes = 10)|}]\npublic partial class M;" }, false },
        { "conv without an image input", new[] { Using + "[VariationalAutoencoder(Input = 64, Latent = 2)]\n[{|VAE024:EncoderConv2d(4, 3, 2, 1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "image with no channels", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[{|VAE022:ImageInput(0, 8, 8)|}]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\npublic partial class M;" }, false },
        { "image with negative height", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[{|VAE022:ImageInput(1, -8, 8)|}]\npublic partial class M;" }, false },
        { "conv with no output channels", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE022:EncoderConv2d(0, 3, 2, 1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "conv with kernel 0", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE022:EncoderConv2d(4, 0, 2, 1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "conv with stride 0", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE022:EncoderConv2d(4, 3, 0, 1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "conv with negative padding", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE022:EncoderConv2d(4, 3, 1, -1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "conv kernel larger than the image", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE023:EncoderConv2d(4, 9, 1, 0, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "second conv leaves nothing", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE023:EncoderConv2d(8, 5, 1, 0, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "conv after a dense encoder layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[Encoder(16, Activation.Relu)]\n[{|VAE024:EncoderConv2d(4, 3, 2, 1, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "transposed conv without a reshape", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE024:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "reshape that does not match the dense layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[{|VAE025:DecoderReshape(4, 4, 3)|}]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "reshape that does not match z", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE025:DecoderReshape(4, 4, 4)|}]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "reshape without transposed convs", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[{|VAE024:DecoderReshape(4, 4, 4)|}]\npublic partial class M;" }, false },
        { "reshape before a dense decoder layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE024:DecoderReshape(4, 4, 4)|}]\n[Decoder(64, Activation.Relu)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "decoder that does not end in the image", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE025:DecoderConvTranspose2d(1, 3, 2, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "decoder that ends in the wrong channels", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE025:DecoderConvTranspose2d(3, 4, 2, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "output padding as large as the stride", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE022:DecoderConvTranspose2d(1, 4, 2, 1, 2, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "negative output padding", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE022:DecoderConvTranspose2d(1, 4, 2, 1, -1, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "transposed conv with stride 0", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE022:DecoderConvTranspose2d(1, 4, 0, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "output layer with an activation", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE024:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Sigmoid)|}]\npublic partial class M;" }, false },
        { "Input that disagrees with the image", new[] { Using + "[VariationalAutoencoder(Input = {|VAE025:100|}, Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\npublic partial class M;" }, false },
        { "decoder image without an image input", new[] { Using + "[VariationalAutoencoder(Input = 64, Latent = 2)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE025:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "transposed conv empties the image", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE023:DecoderConvTranspose2d(1, 1, 1, 3, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "conditional model reshaping a z of the wrong size", new[] { Using + "[VariationalAutoencoder(Latent = 60)]\n[Conditional(Classes = 3)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE025:DecoderReshape(4, 4, 4)|}]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "learned variance from a transposed conv with one plane per channel", new[] { Using + "[VariationalAutoencoder(Latent = 2, Likelihood = Likelihood.GaussianLearnedVariance)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE025:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)|}]\npublic partial class M;" }, false },
        { "a valid convolutional model", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        // BatchNorm2d: a property of the convolution it follows, so it cannot be misplaced or doubled except as below.
        // Vector-quantised latents: settings out of range, settings that do not apply, shapes that do not fit.
        { "VQ with one code", new[] { Using + "[VariationalAutoencoder(Input = 8, Likelihood = Likelihood.MeanSquaredError)]\n[VectorQuantized(Codes = {|VAE027:1|}, Dimension = 2)]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ without Dimension", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[{|VAE027:VectorQuantized(Codes = 4)|}]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ with negative commitment and decay 1", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[VectorQuantized(Codes = 4, Dimension = 2, Commitment = {|VAE027:-0.5|}, Decay = {|VAE027:1.0|}, RestartAfter = {|VAE027:-1|})]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ with NaN decay", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[VectorQuantized(Codes = 4, Dimension = 2, Decay = {|VAE027:double.NaN|})]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ with Beta, LatentSamples, FreeBits and Objective", new[] { Using + "[VariationalAutoencoder(Input = 8, Beta = {|VAE028:0.5|}, LatentSamples = {|VAE028:2|}, FreeBits = {|VAE028:0.1|}, Objective = {|VAE028:Objective.Elbo|})]\n[VectorQuantized(Codes = 4, Dimension = 2)]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "conditional VQ", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[VectorQuantized(Codes = 4, Dimension = 2)]\n[Conditional(Classes = 3)]\n[Encoder(4, Activation.Identity)]\npublic partial class {|VAE028:M|};" }, false },
        { "VQ with a Gaussian likelihood", new[] { Using + "[VariationalAutoencoder(Input = 8, Likelihood = {|VAE030:Likelihood.Gaussian|})]\n[VectorQuantized(Codes = 4, Dimension = 2)]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "mean squared error without VQ", new[] { Using + "[VariationalAutoencoder(Input = 8, Latent = 2, Likelihood = {|VAE030:Likelihood.MeanSquaredError|})]\npublic partial class M;" }, false },
        { "VQ dimension not dividing the dense width", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[{|VAE029:VectorQuantized(Codes = 4, Dimension = 3)|}]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ dimension not the conv channels", new[] { Using + "[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]\n[{|VAE029:VectorQuantized(Codes = 4, Dimension = 3)|}]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ without an encoder", new[] { Using + "[VariationalAutoencoder(Input = 8, Latent = 4)]\n[{|VAE029:VectorQuantized(Codes = 4, Dimension = 2)|}]\npublic partial class M;" }, false },
        { "VQ with a Latent the encoder does not give", new[] { Using + "[VariationalAutoencoder(Input = 8, Latent = 6)]\n[{|VAE029:VectorQuantized(Codes = 4, Dimension = 2)|}]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ with a reshape that does not fit the codes", new[] { Using + "[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]\n[VectorQuantized(Codes = 4, Dimension = 4)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE025:DecoderReshape(4, 2, 2)|}]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "VQ with Codes = \"many\"", new[] { Using + "[VariationalAutoencoder(Input = 8)]\n[VectorQuantized(Codes = \"many\", Dimension = 2)]\n[Encoder(4, Activation.Identity)]\npublic partial class M;" }, true },
        { "a valid convolutional VQ model", new[] { Using + "[VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]\n[VectorQuantized(Codes = 4, Dimension = 4, Decay = 0)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "BatchNorm on the output layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = true)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE026:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity, BatchNorm = true)|}]\npublic partial class M;" }, false },
        { "BatchNorm on the only transposed conv", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[{|VAE026:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity, BatchNorm = 1 > 0)|}]\npublic partial class M;" }, false },
        { "BatchNorm on the output layer after a BatchNorm one", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Decoder(16, Activation.Relu)]\n[DecoderReshape(4, 2, 2)]\n[DecoderConvTranspose2d(2, 3, 1, 1, 0, Activation.Relu, BatchNorm = true)]\n[{|VAE026:DecoderConvTranspose2d(1, 4, 4, 0, 0, Activation.Identity, BatchNorm = true)|}]\npublic partial class M;" }, false },
        { "BatchNorm on a conv that empties the image", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[{|VAE023:EncoderConv2d(4, 9, 1, 0, Activation.Relu, BatchNorm = true)|}]\npublic partial class M;" }, false },
        { "BatchNorm on a conv without an image input", new[] { Using + "[VariationalAutoencoder(Input = 64, Latent = 2)]\n[{|VAE024:EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = true)|}]\npublic partial class M;" }, false },
        { "BatchNorm on a transposed conv without a reshape", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[{|VAE024:DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity, BatchNorm = true)|}]\npublic partial class M;" }, false },
        { "BatchNorm = false on the output layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = true)]\n[Decoder(64, Activation.Relu)]\n[DecoderReshape(4, 4, 4)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity, BatchNorm = false)]\npublic partial class M;" }, false },
        { "BatchNorm on both sides", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Identity, BatchNorm = true)]\n[Decoder(32, Activation.Relu)]\n[DecoderReshape(2, 4, 4)]\n[DecoderConvTranspose2d(3, 3, 1, 1, 0, Activation.Tanh, BatchNorm = true)]\n[DecoderConvTranspose2d(1, 4, 2, 1, 0, Activation.Identity)]\npublic partial class M;" }, false },
        { "BatchNorm on a dense layer", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\n[Encoder(16, Activation.Relu, BatchNorm = true)]\npublic partial class M;" }, true },
        { "BatchNorm twice on one conv", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = true, BatchNorm = true)]\npublic partial class M;" }, true },
        { "BatchNorm = \"yes\"", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = \"yes\")]\npublic partial class M;" }, true },
        { "BatchNorm = 1", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = 1)]\npublic partial class M;" }, true },
        { "BatchNorm from a field", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = M.Flag)]\npublic partial class M { public static bool Flag = true; }" }, true },
        { "BatchNorm = half typed", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, BatchNorm = )]\npublic partial class M;" }, true },
        { "BatchNorm as a positional argument", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu, true)]\npublic partial class M;" }, true },
        { "BatchNorm on ImageInput", new[] { Using + "[VariationalAutoencoder(Latent = 2)]\n[ImageInput(1, 8, 8, BatchNorm = true)]\n[EncoderConv2d(4, 3, 2, 1, Activation.Relu)]\npublic partial class M;" }, true },
        { "several mistakes at once", new[] { Using + "[VariationalAutoencoder(Input = {|VAE002:0|}, Latent = {|VAE003:-1|}, Beta = {|VAE007:double.NaN|}, LatentSamples = {|VAE008:0|})]\npublic partial class M;" }, false },

        // Layers.
        { "encoder units zero", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder({|VAE004:0|}, Activation.Relu)]\npublic partial class M;" }, false },
        { "encoder units negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, Activation.Relu)]\n[Encoder({|VAE004:-5|}, Activation.Tanh)]\npublic partial class M;" }, false },
        { "decoder units zero", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Decoder({|VAE004:0|}, Activation.Relu)]\npublic partial class M;" }, false },
        { "decoder units negative", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Decoder({|VAE004:-400|})]\npublic partial class M;" }, false },
        { "units by name", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(activation: Activation.Tanh, units: {|VAE004:-3|})]\npublic partial class M;" }, false },
        { "undefined encoder activation", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, {|VAE009:(Activation)99|})]\npublic partial class M;" }, false },
        { "undefined decoder activation", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Decoder(400, {|VAE009:(Activation)(-1)|})]\npublic partial class M;" }, false },
        { "zero units and undefined activation", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder({|VAE004:0|}, {|VAE009:(Activation)99|})]\npublic partial class M;" }, false },
        { "Encoder without VariationalAutoencoder", new[] { Using + "[{|VAE010:Encoder(400, Activation.Relu)|}]\npublic partial class M;" }, false },
        { "Decoder without VariationalAutoencoder", new[] { Using + "[{|VAE010:Decoder(400)|}]\npublic partial class M;" }, false },
        { "both layers without VariationalAutoencoder", new[] { Using + "[{|VAE010:Encoder(400)|}]\n[Encoder(200)]\n[{|VAE010:Decoder(400)|}]\npublic class M;" }, false },
        { "encoder layers split over two partial declarations", new[]
            {
                Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[{|VAE017:Encoder(400, Activation.Relu)|}]\npublic partial class M;",
                Using + "[Encoder(200, Activation.Relu)]\npublic partial class M;",
            }, false },
        { "both sides split over two partial declarations", new[]
            {
                Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[{|VAE017:Encoder(400)|}]\n[{|VAE017:Decoder(400)|}]\npublic partial class M;",
                Using + "[Encoder(200)]\n[Decoder(200)]\npublic partial class M;",
            }, false },

        // Valid declarations at the edges: nothing reported, one clean file generated.
        { "layers on another partial declaration", new[]
            {
                Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M;",
                Using + "[Encoder(400)]\n[Decoder(400)]\npublic partial class M\n{\n}",
            }, false },
        { "explicit VaeModel base", new[] { Using + "[VariationalAutoencoder(Input = 4, Latent = 2)]\npublic sealed partial class M : VaeModel;" }, false },
        { "constants from elsewhere", new[] { Using + "static class Sizes\n{\n    public const int Pixels = 28 * 28;\n}\n\n[VariationalAutoencoder(Input = Sizes.Pixels, Latent = 20 / 2, Beta = 0)]\ninternal partial class M;" }, false },

        // Half-typed code: the compiler reports it; the generator adds nothing, and no garbage.
        { "missing closing bracket", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)\npublic partial class M;" }, true },
        { "missing closing bracket on a layer", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, Activation.Relu)\npublic partial class M;" }, true },
        { "[Encoder(]", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(]\npublic partial class M;" }, true },
        { "[Encoder] without arguments", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder]\npublic partial class M;" }, true },
        { "[Encoder(400, Activation.)]", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, Activation.)]\npublic partial class M;" }, true },
        { "unknown activation name", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, Activation.Swish)]\npublic partial class M;" }, true },
        { "unknown likelihood name", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Gausian)]\npublic partial class M;" }, true },
        { "Likelihood = )", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = )]\npublic partial class M;" }, true },
        { "too many layer arguments", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[Encoder(400, Activation.Relu, 3)]\npublic partial class M;" }, true },
        { "Input = 784L", new[] { Using + "[VariationalAutoencoder(Input = 784L, Latent = 20)]\npublic partial class M;" }, true },
        { "Latent = 2.5", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 2.5)]\npublic partial class M;" }, true },
        { "unknown base class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M : Missing;" }, true },
        { "base list half typed", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M :\n" }, true },
        { "missing closing brace", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M\n{\n    public int Size => 1;\n" }, true },
        { "attribute on a method", new[] { Using + "public partial class C\n{\n    [VariationalAutoencoder(Input = 784, Latent = 20)]\n    public void M()\n    {\n    }\n}" }, true },
        { "attribute on an enum", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic enum E\n{\n    A,\n}" }, true },
        // The attribute's usage already rules out structs and interfaces (CS0592): nothing is piled on.
        { "attribute on a struct", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial struct M;" }, true },
        { "attribute on an interface", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial interface M;" }, true },
        { "attribute on a record struct", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial record struct M;" }, true },
        { "file-local class", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\nfile partial class {|VAE018:M|};" }, false },
        { "Encoder on a struct", new[] { Using + "[{|VAE010:Encoder(400)|}]\npublic partial struct M;" }, true },
        { "file with only the attribute", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n" }, true },
        { "duplicate VariationalAutoencoder", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\n[VariationalAutoencoder(Input = 10, Latent = 2)]\npublic partial class M;" }, true },
        { "duplicate VariationalAutoencoder in one list", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20), VariationalAutoencoder(Input = 10, Latent = 2)]\npublic partial class M;" }, true },
        { "Input = with no value: only the compiler reports", new[] { Using + "[VariationalAutoencoder(Input = , Latent = 20)]\npublic partial class M;" }, true },
        { "Input of the wrong type: only the compiler reports", new[] { Using + "[VariationalAutoencoder(Input = \"784\", Latent = 20)]\npublic partial class M;" }, true },
        { "non-constant Input: only the compiler reports", new[] { Using + "[VariationalAutoencoder(Input = System.Environment.ProcessorCount, Latent = 20)]\npublic partial class M;" }, true },
        { "class without a name generates nothing", new[] { Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class\n" }, true },
        { "VariationalAutoencoder on two partial declarations generates nothing", new[]
            {
                Using + "[VariationalAutoencoder(Input = 784, Latent = 20)]\npublic partial class M;",
                Using + "[VariationalAutoencoder(Input = 10, Latent = 2)]\npublic partial class M;",
            }, true },
        { "namespace with escaped keywords", new[] { Using + "namespace @class.@int;\n\n[VariationalAutoencoder(Input = 4, Latent = 2)]\npublic partial class M;" }, false },
        { "class named with an escaped keyword", new[] { Using + "[VariationalAutoencoder(Input = 4, Latent = 2)]\npublic partial class @event;" }, false },
        { "parameter count beyond any buffer", new[] { Using + "[VariationalAutoencoder(Input = 2000000000, Latent = 2000000000)]\npublic partial class {|VAE016:M|};" }, false },
        { "Sigma beyond float range", new[] { Using + "[VariationalAutoencoder(Input = 4, Latent = 2, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:1e300|})]\npublic partial class M;" }, false },
        { "Sigma below float range", new[] { Using + "[VariationalAutoencoder(Input = 4, Latent = 2, Likelihood = Likelihood.Gaussian, Sigma = {|VAE005:1e-300|})]\npublic partial class M;" }, false },
    };


    [Theory]
    [MemberData(nameof(Cases))]
    public void Reports_exactly_the_marked_diagnostics(string name, string[] markedSources, bool compilerErrors) =>
        Check(name, markedSources, compilerErrors);

    [Fact]
    public void There_are_enough_cases()
    {
        Assert.True(Cases.Count() >= 35, $"only {Cases.Count()} malformed declarations");
        // Every descriptor but the internal error and the diagnostics' own plumbing is exercised by some case.
        var used = Cases.SelectMany(c => (string[])c[1]).SelectMany(s => Regex.Matches(s, @"\{\|(VAE\d+):").Select(m => m.Groups[1].Value)).ToHashSet();
        var missing = Descriptors().Select(d => d.Id).Where(id => id != "VAE999" && !used.Contains(id)).ToList();
        Assert.True(missing.Count == 0, "no malformed case reports " + string.Join(", ", missing));
    }

    private static void Check(string name, string[] markedSources, bool compilerErrors)
    {
        var parsed = markedSources.Select((s, i) => Markup.Parse($"/src/Source{i}.cs", s)).ToArray();
        var run = GeneratorHarness.Run(parsed.Select(p => p.File).ToArray());
        var texts = parsed.ToDictionary(p => p.File.Path, p => p.File.Text);

        Assert.True(run.Exception is null, $"{name}: the generator threw {run.Exception}");
        var crashes = run.GeneratorDiagnostics.Where(d => d.Id is "VAE999" or "CS8785").ToList();
        Assert.True(crashes.Count == 0, $"{name}: {string.Join("\n", crashes)}");

        string Show(string id, string path, Microsoft.CodeAnalysis.Text.TextSpan span) =>
            $"{id} {path} {span} '{(texts.TryGetValue(path, out var text) && span.End <= text.Length ? text.Substring(span.Start, span.Length) : "?")}'";
        var expected = parsed.SelectMany(p => p.Expected).Select(e => Show(e.Id, e.Path, e.Span)).OrderBy(s => s, StringComparer.Ordinal).ToList();
        var reported = run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("VAE", StringComparison.Ordinal)).ToList();
        // The generator keeps locations as plain values and rebuilds them with Location.Create(path, span, lines), an
        // external-file location without a SourceTree, so the path comes from the line span.
        var actual = reported.Select(d => Show(d.Id, d.Location == Location.None ? "(no location)" : d.Location.GetLineSpan().Path, d.Location.SourceSpan))
            .OrderBy(s => s, StringComparer.Ordinal).ToList();
        Assert.True(expected.SequenceEqual(actual),
            $"{name}:\nexpected:\n  {string.Join("\n  ", expected)}\nactual:\n  {string.Join("\n  ", actual)}\nmessages:\n  " +
            string.Join("\n  ", reported.Select(d => d.ToString())));

        foreach (var d in reported)
        {
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            // An unfilled "{1}" or a stray brace means the arguments do not match the descriptor's format.
            Assert.DoesNotMatch(@"\{\d+\}", d.GetMessage());
        }

        // Errors in the user's files once the generated part is added: a class that derives from VaeModel itself only
        // compiles with the generated constructor, so the input compilation alone would be the wrong judge.
        var userErrors = run.OutputDiagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree is { } tree && run.Input.SyntaxTrees.Contains(tree))
            .ToList();
        if (compilerErrors)
            Assert.True(userErrors.Count > 0, $"{name}: the case claims a compiler error but the code compiles");
        else
            Assert.True(userErrors.Count == 0, $"{name}: unexpected compiler errors:\n{string.Join("\n", userErrors)}");

        if (expected.Count > 0)
            Assert.True(run.Sources.Count == 0, $"{name}: a reported model must not be generated, got {string.Join(", ", run.Sources.Keys)}");
        else if (!compilerErrors)
            Assert.True(run.Sources.Count == 3, $"{name}: a valid model must be generated (its class, CPU and device files)");

        // Nothing the generator wrote may carry an error or warning, whatever state the user's code is in.
        var garbage = run.OutputDiagnostics.Where(d => d.Location.SourceTree is { } tree && !run.Input.SyntaxTrees.Contains(tree)).ToList();
        Assert.True(garbage.Count == 0,
            $"{name}: {garbage.Count} errors/warnings in generated files:\n{string.Join("\n", garbage.Take(10))}");
    }

    // ---- The descriptor list and AnalyzerReleases.Shipped.md agree. ----

    /// <summary>Every DiagnosticDescriptor field of the (internal) DiagnosticDescriptors class, read by reflection.</summary>
    private static IReadOnlyList<DiagnosticDescriptor> Descriptors()
    {
        var type = typeof(VaeGenerator).Assembly.GetType("Vae.Generator.DiagnosticDescriptors", throwOnError: true)!;
        return type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToList();
    }

    private sealed record ReleaseRule(string Id, string Category, string Severity, string Notes);

    private static IReadOnlyList<ReleaseRule> ReleaseRules(string file, [CallerFilePath] string path = "")
    {
        var full = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "src", "Vae.Generator", file));
        return File.ReadAllLines(full)
            .Select(l => l.Split('|').Select(c => c.Trim()).ToArray())
            .Where(c => c.Length == 4 && Regex.IsMatch(c[0], @"^[A-Z]+\d+$"))
            .Select(c => new ReleaseRule(c[0], c[1], c[2], c[3]))
            .ToList();
    }

    [Fact]
    public void Every_descriptor_is_in_AnalyzerReleases_Shipped_with_the_same_title_and_vice_versa()
    {
        var descriptors = Descriptors().Select(d => new ReleaseRule(d.Id, d.Category, d.DefaultSeverity.ToString(), d.Title.ToString())).ToList();
        var shipped = ReleaseRules("AnalyzerReleases.Shipped.md");
        var unshipped = ReleaseRules("AnalyzerReleases.Unshipped.md");

        Assert.NotEmpty(descriptors);
        Assert.Equal(descriptors.OrderBy(r => r.Id, StringComparer.Ordinal), shipped.OrderBy(r => r.Id, StringComparer.Ordinal));
        Assert.Empty(unshipped.Select(r => r.Id).Intersect(shipped.Select(r => r.Id)));
        Assert.Equal(descriptors.Count, descriptors.Select(d => d.Id).Distinct().Count());
    }

    [Fact]
    public void Descriptor_ids_are_sequential_with_VAE999_reserved_for_internal_errors()
    {
        var numbers = Descriptors().Select(d => d.Id)
            .Where(id => id != "VAE999")
            .Select(id => int.Parse(Regex.Match(id, @"^VAE(\d{3})$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .OrderBy(n => n)
            .ToList();

        Assert.Equal(Enumerable.Range(1, numbers.Count), numbers);
        Assert.Contains(Descriptors(), d => d.Id == "VAE999");
    }

    [Fact]
    public void Descriptors_read_well()
    {
        foreach (var d in Descriptors())
        {
            Assert.Equal("Vae", d.Category);
            Assert.True(d.IsEnabledByDefault, d.Id);
            // Titles are short phrases for tables, without a full stop.
            Assert.False(d.Title.ToString().EndsWith('.'), $"{d.Id} title ends with a full stop");
            // Messages name the offending class in quotes, so a build log says which model is wrong. VAE009 names the
            // value and the enum instead (its location points at the argument).
            if (d.Id != "VAE009")
                Assert.Matches(@"'\{\d\}'", d.MessageFormat.ToString());
        }
    }
}
