using System.Text.Json;
using System.Text.Json.Nodes;
using Vae.Files;
using Xunit;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// What a checkpoint load accepts and refuses: every rule of <see cref="Checkpoint"/> and each option that relaxes it,
/// with messages that name the file and the tensor or metadata entry, and a model left unchanged by a refused load.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-ckpt-tests-" + Guid.NewGuid().ToString("N"));
    private readonly Device _device = Device.Cpu(1);

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        _device.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /// <summary>A model trained for three Adam steps, so that its optimiser state is not zero.</summary>
    private TorchFixtureVae Trained(Optimizer optimizer, ulong seed = 3)
    {
        var model = new TorchFixtureVae(_device, seed);
        for (int s = 0; s < 3; s++)
            model.TrainStep(TestData.Inputs(model.Architecture, 4, (ulong)s), optimizer);
        return model;
    }

    /// <summary>Saves a trained model (with Adam's state unless told otherwise) and returns the path.</summary>
    private string Saved(string name = "model.safetensors", Optimizer? optimizer = null, bool withOptimizer = true)
    {
        optimizer ??= new Adam(1e-2f);
        using var model = Trained(optimizer);
        string path = Path.Combine(_dir, name);
        Checkpoint.Save(model, path, withOptimizer ? optimizer : null, new Dictionary<string, string> { ["note"] = "kept" });
        return path;
    }

    /// <summary>
    /// Rewrites a checkpoint through the format's own writer after editing its metadata and tensors; the checksum
    /// is recomputed for the new data unless <paramref name="rehash"/> is false, so that the rule under test is the
    /// one that fires.
    /// </summary>
    private static void Rewrite(string path, Action<Dictionary<string, string>>? metadata = null, Action<List<SafeTensor>>? tensors = null, bool rehash = true)
    {
        var file = SafeTensors.ReadFile(path);
        var m = new Dictionary<string, string>(file.Metadata);
        var list = file.Tensors.Select(t => t with { Data = [.. t.Data] }).ToList();
        metadata?.Invoke(m);
        tensors?.Invoke(list);
        if (rehash && m.ContainsKey(Checkpoint.DataSha256Key)) m[Checkpoint.DataSha256Key] = SafeTensors.ComputeDataSha256(list);
        SafeTensors.WriteFile(path, list, m);
    }

    private static void AssertFragments(Exception e, string[] fragments)
    {
        foreach (string f in fragments) Assert.True(e.Message.Contains(f, StringComparison.Ordinal), $"'{f}' is not in the message: {e.Message}");
    }

    private static void SetValue(List<SafeTensor> tensors, string name, int index, float value) => tensors.Single(t => t.Name == name).Data[index] = value;

    private static void EditArchitecture(string path, Action<JsonObject> edit) => Rewrite(path, m =>
    {
        var json = JsonNode.Parse(m[Checkpoint.ArchitectureKey])!.AsObject();
        edit(json);
        m[Checkpoint.ArchitectureKey] = json.ToJsonString();
    });

    /// <summary>Asserts a refused load names the file and every fragment, and leaves the model as it was.</summary>
    private InvalidDataException AssertRefused(string path, Optimizer? optimizer, CheckpointLoadOptions? options, params string[] fragments)
    {
        using var model = new TorchFixtureVae(_device, seed: 99);
        float[] before = model.GetParameters();
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadInto(model, path, optimizer, options));
        Assert.StartsWith(path + ": ", e.Message);
        AssertFragments(e, fragments);
        Assert.Equal(before, model.GetParameters());
        Assert.Equal(0, model.Step);
        Assert.Equal(99UL, model.Seed);
        return e;
    }

    private static InvalidDataException AssertMetadataRefused(string path, params string[] fragments)
    {
        // The metadata readers and the load give the same answer.
        foreach (var read in new Func<object?>[] { () => Checkpoint.ReadMetadata(path), () => Checkpoint.ReadArchitecture(path) })
        {
            var r = Assert.Throws<InvalidDataException>(read);
            Assert.StartsWith(path + ": ", r.Message);
            AssertFragments(r, fragments);
        }
        using var device = Device.Cpu(1);
        using var model = new TorchFixtureVae(device);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadInto(model, path));
        AssertFragments(e, fragments);
        return e;
    }

    // ---- what a healthy checkpoint carries -----------------------------------------------------------------

    [Fact]
    public void Resuming_restores_weights_step_seed_and_adam_state_exactly()
    {
        var adam = new Adam(1e-2f);
        using var original = Trained(adam, seed: 7);
        string path = Path.Combine(_dir, "resume.safetensors");
        Checkpoint.Save(original, path, adam);

        var resumedAdam = new Adam(1e-2f);
        using var resumed = TorchFixtureVae.Load(_device, path, resumedAdam);
        Assert.Equal(original.GetParameters(), resumed.GetParameters());
        Assert.Equal(3, resumed.Step);
        Assert.Equal(7UL, resumed.Seed);

        // The next step is the one the original takes: same noise (step 4), same moments.
        var x = TestData.Inputs(original.Architecture, 4, 11);
        Assert.Equal(original.TrainStep(x, adam), resumed.TrainStep(x, resumedAdam));
        Assert.Equal(original.GetParameters(), resumed.GetParameters());
    }

    [Fact]
    public void Saved_metadata_carries_format_checksum_and_the_callers_entries()
    {
        string path = Saved();
        var m = Checkpoint.ReadMetadata(path);
        var file = SafeTensors.ReadFile(path);

        Assert.Equal(Checkpoint.FormatValue, m.Format);
        Assert.Equal("vae-checkpoint-2", m[Checkpoint.FormatKey]);
        Assert.Equal(file.DataSha256, m.DataSha256);
        Assert.Equal(SafeTensors.ComputeDataSha256(file.Tensors), m[Checkpoint.DataSha256Key]);
        Assert.Equal(3, m.Step);
        Assert.Equal(3UL, m.Seed);
        Assert.Equal("Adam", m.OptimizerType);
        Assert.Equal("kept", m["note"]);
        Assert.Equal(new TorchFixtureVae(_device).Architecture, m.Architecture);
        Assert.Equal(m.Architecture, Checkpoint.ReadArchitecture(path));
    }

    [Fact]
    public void Extra_metadata_may_not_take_the_checkpoints_own_keys()
    {
        using var model = new TorchFixtureVae(_device);
        string path = Path.Combine(_dir, "x.safetensors");
        foreach (string key in new[] { Checkpoint.StepKey, Checkpoint.FormatKey, Checkpoint.DataSha256Key })
        {
            var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(model, path, extraMetadata: new Dictionary<string, string> { [key] = "1" }));
            Assert.Contains($"'{key}'", e.Message);
        }
        Assert.False(File.Exists(path));
    }

    // ---- integrity -----------------------------------------------------------------------------------------

    [Fact]
    public void A_flipped_bit_in_the_weights_is_reported_as_corruption()
    {
        string path = Saved();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01; // a low mantissa bit of the last value: finite and plausible, so only the checksum can tell
        File.WriteAllBytes(path, bytes);

        AssertRefused(path, null, null, "the tensor data is corrupt", "SHA-256", "metadata 'data_sha256'", "VerifyChecksum = false");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, options: new CheckpointLoadOptions { VerifyChecksum = false });
        Assert.Equal(3, model.Step);
    }

    [Fact]
    public void A_version_2_file_without_its_checksum_is_refused_and_a_version_1_file_loads()
    {
        string path = Saved();
        Rewrite(path, m => m.Remove(Checkpoint.DataSha256Key));
        AssertRefused(path, null, null, "metadata 'data_sha256' is missing", "vae-checkpoint-2");

        // Version 1 files (written before the checksum) carry none and load.
        Rewrite(path, m => m[Checkpoint.FormatKey] = "vae-checkpoint-1");
        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, new Adam(1e-2f));
        Assert.Equal(3, model.Step);
        Assert.Equal("vae-checkpoint-1", Checkpoint.ReadMetadata(path).Format);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    [InlineData(3e38f, "3E+38, beyond the largest magnitude")]
    public void Non_finite_or_absurd_weights_are_refused_with_the_tensor_and_first_index(float bad, string described)
    {
        string path = Saved();
        Rewrite(path, tensors: t =>
        {
            SetValue(t, "encoder.0.weight", 7, bad);
            SetValue(t, "encoder.0.weight", 20, bad);
        });

        AssertRefused(path, null, null, $"tensor 'encoder.0.weight' holds {described}", "at index 7 (element [1, 1] of [5, 6])", "first bad value");

        // Opting in loads it as it is.
        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, options: new CheckpointLoadOptions { AllowNonFinite = true });
        Assert.Equal(BitConverter.SingleToInt32Bits(bad), BitConverter.SingleToInt32Bits(model.GetTensor("encoder.0.weight")[7]));
    }

    [Fact]
    public void The_magnitude_limit_can_be_raised_or_lowered()
    {
        string path = Saved();
        Rewrite(path, tensors: t => SetValue(t, "decoder.out.bias", 2, 3e38f));
        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, options: new CheckpointLoadOptions { MaxMagnitude = float.MaxValue });
        Assert.Equal(3e38f, model.GetTensor("decoder.out.bias")[2]);

        string small = Saved("small.safetensors");
        AssertRefused(small, null, new CheckpointLoadOptions { MaxMagnitude = 1e-6f }, "beyond the largest magnitude a weight may have (1E-06)", "MaxMagnitude");
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointLoadOptions { MaxMagnitude = float.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointLoadOptions { MaxMagnitude = 0 });
    }

    [Fact]
    public void Bad_optimizer_state_is_refused_when_resuming_and_skipped_otherwise()
    {
        string path = Saved();
        Rewrite(path, tensors: t => SetValue(t, "optimizer.decoder.0.bias.exp_avg_sq", 1, -0.5f));
        AssertRefused(path, new Adam(), null, "tensor 'optimizer.decoder.0.bias.exp_avg_sq' holds the negative value -0.5", "second moment");

        Rewrite(path, tensors: t =>
        {
            SetValue(t, "optimizer.decoder.0.bias.exp_avg_sq", 1, 0.5f);
            SetValue(t, "optimizer.encoder.mu.weight.exp_avg", 3, float.NaN);
        });
        AssertRefused(path, new Adam(), null, "tensor 'optimizer.encoder.mu.weight.exp_avg' holds NaN at index 3");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path); // evaluation does not read the optimiser's state
        Assert.Equal(3, model.Step);
    }

    // ---- versions and metadata -----------------------------------------------------------------------------

    [Fact]
    public void An_unknown_format_version_is_refused()
    {
        string path = Saved();
        Rewrite(path, m => m[Checkpoint.FormatKey] = "vae-checkpoint-9");
        AssertMetadataRefused(path, "metadata 'format' is 'vae-checkpoint-9'", "cannot read", "vae-checkpoint-1 and vae-checkpoint-2", "newer version");
    }

    [Theory]
    [InlineData("pt", "it is 'pt'")]
    [InlineData(null, "there is none")]
    public void An_architecture_without_a_vae_format_is_corrupt_metadata(string? format, string found)
    {
        string path = Saved();
        Rewrite(path, m =>
        {
            if (format is null) m.Remove(Checkpoint.FormatKey);
            else m[Checkpoint.FormatKey] = format;
        });
        AssertMetadataRefused(path, "metadata 'architecture' marks a Vae checkpoint", found);
    }

    [Theory]
    [InlineData("step")]
    [InlineData("seed")]
    [InlineData("architecture")]
    public void A_vae_checkpoint_missing_its_own_entries_is_refused(string key)
    {
        string path = Saved();
        Rewrite(path, m =>
        {
            m.Remove(key);
            // Without the architecture the format check would fire first; keep the file otherwise plausible.
        });
        if (key == Checkpoint.ArchitectureKey)
            AssertMetadataRefused(path, "metadata 'architecture' is missing");
        else
            AssertMetadataRefused(path, $"metadata '{key}' is missing", "vae-checkpoint-2");
    }

    [Theory]
    [InlineData("step", "-1")]
    [InlineData("step", " 5")]
    [InlineData("step", "5.0")]
    [InlineData("step", "4294967295")] // the next step would not fit the 32-bit noise counter
    [InlineData("step", "99999999999999999999999")]
    [InlineData("seed", "NaN")]
    [InlineData("seed", "0x10")]
    [InlineData("seed", "18446744073709551616")]
    [InlineData("optimizer_type", "Ad am")]
    [InlineData("optimizer_type", "")]
    [InlineData("data_sha256", "00ff")]
    [InlineData("data_sha256", "zz00000000000000000000000000000000000000000000000000000000000000")]
    public void Malformed_checkpoint_metadata_is_refused_naming_the_entry(string key, string value)
    {
        string path = Saved();
        Rewrite(path, m => m[key] = value, rehash: false);
        AssertMetadataRefused(path, $"metadata '{key}'", $"'{value}'");
    }

    [Fact]
    public void The_largest_step_loads()
    {
        string path = Saved();
        Rewrite(path, m => m[Checkpoint.StepKey] = CheckpointMetadata.MaxStep.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, new Adam(1e-2f));
        Assert.Equal(uint.MaxValue - 1L, model.Step);
    }

    public static TheoryData<string, string> BrokenArchitectures => new()
    {
        { "{\"name\": ", "it is not valid JSON" },
        { "[1, 2]", "it must be a JSON object, found an array" },
        { "{\"name\":\"X\",\"input\":\"6\"}", "field 'input' must be a number, found a string" },
    };

    [Theory]
    [MemberData(nameof(BrokenArchitectures))]
    public void An_architecture_that_is_not_valid_json_or_has_wrong_fields_is_a_data_error(string json, string fragment)
    {
        string path = Saved();
        Rewrite(path, m => m[Checkpoint.ArchitectureKey] = json);
        AssertMetadataRefused(path, "metadata 'architecture'", fragment);
    }

    [Fact]
    public void Architecture_fields_of_the_wrong_type_or_unknown_values_are_data_errors()
    {
        var cases = new (Action<JsonObject> Edit, string[] Fragments)[]
        {
            (a => a["input"] = "6", ["field 'input' must be a number, found a string"]),
            (a => a["latent"] = 2.5, ["field 'latent' must be a 32-bit integer, found 2.5"]),
            (a => a["likelihood"] = "Poisson", ["field 'likelihood' is 'Poisson', not one of Bernoulli, Gaussian"]),
            (a => a["likelihood"] = "42", ["field 'likelihood' is '42'"]),
            (a => a["likelihood"] = "Bernoulli,Gaussian", ["field 'likelihood' is 'Bernoulli,Gaussian'"]),
            (a => a["encoder"]![0]!["activation"] = "Swish", ["field 'encoder[0].activation' is 'Swish'"]),
            (a => a["decoder"]![0]!["activation"] = "-3", ["field 'decoder[0].activation' is '-3'"]),
            (a => a["decoder"]![0]!.AsObject().Remove("units"), ["field 'decoder[0].units' is missing"]),
            (a => a["tensors"]![0]!["role"] = "Bias", ["field 'tensors[0].role' is 'Bias'"]),
            (a => a["tensors"]![2]!["shape"] = new JsonArray(2, "5"), ["field 'tensors[2].shape[1]' must be an integer, found \"5\""]),
            (a => a["tensors"]![1]!["name"] = a["tensors"]![0]!["name"]!.GetValue<string>(), ["appears twice"]),
            (a => a["tensors"]![0]!["shape"] = new JsonArray(65536, 65536), ["field 'tensors[0].shape' has more elements than a tensor can hold"]),
            (a => a["beta"] = -1, ["metadata 'architecture' is not a valid architecture description", "Beta must be >= 0"]),
            (a => a.Remove("sigma"), ["field 'sigma' is missing"]),
            (a => a["tensors"] = "none", ["field 'tensors' must be an array, found a string"]),
        };
        foreach (var (edit, fragments) in cases)
        {
            string path = Saved();
            EditArchitecture(path, edit);
            AssertMetadataRefused(path, fragments);
        }
    }

    [Fact]
    public void Typed_metadata_getters_refuse_nan_and_out_of_range_values()
    {
        string path = Saved();
        Rewrite(path, m =>
        {
            m["learning_rate"] = "NaN";
            m["kl_weight"] = "0.5";
            m["batch_size"] = "-128";
            m["history"] = "1.5,2,Infinity";
            m["good_history"] = "1.5,2.25";
        });
        var m = Checkpoint.ReadMetadata(path);

        var e = Assert.Throws<InvalidDataException>(() => m.GetSingle("learning_rate", 1e-3f, minimum: float.Epsilon));
        Assert.Contains(path, e.Message);
        Assert.Contains("metadata 'learning_rate' = 'NaN' is not a finite number", e.Message);
        Assert.Equal(0.5f, m.GetSingle("kl_weight", 1f, minimum: 0));
        Assert.Equal(1e-3f, m.GetSingle("absent", 1e-3f));
        Assert.Contains("'batch_size' = '-128' is not an integer in 1..", Assert.Throws<InvalidDataException>(() => m.GetInt32("batch_size", 128, minimum: 1)).Message);
        Assert.Contains("item 2 ('Infinity')", Assert.Throws<InvalidDataException>(() => m.GetDoubleList("history")).Message);
        Assert.Equal([1.5, 2.25], m.GetDoubleList("good_history"));
        Assert.Empty(m.GetDoubleList("absent"));
        Assert.Equal(3UL, m.GetUInt64(Checkpoint.SeedKey, 0));
        Assert.Equal("kept", m.GetString("note", ""));
    }

    // ---- resuming ------------------------------------------------------------------------------------------

    [Fact]
    public void Resuming_without_a_step_is_refused_not_restarted_at_step_zero()
    {
        // A file that is not a Vae checkpoint (no format) may lack the step; resuming from it still needs one.
        string path = Saved();
        Rewrite(path, m =>
        {
            m.Remove(Checkpoint.FormatKey);
            m.Remove(Checkpoint.ArchitectureKey);
            m.Remove(Checkpoint.StepKey);
        });
        AssertRefused(path, new Adam(), null, "metadata 'step' is missing", "resuming needs the step");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path); // loading weights alone needs no step
        Assert.Equal(0, model.Step);
    }

    [Fact]
    public void A_corrupted_optimizer_type_is_refused_not_dropped()
    {
        string path = Saved();
        Rewrite(path, m => m[Checkpoint.OptimizerTypeKey] = "Adaw");
        AssertRefused(path, new Adam(), null, "it holds Adaw state", "the optimiser given is Adam");

        Rewrite(path, m => m.Remove(Checkpoint.OptimizerTypeKey));
        AssertRefused(path, new Adam(), null, "metadata 'optimizer_type' is missing", "load without an optimiser to start Adam afresh");
    }

    [Fact]
    public void Missing_optimizer_state_is_refused_when_resuming()
    {
        string path = Saved();
        Rewrite(path, tensors: t => t.RemoveAll(x => x.Name == "optimizer.encoder.logvar.bias.exp_avg_sq"));
        AssertRefused(path, new Adam(), null, "it has no Adam state tensor 'optimizer.encoder.logvar.bias.exp_avg_sq' (shape [2])");

        string bare = Saved("bare.safetensors", withOptimizer: false);
        AssertRefused(bare, new Adam(), null, "carries no optimiser state");
    }

    [Fact]
    public void State_of_another_optimizer_is_refused_when_resuming()
    {
        string sgd = Saved("sgd.safetensors", new Sgd(1e-2f, momentum: 0.9f));
        AssertRefused(sgd, new Adam(), null, "it holds Sgd state", "the optimiser given is Adam");

        // SGD without momentum keeps no state, so a file with momentum holds tensors it would silently drop.
        AssertRefused(sgd, new Sgd(1e-2f), null, "'optimizer.encoder.0.weight.momentum_buffer'", "the Sgd given keeps no state");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, sgd, new Sgd(1e-2f, momentum: 0.5f));
        Assert.Equal(3, model.Step);
    }

    // ---- names ---------------------------------------------------------------------------------------------

    [Fact]
    public void Tensors_the_model_does_not_have_are_refused_unless_the_load_is_partial()
    {
        string path = Saved();
        Rewrite(path, tensors: t =>
        {
            t.Add(new SafeTensor("encoder.9.weight", [2, 2], [1, 2, 3, 4]));
            t.Add(new SafeTensor("optimizer.encoder.9.weight.exp_avg", [2, 2], [1, 2, 3, 4]));
        });
        AssertRefused(path, null, null, "it holds 2 tensors that TorchFixtureVae does not have", "'encoder.9.weight'",
            "'optimizer.encoder.9.weight.exp_avg'", "Strict = false");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, new Adam(1e-2f), new CheckpointLoadOptions { Strict = false });
        Assert.Equal(3, model.Step);
    }

    [Fact]
    public void A_partial_load_keeps_the_models_values_for_tensors_the_file_lacks()
    {
        using var source = Trained(new Adam(1e-2f));
        string path = Path.Combine(_dir, "encoder-only.safetensors");
        // A file that holds only the encoder, as another tool might write it.
        var encoder = source.Architecture.Tensors.Where(t => t.Name.StartsWith("encoder.", StringComparison.Ordinal))
            .Select(t => new SafeTensor(t.Name, t.Shape, source.GetTensor(t.Name))).ToList();
        SafeTensors.WriteFile(path, encoder, new Dictionary<string, string> { ["format"] = "pt" });

        AssertRefused(path, null, null, "it has no parameter tensor 'decoder.0.weight' (shape [4, 2])");

        using var model = new TorchFixtureVae(_device, seed: 42);
        float[] decoderBefore = model.GetTensor("decoder.out.weight");
        Checkpoint.LoadInto(model, path, options: new CheckpointLoadOptions { Strict = false });
        Assert.Equal(source.GetTensor("encoder.0.weight"), model.GetTensor("encoder.0.weight"));
        Assert.Equal(decoderBefore, model.GetTensor("decoder.out.weight"));

        // Names still have to fit: a file with no tensor of the model is surely the wrong file.
        string other = Path.Combine(_dir, "other.safetensors");
        SafeTensors.WriteFile(other, [new SafeTensor("fc1.weight", [1], [1f])]);
        AssertRefused(other, null, new CheckpointLoadOptions { Strict = false }, "it holds none of the tensors of TorchFixtureVae", "'fc1.weight'");
    }

    [Fact]
    public void Another_architecture_is_refused_with_its_differences_unless_the_load_is_partial()
    {
        var adam = new Adam(1e-2f);
        using var relu = new TorchFixtureReluVae(_device, seed: 1);
        string path = Path.Combine(_dir, "relu.safetensors");
        Checkpoint.Save(relu, path);
        AssertRefused(path, null, null, "different architecture", "decoder.0 uses Tanh vs Relu");

        using var model = new TorchFixtureVae(_device);
        Checkpoint.LoadInto(model, path, options: new CheckpointLoadOptions { Strict = false });
        Assert.Equal(relu.GetParameters(), model.GetParameters());

        // Shapes must match even then.
        using var wide = new TorchFixtureWideVae(_device, seed: 1);
        string widePath = Path.Combine(_dir, "wide.safetensors");
        Checkpoint.Save(wide, widePath);
        AssertRefused(widePath, null, new CheckpointLoadOptions { Strict = false }, "tensor 'encoder.0.weight' has shape [7, 6], the model needs [5, 6]");
    }
}
