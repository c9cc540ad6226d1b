using Vae.Files;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Safety;

/// <summary>
/// Tensors by their descriptor names: GetTensor, SetTensor (shape-checked) and GetGradient (from the last
/// ComputeGradients or TrainStep), on the CPU and, when a driver is present, on OpenCL; and the batch limit a device
/// reports against the one its models enforce.
/// </summary>
public sealed class TensorAccessTests(ITestOutputHelper output)
{
    public static TheoryData<string> Devices => new() { "cpu", "opencl" };

    private Device? Open(string kind)
    {
        if (kind == "cpu") return Device.Cpu(1);
        try
        {
            return Device.OpenCl();
        }
        catch (DeviceUnavailableException e)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + e.Message);
            output.WriteLine("Skipped: " + e.Message);
            return null;
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void GetGradient_is_each_tensors_slice_of_the_last_ComputeGradients(string kind)
    {
        using var device = Open(kind);
        if (device is null) return;
        using var model = new DeepVae(device, 3);
        var d = model.Architecture;
        var x = TestData.Inputs(d, 5, 1);
        var eps = TestData.Noise(d, 5, 2);
        var all = new float[d.ParameterCount];
        model.ComputeGradients(x, eps, all);
        // Calls that do not train leave the gradient alone.
        model.Loss(x, eps);
        model.Encode(x, new float[5 * d.Latent], new float[5 * d.Latent]);
        model.Elbo(x);
        _ = model.Sample(3, 1);
        foreach (var t in d.Tensors)
        {
            var g = model.GetGradient(t.Name);
            Assert.Equal(t.Length, g.Length);
            Assert.Equal(all.AsSpan(t.Offset, t.Length).ToArray(), g);
        }
        Assert.Contains(d.Tensors, t => model.GetGradient(t.Name).Any(v => v != 0));
    }

    [Fact]
    public void GetGradient_after_TrainStep_is_the_gradient_at_the_parameters_before_the_step()
    {
        using var device = Device.Cpu(1);
        using var stepped = new DeepVae(device, 4);
        using var twin = new DeepVae(device, 4);
        var d = stepped.Architecture;
        var x = TestData.Inputs(d, 6, 1);
        var eps = TestData.Noise(d, 6, 2);
        var expected = new float[d.ParameterCount];
        twin.ComputeGradients(x, eps, expected);
        stepped.TrainStep(x, eps, new Adam(1e-2f));
        foreach (var t in d.Tensors)
            Assert.Equal(expected.AsSpan(t.Offset, t.Length).ToArray(), stepped.GetGradient(t.Name));
        Assert.NotEqual(twin.GetTensor(d.Tensors[0].Name), stepped.GetTensor(d.Tensors[0].Name));
    }

    [Fact]
    public void GetGradient_after_a_clipped_step_is_the_clipped_gradient()
    {
        using var device = Device.Cpu(1);
        using var model = new DeepVae(device, 4);
        var d = model.Architecture;
        model.TrainStep(TestData.Inputs(d, 6, 1), new Sgd(1e-3f), clipGradientNorm: 1e-3f);
        double sumOfSquares = d.Tensors.Sum(t => model.GetGradient(t.Name).Sum(v => (double)v * v));
        Assert.Equal(1e-3, Math.Sqrt(sumOfSquares), 1e-6);
    }

    [Fact]
    public void GetGradient_before_any_gradient_and_unknown_names_are_refused()
    {
        using var device = Device.Cpu(1);
        using var model = new DeepVae(device, 4);
        var e = Assert.Throws<InvalidOperationException>(() => model.GetGradient("encoder.0.weight"));
        Assert.Contains("ComputeGradients or TrainStep", e.Message);
        model.TrainStep(TestData.Inputs(model.Architecture, 2, 1), new Adam());
        var unknown = Assert.Throws<ArgumentException>(() => model.GetGradient("encoder.9.weight"));
        Assert.Contains("encoder.0.weight", unknown.Message); // the message lists the names there are
        Assert.Throws<ArgumentException>(() => model.GetTensor("nope"));
        Assert.Throws<ArgumentNullException>(() => model.GetTensor(null!));
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void SetTensor_replaces_one_tensor_and_leaves_the_others(string kind)
    {
        using var device = Open(kind);
        if (device is null) return;
        using var model = new DeepVae(device, 3);
        var d = model.Architecture;
        var before = model.GetParameters();
        var target = d.Tensor("encoder.1.weight");
        var values = Enumerable.Range(0, target.Length).Select(i => i * 0.001f - 1f).ToArray();
        model.SetTensor(target.Name, values);
        Assert.Equal(values, model.GetTensor(target.Name));
        var after = model.GetParameters();
        for (int i = 0; i < after.Length; i++)
            if (i < target.Offset || i >= target.Offset + target.Length) Assert.Equal(before[i], after[i]);
        model.SetTensor("decoder.out.bias", [.. d.Tensor("decoder.out.bias").Shape], new float[d.Tensor("decoder.out.bias").Length]);
        Assert.All(model.GetTensor("decoder.out.bias"), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void SetTensor_checks_the_name_the_size_and_the_shape()
    {
        using var device = Device.Cpu(1);
        using var model = new DeepVae(device, 3);
        var w = model.Architecture.Tensor("encoder.0.weight"); // [129, 17]
        var before = model.GetParameters();

        var size = Assert.Throws<ArgumentException>(() => model.SetTensor(w.Name, new float[w.Length - 1]));
        Assert.Contains("[129, 17]", size.Message);
        var transposed = Assert.Throws<ArgumentException>(() => model.SetTensor(w.Name, [17, 129], new float[w.Length]));
        Assert.Contains("[129, 17]", transposed.Message);
        Assert.Contains("[17, 129]", transposed.Message);
        var name = Assert.Throws<ArgumentException>(() => model.SetTensor("encoder.0.wieght", new float[w.Length]));
        Assert.Contains("encoder.0.weight", name.Message);
        Assert.Equal(before, model.GetParameters());
    }

    [Fact]
    public void A_tensor_set_by_name_survives_a_checkpoint_under_the_same_name()
    {
        using var device = Device.Cpu(1);
        using var model = new DeepVae(device, 3);
        var values = Enumerable.Range(0, 17).Select(i => (float)i).ToArray();
        model.SetTensor("decoder.out.bias", values);
        string path = Path.Combine(Path.GetTempPath(), $"vae-settensor-{Guid.NewGuid():N}.safetensors");
        try
        {
            Checkpoint.Save(model, path);
            Assert.Equal(values, SafeTensors.ReadFile(path)["decoder.out.bias"].Data);
            using var loaded = DeepVae.Load(device, path);
            Assert.Equal(values, loaded.GetTensor("decoder.out.bias"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [MemberData(nameof(Devices))]
    public void A_device_reports_the_batch_limit_its_models_enforce(string kind)
    {
        using var device = Open(kind);
        if (device is null) return;
        using var model = new TinyVae(device, 1);
        Assert.Equal(device.MaxBatchSize, model.MaxBatchSize);
        Assert.Equal(kind == "cpu" ? 4096 : 1024, device.MaxBatchSize);
        var optimizer = new Adam();
        model.TrainStep(new float[device.MaxBatchSize], optimizer);
        Assert.Throws<ArgumentException>(() => model.TrainStep(new float[device.MaxBatchSize + 1], optimizer));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, optimizer, device.MaxBatchSize + 1));
    }
}
