using Vae.Reference;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Reference;

/// <summary>The convolution references: worked by hand, and the whole convolutional oracle against central differences.</summary>
public class ReferenceConvolutionTests
{
    [Fact]
    public void A_conv2d_and_its_transpose_worked_by_hand()
    {
        // 1x3x3 input 1..9, one 2x2 kernel [[1, 0], [0, -1]], stride 1, no padding: out[y, x] = in[y, x] - in[y + 1, x + 1] = -4.
        var conv = new ConvolutionDescriptor(1, 2, 1, 0, 0, Activation.Identity, new ImageShape(1, 3, 3), new ImageShape(1, 2, 2));
        double[] input = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        double[] weight = [1, 0, 0, -1];
        Assert.Equal(new double[] { -3.5, -3.5, -3.5, -3.5 }, ReferenceConvolution.Forward(weight, [0.5], input, conv, transposed: false));

        // Transposed, stride 2: each input value stamps the kernel times itself at (2y, 2x); 1x2x2 -> 1x4x4, bias 0.
        var up = new ConvolutionDescriptor(1, 2, 2, 0, 0, Activation.Identity, new ImageShape(1, 2, 2), new ImageShape(1, 4, 4));
        var stamped = ReferenceConvolution.Forward(weight, [0], [1, 2, 3, 4], up, transposed: true);
        Assert.Equal(new double[] { 1, 0, 2, 0, 0, -1, 0, -2, 3, 0, 4, 0, 0, -3, 0, -4 }, stamped);
    }

    [Fact]
    public void The_transpose_is_the_adjoint_of_the_convolution_with_the_same_weights()
    {
        // <conv(x), y> = <x, convT(y)>: Conv2d's weight [out, in, k, k] read as ConvTranspose2d's [in, out, k, k] with in and out swapped.
        var rng = new Random(3);
        var conv = new ConvolutionDescriptor(3, 3, 2, 1, 0, Activation.Identity, new ImageShape(2, 7, 5), new ImageShape(3, 4, 3));
        var transpose = new ConvolutionDescriptor(2, 3, 2, 1, 0, Activation.Identity, new ImageShape(3, 4, 3), new ImageShape(2, 7, 5));
        var w = Enumerable.Range(0, 3 * 2 * 9).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var x = Enumerable.Range(0, 70).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var y = Enumerable.Range(0, 36).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double left = ReferenceConvolution.Forward(w, new double[3], x, conv, false).Zip(y, (a, b) => a * b).Sum();
        double right = ReferenceConvolution.Forward(w, new double[2], y, transpose, true).Zip(x, (a, b) => a * b).Sum();
        Assert.Equal(left, right, 12);
    }

    [Theory]
    [InlineData(nameof(ConvVae))]
    [InlineData(nameof(ConvOnlyVae))]
    [InlineData(nameof(ConvConditionalVae))]
    [InlineData(nameof(ConvConditionalHeadsVae))]
    [InlineData(nameof(ConvConditionalDecoderVae))]
    [InlineData(nameof(ConvConditionalPlanesVae))]
    public void The_convolutional_oracle_matches_central_differences(string name)
    {
        var d = name switch
        {
            nameof(ConvVae) => ConvVae.Descriptor,
            nameof(ConvOnlyVae) => ConvOnlyVae.Descriptor,
            nameof(ConvConditionalVae) => ConvConditionalVae.Descriptor,
            nameof(ConvConditionalHeadsVae) => ConvConditionalHeadsVae.Descriptor,
            nameof(ConvConditionalDecoderVae) => ConvConditionalDecoderVae.Descriptor,
            nameof(ConvConditionalPlanesVae) => ConvConditionalPlanesVae.Descriptor,
            _ => throw new ArgumentException(name),
        };
        const int examples = 2;
        var x = TestData.Inputs(d, examples, 11);
        var eps = TestData.Noise(d, examples, 12);
        var labels = TestData.Labels(d, examples, 14);
        var p = TestData.Parameters(d, 13).Select(v => (double)v).ToArray();
        var oracle = new ReferenceVae(d);
        var gradient = new double[p.Length];
        oracle.Loss(p, x, eps, examples, d.Beta, gradient, labels: labels);
        const double h = 1e-6;
        for (int i = 0; i < p.Length; i++)
        {
            var plus = (double[])p.Clone();
            var minus = (double[])p.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (oracle.Loss(plus, x, eps, examples, d.Beta, null, labels: labels) - oracle.Loss(minus, x, eps, examples, d.Beta, null, labels: labels)) / (2 * h);
            double error = Math.Abs(numeric - gradient[i]) / Math.Max(1e-3, Math.Abs(numeric) + Math.Abs(gradient[i]));
            Assert.True(error < 1e-5, $"parameter {i} ({d.Tensors.First(t => i >= t.Offset && i < t.Offset + t.Length).Name}): analytic {gradient[i]:R}, numeric {numeric:R}");
        }
    }

    [Fact]
    public void Convolution_tensors_have_pytorch_names_shapes_and_fan_in()
    {
        var d = ConvVae.Descriptor;
        Assert.Equal(new[] { 3, 1, 3, 3 }, d.Tensor("encoder.0.weight").Shape);
        Assert.Equal(1 * 3 * 3, d.Tensor("encoder.0.weight").FanIn);
        Assert.Equal(new[] { 4, 3, 2, 2 }, d.Tensor("encoder.1.weight").Shape);
        Assert.Equal(new[] { 5, 24 }, d.Tensor("encoder.2.weight").Shape);
        Assert.Equal(new[] { 3, 2, 3, 3 }, d.Tensor("decoder.1.weight").Shape); // ConvTranspose2d: [in, out, k, k]
        Assert.Equal(2 * 3 * 3, d.Tensor("decoder.1.weight").FanIn);           // PyTorch: weight.size(1) * k * k
        Assert.Equal(new[] { 2, 1, 1, 1 }, d.Tensor("decoder.out.weight").Shape);
        Assert.Equal(48, d.Input);
        Assert.Equal("1x8x6-3x4x3(Relu)-4x3x2(Tanh)-5(Elu)-[2]-18(Relu)-3x3x2-2x8x6(Sigmoid)-1x8x6 Bernoulli", d.ToString());
    }
}

/// <summary>A convolutional model through the library's surface: training steps, a checkpoint round trip, a refused mismatch.</summary>
public class ConvolutionalModelTests
{
    [Fact]
    public void A_convolutional_model_trains_and_round_trips_through_a_checkpoint()
    {
        using var device = Device.Cpu(2);
        using var model = new ConvVae(device, 1);
        var x = TestData.Inputs(model.Architecture, 32, 2);
        var optimizer = new Adam(1e-2f);
        double first = model.TrainStep(x, optimizer);
        for (int i = 0; i < 30; i++) model.TrainStep(x, optimizer);
        double last = model.Loss(x, TestData.Noise(model.Architecture, 32, 3));
        Assert.True(last < first, $"loss {first} -> {last}");

        string path = Path.Combine(Path.GetTempPath(), $"vae-conv-{Guid.NewGuid():N}.safetensors");
        try
        {
            Vae.Files.Checkpoint.Save(model, path, optimizer);
            using var again = ConvVae.Load(device, path, new Adam(1e-2f));
            Assert.Equal(model.GetParameters(), again.GetParameters());
            Assert.Equal(model.Architecture.ToString(), Vae.Files.Checkpoint.ReadArchitecture(path)!.ToString());
            var e = Assert.Throws<InvalidDataException>(() => ConvOnlyVae.Load(device, path));
            Assert.Contains("convolutions", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
