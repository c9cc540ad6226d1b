using System.Globalization;
using System.Text.Json;
using Vae.Files;
using Xunit;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// Files PyTorch wrote (TestData/Torch, made by make_fixtures.py there; CI has no torch, so the files and torch's own
/// float32 conversion of every value, expected.json, are committed): F16, BF16 and F64 tensors must read as exactly
/// the float32 values torch's <c>.to(torch.float32)</c> gives, and integer tensors must be refused by name.
/// </summary>
public sealed class TorchFixtureTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "Torch");

    private static readonly Lazy<JsonDocument> Expected = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected.json"))));

    private static JsonElement ExpectedFile(string file) => Expected.Value.RootElement.GetProperty("files").GetProperty(file);

    private static uint[] ExpectedBits(string file, string tensor) =>
        [.. ExpectedFile(file).GetProperty(tensor).GetProperty("float32_bits").EnumerateArray()
            .Select(e => uint.Parse(e.GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];

    private static int[] ExpectedShape(string file, string tensor) =>
        [.. ExpectedFile(file).GetProperty(tensor).GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())];

    private static uint[] Bits(float[] values) => [.. values.Select(v => (uint)BitConverter.SingleToInt32Bits(v))];

    public static TheoryData<string, string> Files => new()
    {
        { "state_f16.safetensors", "F16" },
        { "state_bf16.safetensors", "BF16" },
        { "state_f32.safetensors", "F32" },
        { "state_f64.safetensors", "F64" },
        { "specials_f16.safetensors", "F16" },
        { "specials_bf16.safetensors", "BF16" },
        { "specials_f64.safetensors", "F64" },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_value_reads_as_torch_converts_it_to_float32(string name, string dtype)
    {
        string path = Path.Combine(Folder, name);
        var file = SafeTensors.ReadFile(path);
        var expectedNames = ExpectedFile(name).EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(expectedNames, file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var t in file.Tensors)
        {
            Assert.Equal(dtype, t.SourceDtype);
            Assert.Equal(ExpectedShape(name, t.Name), t.Shape);
            // Bit for bit, so -0, subnormals, ties, overflow to infinity and NaN all count.
            Assert.Equal(ExpectedBits(name, t.Name), Bits(t.Data));
        }

        // The same from a pipe, where the reader cannot know the length up front.
        var piped = SafeTensors.Read(new NonSeekableStream(chunk: 3, data: File.ReadAllBytes(path)), "pipe");
        Assert.Equal(file.Tensors.Select(t => Bits(t.Data)), piped.Tensors.Select(t => Bits(t.Data)));
        Assert.Equal(file.DataSha256, piped.DataSha256);
    }

    [Fact]
    public void The_edge_values_are_the_ones_meant()
    {
        // A few by hand, so that a regenerated expected.json cannot quietly change what is tested.
        var f16 = SafeTensors.ReadFile(Path.Combine(Folder, "specials_f16.safetensors"))["values"].Data;
        Assert.Equal(65504f, f16[5]);
        Assert.Equal(MathF.Pow(2, -24), f16[7]); // the smallest half subnormal
        Assert.True(float.IsPositiveInfinity(f16[13]));
        Assert.True(float.IsNaN(f16[15]));
        Assert.True(float.IsNegative(f16[1]) && f16[1] == 0);

        var bf16 = SafeTensors.ReadFile(Path.Combine(Folder, "specials_bf16.safetensors"))["values"].Data;
        Assert.Equal(3.3895313892515355e38f, bf16[5]); // the largest bfloat16
        Assert.Equal(BitConverter.Int32BitsToSingle(0x3eab0000), bf16[2]); // 1/3 rounded to 8 bits of mantissa

        var f64 = SafeTensors.ReadFile(Path.Combine(Folder, "specials_f64.safetensors"));
        var v = f64["values"].Data;
        Assert.Equal(1f / 3f, v[2]);
        Assert.True(float.IsPositiveInfinity(v[5])); // 1e300
        Assert.Equal(float.MaxValue, v[11]);
        Assert.True(float.IsPositiveInfinity(v[12])); // exactly halfway between float.MaxValue and 2^128: ties to even
        Assert.Equal(16777216f, v[14]); // 2^24 + 1 ties to even, down
        Assert.Equal(16777220f, v[15]); // 2^24 + 3 ties to even, up
        Assert.Equal(float.Epsilon, v[16]);
        Assert.Equal(0f, v[17]); // 2^-150 ties to even, to zero
        Assert.Equal(float.Epsilon, v[18]);
        Assert.Equal([-7.25f], f64["scalar"].Data);
        Assert.Empty(f64["scalar"].Shape);
        Assert.Equal([0, 3], f64["empty"].Shape);
        Assert.Empty(f64["empty"].Data);
    }

    [Theory]
    [InlineData("state_f16.safetensors")]
    [InlineData("state_bf16.safetensors")]
    [InlineData("state_f32.safetensors")]
    [InlineData("state_f64.safetensors")]
    public void A_torch_state_dict_loads_into_the_model_by_name(string name)
    {
        using var device = Device.Cpu(1);
        using var model = new TorchFixtureVae(device, seed: 5);
        Checkpoint.LoadInto(model, Path.Combine(Folder, name));

        foreach (var t in model.Architecture.Tensors)
        {
            Assert.Equal(ExpectedBits(name, t.Name), Bits(model.GetTensor(t.Name)));
        }
        Assert.Equal(0, model.Step); // a torch file says nothing of steps or seeds: the model keeps its own
        Assert.Equal(5UL, model.Seed);

        // Resuming needs what only a Vae checkpoint carries.
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadInto(model, Path.Combine(Folder, name), new Adam()));
        Assert.Contains("optimizer_type", e.Message);
        Assert.Contains("load without an optimiser", e.Message);
    }

    /// <summary>
    /// The same state dict saved by torch in half, bfloat16 and double evaluates like the float32 one, within the
    /// rounding of its type: the ELBO of the half-precision weights is within 1% of the float32 model's, bfloat16's
    /// (8 bits of mantissa) within 5%, and double's, which rounds to the float32 values, is the same.
    /// </summary>
    [Fact]
    public void Half_and_bfloat16_state_dicts_evaluate_within_their_rounding_of_float32()
    {
        using var device = Device.Cpu(1);
        double Elbo(string file)
        {
            using var model = new TorchFixtureVae(device, seed: 5);
            Checkpoint.LoadInto(model, Path.Combine(Folder, file));
            return model.Elbo(TestData.Inputs(model.Architecture, 64, 3), seed: 1);
        }
        double f32 = Elbo("state_f32.safetensors");
        Assert.Equal(f32, Elbo("state_f64.safetensors"));
        double f16 = Elbo("state_f16.safetensors"), bf16 = Elbo("state_bf16.safetensors");
        Assert.True(Math.Abs(f16 - f32) <= 0.01 * Math.Abs(f32), $"f16 {f16} vs f32 {f32}");
        Assert.True(Math.Abs(bf16 - f32) <= 0.05 * Math.Abs(f32), $"bf16 {bf16} vs f32 {f32}");
        Assert.NotEqual(f32, bf16); // the rounding is real: the check above is not comparing a file with itself
    }

    [Fact]
    public void Int64_tensors_are_read_as_int64_beside_the_floats()
    {
        // torch's BatchNorm1d state dict after one training forward: num_batches_tracked is an I64 scalar holding 1.
        string path = Path.Combine(Folder, "batchnorm_i64.safetensors");
        var file = SafeTensors.ReadFile(path);
        var count = file["num_batches_tracked"];
        Assert.True(count.IsInt64);
        Assert.Equal("I64", count.SourceDtype);
        Assert.Empty(count.Shape);
        Assert.Equal(new long[] { 1 }, count.Int64Data);
        Assert.Empty(count.Data);
        Assert.Equal(JsonValueKind.Null, ExpectedFile("batchnorm_i64.safetensors").GetProperty("num_batches_tracked").GetProperty("float32_bits").ValueKind);
        foreach (var name in new[] { "weight", "bias", "running_mean", "running_var" })
        {
            Assert.False(file[name].IsInt64);
            Assert.Equal(ExpectedBits("batchnorm_i64.safetensors", name), Bits(file[name].Data));
        }

        // Written back, the file holds the same I64 bytes, which read back the same.
        using var copy = new MemoryStream();
        SafeTensors.Write(copy, file.Tensors, file.Metadata);
        copy.Position = 0;
        var again = SafeTensors.Read(copy, "copy");
        Assert.Equal(new long[] { 1 }, again["num_batches_tracked"].Int64Data);
        Assert.Equal(file.DataSha256, again.DataSha256);
        Assert.Equal("I64", SafeTensors.ReadHeader(path).Tensors.Single(t => t.Name == "num_batches_tracked").Dtype);
    }
}
