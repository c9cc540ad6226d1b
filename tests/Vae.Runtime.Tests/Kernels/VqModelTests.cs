using Vae.Reference;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Kernels;

/// <summary>
/// Generated VQ-VAEs on the CPU against the double-precision oracle (loss, every gradient tensor, the chosen codes), and
/// the training step's codebook maintenance, checkpoints and resume through the whole model.
/// </summary>
public class VqModelTests : IDisposable
{
    private readonly Device _device = Device.Cpu(2);

    public static IEnumerable<object[]> Cases()
    {
        foreach (var model in new[] { nameof(DenseVq), nameof(ConvVq), nameof(TinyVq), nameof(WideVq), nameof(ColourVq) })
        foreach (var batch in new[] { 1, 7, 64 })
            yield return [model, batch];
    }

    internal static VaeModel Create(string name, Device device, ulong seed = 1) => name switch
    {
        nameof(DenseVq) => new DenseVq(device, seed),
        nameof(ConvVq) => new ConvVq(device, seed),
        nameof(TinyVq) => new TinyVq(device, seed),
        nameof(WideVq) => new WideVq(device, seed),
        nameof(ColourVq) => new ColourVq(device, seed),
        nameof(PeerVqVae) => new PeerVqVae(device, seed),
        _ => throw new ArgumentException(name),
    };

