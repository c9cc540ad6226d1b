using Vae.Files;
using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// Checkpoints of a model with BatchNorm: running statistics saved as F32 and num_batches_tracked as I64 under
/// PyTorch's names, no optimiser state for them, a round trip that restores everything, and a resumed run that is bit
/// for bit the uninterrupted one on the CPU.
/// </summary>
public sealed class BatchNormCheckpointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("vae-bn-").FullName;
    private readonly Device _device = Device.Cpu(2);

    public void Dispose()
    {
        _device.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static void Steps(VaeModel model, Optimizer optimizer, int from, int count)
    {
        var d = model.Architecture;
        for (int s = from; s < from + count; s++) model.TrainStep(TestData.Inputs(d, 6, (ulong)(100 + s)), optimizer);
    }

    [Fact]
    public void A_checkpoint_holds_the_state_under_pytorch_names_and_round_trips()
    {
        using var model = new ConvBatchNormVae(_device, seed: 2);
        var adam = new Adam(1e-2f);
        Steps(model, adam, 0, 3);
        string path = Path.Combine(_folder, "bn.safetensors");
        Checkpoint.Save(model, path, adam);

        var file = SafeTensors.ReadFile(path);
        var count = file["encoder.0.bn.num_batches_tracked"];
        Assert.Equal("I64", SafeTensors.ReadHeader(path).Tensors.Single(t => t.Name == count.Name).Dtype);
        Assert.Equal(new long[] { 3 }, count.Int64Data);
        Assert.Empty(count.Shape);
        Assert.Equal(model.GetTensor("decoder.1.bn.running_var"), file["decoder.1.bn.running_var"].Data);
        Assert.Equal([3], file["encoder.0.bn.running_mean"].Shape);
        // The optimiser keeps state for trained tensors only: the BatchNorm weight has some, its running statistics none.
        Assert.True(file.TryGet("optimizer.encoder.0.bn.weight.exp_avg", out _));
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("optimizer.", StringComparison.Ordinal) &&
                                                 (t.Name.Contains("running_") || t.Name.Contains("num_batches_tracked")));

        using var loaded = ConvBatchNormVae.Load(_device, path, new Adam(1e-2f));
        Assert.Equal(model.GetParameters(), loaded.GetParameters());
        Assert.Equal(model.GetState(), loaded.GetState());
        foreach (var t in model.Architecture.Tensors.Where(t => t.Type == TensorType.Int64))
            Assert.Equal(model.GetInt64Tensor(t.Name), loaded.GetInt64Tensor(t.Name));
        Assert.Equal(3, loaded.Step);
        // Evaluation uses the running statistics, so the loaded model evaluates as the saved one.
        var x = TestData.Inputs(model.Architecture, 5, 9);
        Assert.Equal(model.Elbo(x), loaded.Elbo(x));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_is_bit_exact_on_the_cpu()
    {
        using var straight = new ConvBatchNormRgbVae(_device, seed: 4);
        var adam = new Adam(1e-2f);
        Steps(straight, adam, 0, 6);

        using var first = new ConvBatchNormRgbVae(_device, seed: 4);
        var firstAdam = new Adam(1e-2f);
        Steps(first, firstAdam, 0, 3);
        string path = Path.Combine(_folder, "resume.safetensors");
        Checkpoint.Save(first, path, firstAdam);
        var resumedAdam = new Adam(1e-2f);
        using var resumed = ConvBatchNormRgbVae.Load(_device, path, resumedAdam);
        Steps(resumed, resumedAdam, 3, 3);

        Assert.Equal(straight.GetParameters(), resumed.GetParameters());
        Assert.Equal(straight.GetState(), resumed.GetState());
        Assert.Equal(new long[] { 6 }, resumed.GetInt64Tensor("decoder.0.bn.num_batches_tracked"));
        Assert.NotEqual(VaeModel.InitialState(straight.Architecture), straight.GetState());
    }

    [Fact]
    public void A_count_saved_as_float_or_a_negative_count_is_refused_by_name()
    {
        using var model = new ConvBatchNormDecoderVae(_device, seed: 1);
        string path = Path.Combine(_folder, "counts.safetensors");
        Checkpoint.Save(model, path);
        var tensors = SafeTensors.ReadFile(path).Tensors.ToList();
        var metadata = SafeTensors.ReadFile(path).Metadata;
        const string name = "decoder.1.bn.num_batches_tracked";

        void Rewrite(SafeTensor replacement)
        {
            var edited = tensors.Select(t => t.Name == name ? replacement : t).ToList();
            var entries = metadata.ToDictionary();
            entries[Checkpoint.DataSha256Key] = SafeTensors.ComputeDataSha256(edited);
            SafeTensors.WriteFile(path, edited, entries);
        }

        Rewrite(new SafeTensor(name, [], [2f]));
        var e = Assert.Throws<InvalidDataException>(() => ConvBatchNormDecoderVae.Load(_device, path));
        Assert.Contains($"tensor '{name}' is F32", e.Message);
        Rewrite(SafeTensor.FromInt64(name, [], [-1]));
        e = Assert.Throws<InvalidDataException>(() => ConvBatchNormDecoderVae.Load(_device, path));
        Assert.Contains("negative count", e.Message);
        Rewrite(SafeTensor.FromInt64(name, [], [41]));
        using var loaded = ConvBatchNormDecoderVae.Load(_device, path);
        Assert.Equal(new long[] { 41 }, loaded.GetInt64Tensor(name));
        Assert.Throws<ArgumentException>(() => loaded.GetTensor(name));
        Assert.Throws<ArgumentException>(() => loaded.GetGradient("decoder.1.bn.running_mean"));
    }

    [Fact]
    public void Initial_values_are_pytorchs()
    {
        using var model = new ConvBatchNormVae(_device, seed: 7);
        Assert.All(model.GetTensor("encoder.0.bn.weight"), v => Assert.Equal(1f, v));
        Assert.All(model.GetTensor("encoder.0.bn.bias"), v => Assert.Equal(0f, v));
        Assert.All(model.GetTensor("encoder.0.bn.running_mean"), v => Assert.Equal(0f, v));
        Assert.All(model.GetTensor("encoder.0.bn.running_var"), v => Assert.Equal(1f, v));
        Assert.Equal(new long[] { 0 }, model.GetInt64Tensor("encoder.0.bn.num_batches_tracked"));
        // The state sits after the parameters: the optimiser's buffers are exactly the parameters.
        var d = model.Architecture;
        Assert.All(d.Tensors.Where(t => t.Role == TensorRole.State && t.Type == TensorType.Float32), t => Assert.True(t.Offset >= d.ParameterCount));
        Assert.Equal(d.ParameterCount, model.GetParameters().Length);
        Assert.Equal(12, d.StateCount); // running_mean and running_var of 3 channels, and of 3 more in the decoder
    }
}