    internal static float[] Inputs(ModelDescriptor d, int batch, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch * d.Input).Select(_ => (float)random.NextDouble()).ToArray();
    }

    /// <summary>A codebook spread around the encoder's outputs for this batch: random rows of z_e plus noise, as training would start it.</summary>
    internal static void SetCodebookNearEncoderOutputs(VaeModel model, float[] x, int seed)
    {
        var q = model.Architecture.Quantizer!;
        var random = new Random(seed);
        var codebook = new float[q.Codes * q.Dimension];
        for (int i = 0; i < codebook.Length; i++) codebook[i] = (float)(random.NextDouble() * 2 - 1);
        model.SetTensor("quantizer.codebook", codebook);
        if (model.Architecture.Tensors.Any(t => t.Name == "quantizer.initialized")) model.SetTensor("quantizer.initialized", [1f]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_gradients_and_codes_match_the_oracle(string name, int batch) => AssertMatchesOracle(_device, name, batch);

    /// <summary>On <paramref name="device"/>: the codes exactly, the loss, each example's loss and every gradient tensor against the oracle.</summary>
    internal static void AssertMatchesOracle(Device device, string name, int batch)
    {
        using var model = Create(name, device);
        var d = model.Architecture;
        var x = Inputs(d, batch, 3);
        SetCodebookNearEncoderOutputs(model, x, 4);
        var parameters = model.GetParameters();
        var state = model.GetState();

        var oracle = new ReferenceVae(d);
        var expectedCodes = new int[batch * d.QuantizedPositions];
        var expectedGradient = new double[d.ParameterCount];
        var expectedExample = new double[batch];
        double expected = oracle.QuantizedLoss(parameters.Select(v => (double)v).ToArray(), state.Select(v => (double)v).ToArray(), x, batch,
            expectedGradient, expectedExample, expectedCodes);

        Assert.Equal(expectedCodes, model.EncodeCodes(x));
        var exampleLoss = new float[batch];
        double loss = model.Loss(x, ReadOnlySpan<float>.Empty, exampleLoss);
        Assert.Equal(expected, loss, 1e-4 * Math.Max(1, Math.Abs(expected)));
        for (int b = 0; b < batch; b++) Assert.Equal(expectedExample[b], exampleLoss[b], 1e-4 * Math.Max(1, Math.Abs(expectedExample[b])));

        var gradient = new float[d.ParameterCount];
        double trainLoss = model.ComputeGradients(x, ReadOnlySpan<float>.Empty, gradient);
        Assert.Equal(expected, trainLoss, 1e-4 * Math.Max(1, Math.Abs(expected)));
        foreach (var t in d.Tensors.Where(t => t.Role == TensorRole.Parameter))
        {
            double scale = Math.Max(1e-3, Enumerable.Range(t.Offset, t.Length).Max(i => Math.Abs(expectedGradient[i])));
            for (int i = t.Offset; i < t.Offset + t.Length; i++)
                Assert.True(Math.Abs(gradient[i] - expectedGradient[i]) <= 2e-4 * scale,
                    $"{name} batch {batch}: d{t.Name}[{i - t.Offset}] = {gradient[i]}, oracle {expectedGradient[i]}");
        }
    }

    [Fact]
    public void First_training_step_sets_the_codebook_to_encoder_outputs_and_the_ema_step_matches_the_reference()
    {
        using var model = new ConvVq(_device, seed: 9);
        var d = model.Architecture;
        var q = d.Quantizer!;
        int batch = 5, rows = batch * d.QuantizedPositions;
        var x = Inputs(d, batch, 11);
        Assert.Equal(0f, model.GetTensor("quantizer.initialized")[0]);
        model.TrainStep(x, new Adam(1e-3f));
        Assert.Equal(1f, model.GetTensor("quantizer.initialized")[0]);

        // The reference's walk: z_e rows of the encoder before the step (Adam moved the encoder after it), the initial
        // rows the contract names, then one EMA step with the codes those rows choose.
        using var before = new ConvVq(_device, seed: 9);
        var parameters = before.GetParameters();
        var zRows = EncoderRows(before, x);
        var picks = Vae.Kernels.Cpu.VectorQuantizer.InitialRows(9, rows, q.Codes);
        var codebook = new double[q.Codes * q.Dimension];
        for (int k = 0; k < q.Codes; k++) Array.Copy(zRows, picks[k] * q.Dimension, codebook, k * q.Dimension, q.Dimension);
        var codes = ReferenceVectorQuantizer.Assign(zRows, codebook, q.Dimension);
        var clusterSize = Enumerable.Repeat(1.0, q.Codes).ToArray();
        var embedSum = (double[])codebook.Clone();
        ReferenceVectorQuantizer.EmaStep(zRows, codes, q.Dimension, q.Decay, clusterSize, embedSum, codebook);

        var actual = model.GetTensor("quantizer.codebook");
        for (int i = 0; i < codebook.Length; i++) Assert.Equal(codebook[i], actual[i], 1e-5 * Math.Max(1, Math.Abs(codebook[i])));
        var size = model.GetTensor("quantizer.cluster_size");
        for (int k = 0; k < q.Codes; k++) Assert.Equal(clusterSize[k], size[k], 1e-5);
        Assert.Equal(parameters.Length, model.GetParameters().Length);
    }

    /// <summary>z_e as rows of D for a model with a convolutional encoder of one layer (ConvVq): the oracle's walk.</summary>
    private static double[] EncoderRows(VaeModel model, float[] x)
    {
        var d = model.Architecture;
        var q = d.Quantizer!;
        var conv = d.EncoderConvolutions[0];
        var w = model.GetTensor("encoder.0.weight").Select(v => (double)v).ToArray();
        var b = model.GetTensor("encoder.0.bias").Select(v => (double)v).ToArray();
        int batch = x.Length / d.Input, positions = d.QuantizedPositions;
        var rows = new double[batch * positions * q.Dimension];
        for (int e = 0; e < batch; e++)
        {
            var input = x.Skip(e * d.Input).Take(d.Input).Select(v => (double)v).ToArray();
            var map = ReferenceConvolution.Forward(w, b, input, conv, transposed: false).Select(v => ReferenceActivations.Activate(conv.Activation, v)).ToArray();
            for (int p = 0; p < positions; p++)
            for (int c = 0; c < q.Dimension; c++) rows[(e * positions + p) * q.Dimension + c] = map[c * positions + p];
        }
        return rows;
    }

    [Theory]
    [InlineData(nameof(DenseVq))]
    [InlineData(nameof(ConvVq))]
    public void Training_resumed_from_a_checkpoint_is_bit_exact(string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"vq-{name}-{Guid.NewGuid():N}.safetensors");
        try
        {
            var batches = Enumerable.Range(0, 8).Select(i => Inputs(Create(name, _device).Architecture, 6, 20 + i)).ToArray();
            using var straight = Create(name, _device, seed: 3);
            var adam = new Adam(1e-2f);
            for (int i = 0; i < 4; i++) straight.TrainStep(batches[i], adam);
            Vae.Files.Checkpoint.Save(straight, path, adam);
            for (int i = 4; i < 8; i++) straight.TrainStep(batches[i], adam);

            using var resumed = Create(name, _device, seed: 77);
            var adam2 = new Adam(1e-2f);
            Vae.Files.Checkpoint.LoadInto(resumed, path, adam2);
            for (int i = 4; i < 8; i++) resumed.TrainStep(batches[i], adam2);

            Assert.Equal(straight.GetParameters(), resumed.GetParameters());
            Assert.Equal(straight.GetState(), resumed.GetState());
            Assert.Contains(straight.Architecture.Tensors, t => t.Name == "quantizer.idle");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Dead_codes_are_restarted_and_codes_decode_like_the_reconstruction()
    {
        using var model = new DenseVq(_device, seed: 5);
        var x = Inputs(model.Architecture, 16, 30);
        var adam = new Adam(1e-3f);
        for (int i = 0; i < 6; i++) model.TrainStep(x, adam);
        // RestartAfter = 2: no code can have gone unchosen for 2 steps at the end of a step.
        Assert.All(model.GetTensor("quantizer.idle"), v => Assert.True(v < 2, $"idle {v}"));

        var codes = model.EncodeCodes(x);
        var fromCodes = new float[x.Length];
        model.DecodeCodes(codes, fromCodes);
        var reconstruction = new float[x.Length];
        model.Reconstruct(x, reconstruction);
        Assert.Equal(reconstruction, fromCodes);
        var usage = model.CodeUsage(x);
        Assert.Equal(codes.Length, usage.Counts.Sum());
        Assert.InRange(usage.CodesUsed, 1, 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.DecodeCodes([5, 0, 0, 0], new float[12]));
        Assert.Throws<NotSupportedException>(() => model.Elbo(x));
        Assert.Throws<NotSupportedException>(() => model.Sample(2, 1));
    }

    /// <summary>A communicator of two ranks that never communicates: the refusal must come before any call.</summary>
    private sealed class TwoRanks : ICommunicator
    {
        public int Rank => 0;
        public int Size => 2;
        public bool Deterministic => true;
        public void AllReduceSum(Span<float> values) => throw new InvalidOperationException("no call expected");
        public void AllReduceSum(Span<double> values) => throw new InvalidOperationException("no call expected");
        public void Broadcast(Span<float> values, int root = 0) => throw new InvalidOperationException("no call expected");
        public void Barrier() => throw new InvalidOperationException("no call expected");
    }

    [Fact]
    public void A_failed_first_step_puts_back_a_trained_codebook_it_had_initialised()
    {
        // DenseVq trains its codebook with the optimiser (Decay 0), so the first step's initialisation from the batch
        // writes parameters; a step that then fails must leave every parameter and state value as it was.
        using var device = Device.Cpu(2);
        using var model = new DenseVq(device, 4);
        Assert.Equal(0, model.Architecture.Quantizer!.Decay);
        var parameters = model.GetParameters();
        var state = model.GetState();
        var x = TestData.Inputs(model.Architecture, 6, 5);
        var poisoned = (float[])x.Clone();
        poisoned[3] = float.NaN;
        Assert.Throws<NonFiniteLossException>(() => model.TrainStep(poisoned, new Adam(1e-3f)));
        Assert.Equal(parameters, model.GetParameters());
        Assert.Equal(state, model.GetState());
        Assert.Equal(0, model.Step);
        model.TrainStep(x, new Adam(1e-3f));
        Assert.Equal(1, model.Step);
        Assert.NotEqual(parameters, model.GetParameters());
    }

    [Fact]
    public void Data_parallel_training_refuses_a_vq_model_before_it_changes_anything()
    {
        using var device = Device.Cpu(1);
        using var model = new TinyVq(device, 1);
        var before = model.GetParameters();
        var x = TestData.Inputs(model.Architecture, 4, 2);
        var e = Assert.Throws<NotSupportedException>(() => model.TrainStep(x, default, new Adam(1e-3f), null, 0, 8, new TwoRanks()));
        Assert.Contains("vector-quantised", e.Message);
        Assert.Equal(before, model.GetParameters());
        Assert.Equal(0, model.Step);
    }

    public void Dispose() => _device.Dispose();
}
