using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Vae.Files;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// Seeded, bounded fuzzing of the checkpoint readers: thousands of mutated checkpoints (byte flips, truncations,
/// header, dtype, shape, offset, name and metadata edits, poisoned values with and without a matching checksum) from
/// Vae checkpoints and PyTorch files. Each goes through every reader; each load must either succeed with finite,
/// in-range values (leaving a sound model) or fail with an <see cref="InvalidDataException"/> naming the source, and
/// a failed load must leave the model as it was. VAE_FUZZ_SEED and VAE_FUZZ_INPUTS override the seed and count.
/// </summary>
public sealed partial class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int DefaultInputs = 1500;
    private const int DefaultSeed = 14;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-fuzz-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    internal static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : fallback;

    private sealed record Base(string Name, byte[] Bytes, JsonObject Header, byte[] Data);

    private static Base Parse(string name, byte[] bytes)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        return new Base(name, bytes, header, bytes[(8 + n)..]);
    }

    private static byte[] Join(JsonObject header, byte[] data) => Join(header.ToJsonString(), data);

    private static byte[] Join(string header, byte[] data)
    {
        byte[] text = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + text.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)text.Length);
        text.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + text.Length);
        return bytes;
    }

    private List<Base> Corpus(Device device)
    {
        Directory.CreateDirectory(_dir);
        var corpus = new List<Base>();
        var adam = new Adam(1e-2f);
        using (var model = new TorchFixtureVae(device, seed: 5))
        {
            for (int s = 0; s < 3; s++) model.TrainStep(TestData.Inputs(model.Architecture, 4, (ulong)s), adam);
            string withAdam = Path.Combine(_dir, "adam.safetensors");
            Checkpoint.Save(model, withAdam, adam, new Dictionary<string, string> { ["learning_rate"] = "0.01" });
            corpus.Add(Parse("vae+adam", File.ReadAllBytes(withAdam)));
            string bare = Path.Combine(_dir, "bare.safetensors");
            Checkpoint.Save(model, bare);
            corpus.Add(Parse("vae", File.ReadAllBytes(bare)));
            string sgd = Path.Combine(_dir, "sgd.safetensors");
            Checkpoint.Save(model, sgd, new Sgd(1e-2f, momentum: 0.9f));
            corpus.Add(Parse("vae+sgd", File.ReadAllBytes(sgd)));
        }
        string torch = Path.Combine(AppContext.BaseDirectory, "TestData", "Torch");
        foreach (string f in new[] { "state_f16", "state_bf16", "state_f32", "state_f64" })
            corpus.Add(Parse(f, File.ReadAllBytes(Path.Combine(torch, f + ".safetensors"))));
        return corpus;
    }

    // ---- mutations -----------------------------------------------------------------------------------------

    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "F4", "F6_E2M3", "C64", "Q7", ""];

    private static readonly string[] Tokens =
    [
        "0", "-1", "1", "2", "3", "4", "5", "6", "7", "12", "30", "2147483647", "2147483648", "4294967296", "1e400", "1.5", "-0",
        "null", "true", "[]", "{}", "\"\"", "\"Relu\"", "\"Tanh\"", "\"Bernoulli\"", "\"Gaussian\"", "\"Parameter\"", "\"42\"",
        "\"-1\"", "\"Bernoulli,Gaussian\"", "\"\\ud800\"", "\"F16\"", "\"I64\"", "\"encoder.0.weight\"", "[0,4]", "[5,6]", "[2]",
    ];

    private static readonly string[] MetadataValues =
    [
        "vae-checkpoint-1", "vae-checkpoint-2", "vae-checkpoint-9", "vae-checkpoint-", "pt", "", "0", "3", "-1", "NaN", "Infinity",
        "1e5", " 3", "4294967294", "4294967295", "18446744073709551615", "18446744073709551616", "Adam", "Sgd", "Adaw", "ad am",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "00", "{}", "{\"name\":\"X\"}",
    ];

    private static readonly string[] MetadataKeys = ["format", "step", "seed", "optimizer_type", "optimizer", "data_sha256", "architecture", "learning_rate"];

    private static readonly float[] PoisonValues = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3e38f, -3e38f, 1e20f, -0.5f, float.Epsilon, -0f];

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|\\btrue\\b|\\bfalse\\b|\\bnull\\b")]
    private static partial Regex JsonToken();

    private static string ReplaceToken(Random r, string json, out string what)
    {
        var tokens = JsonToken().Matches(json);
        if (tokens.Count == 0)
        {
            what = "no token";
            return json;
        }
        var m = tokens[r.Next(tokens.Count)];
        string with = Tokens[r.Next(Tokens.Length)];
        what = $"{Short(m.Value)} -> {with}";
        return json[..m.Index] + with + json[(m.Index + m.Length)..];
    }

    private static string Short(string s) => s.Length <= 40 ? s : s[..37] + "...";

    private static List<string> TensorNames(JsonObject header) => header.Select(p => p.Key).Where(k => k != "__metadata__").ToList();

    private static JsonObject Metadata(JsonObject header) =>
        header["__metadata__"] as JsonObject ?? (JsonObject)(header["__metadata__"] = new JsonObject());

    /// <summary>Re-records the data's checksum, so that a poisoned value must be caught by the value checks.</summary>
    private static void Rehash(JsonObject header, byte[] data)
    {
        if (header["__metadata__"] is JsonObject m && m.ContainsKey("data_sha256"))
            m["data_sha256"] = Convert.ToHexStringLower(SHA256.HashData(data));
    }

    /// <summary>One structured edit of a valid file, described for the report.</summary>
    private static (string What, byte[] Bytes) Structured(Random r, Base b)
    {
        var header = (JsonObject)b.Header.DeepClone();
        var data = (byte[])b.Data.Clone();
        var names = TensorNames(header);
        string name = names[r.Next(names.Count)];
        var entry = header[name]!.AsObject();
        switch (r.Next(14))
        {
            case 0:
            {
                string dtype = Dtypes[r.Next(Dtypes.Length)];
                entry["dtype"] = dtype;
                return ($"dtype of {name} = {dtype}", Join(header, data));
            }
            case 1:
            {
                var shape = entry["shape"]!.AsArray();
                int[] dims = [0, 1, 2, 3, 5, 6, 7, 30, -1, int.MaxValue];
                int choice = r.Next(4);
                if (choice == 0 && shape.Count > 0) shape[r.Next(shape.Count)] = dims[r.Next(dims.Length)];
                else if (choice == 1) shape.Add(dims[r.Next(dims.Length)]);
                else if (choice == 2 && shape.Count > 0) shape.RemoveAt(r.Next(shape.Count));
                else entry["shape"] = new JsonArray([.. shape.Select(d => (JsonNode?)JsonValue.Create(d!.GetValue<int>())).Reverse()]);
                return ($"shape of {name} = {entry["shape"]!.ToJsonString()}", Join(header, data));
            }
            case 2:
            {
                var offsets = entry["data_offsets"]!.AsArray();
                int which = r.Next(2);
                long[] deltas = [-8, -4, -2, -1, 1, 2, 4, 8];
                long value = r.Next(3) switch
                {
                    0 => offsets[which]!.GetValue<long>() + deltas[r.Next(deltas.Length)],
                    1 => r.Next(2) == 0 ? 0 : long.MaxValue,
                    _ => r.NextInt64(0, data.Length + 16),
                };
                offsets[which] = value;
                return ($"data_offsets[{which}] of {name} = {value}", Join(header, data));
            }
            case 3:
            {
                // Two tensors of the same size exchange their offsets: a valid layout with the data in the wrong places.
                string other = names[r.Next(names.Count)];
                var a = entry["data_offsets"]!.DeepClone();
                entry["data_offsets"] = header[other]!["data_offsets"]!.DeepClone();
                header[other]!.AsObject()["data_offsets"] = a;
                return ($"offsets of {name} and {other} swapped", Join(header, data));
            }
            case 4:
            {
                string renamed = r.Next(4) switch
                {
                    0 => "optimizer." + name,
                    1 => name + ".exp_avg",
                    2 => name.Replace('0', '1').Replace("mu", "nu"),
                    _ => name[..^1] + (char)('a' + r.Next(26)),
                };
                header.Remove(name);
                if (header.ContainsKey(renamed)) header.Remove(renamed);
                header[renamed] = entry;
                return ($"{name} renamed {renamed}", Join(header, data));
            }
            case 5:
                header.Remove(name);
                return ($"{name} removed from the header", Join(header, data));
            case 6:
            {
                string key = MetadataKeys[r.Next(MetadataKeys.Length)];
                string value = MetadataValues[r.Next(MetadataValues.Length)];
                Metadata(header)[key] = value;
                return ($"metadata {key} = '{value}'", Join(header, data));
            }
            case 7:
            {
                string key = MetadataKeys[r.Next(MetadataKeys.Length)];
                Metadata(header).Remove(key);
                return ($"metadata {key} removed", Join(header, data));
            }
            case 8:
            {
                if (Metadata(header)["architecture"] is not JsonValue arch) goto case 6;
                string edited = ReplaceToken(r, arch.GetValue<string>(), out string what);
                Metadata(header)["architecture"] = edited;
                if (r.Next(2) == 0) Rehash(header, data);
                return ($"architecture token {what}", Join(header, data));
            }
            case 9:
            {
                // A poisoned value, with the checksum recorded for it (half the time), so the value check must fire.
                var offsets = entry["data_offsets"]!.AsArray();
                long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
                if (entry["dtype"]!.GetValue<string>() != "F32" || end - begin < 4) goto case 10;
                long at = begin + 4 * r.NextInt64(0, (end - begin) / 4);
                float poison = PoisonValues[r.Next(PoisonValues.Length)];
                BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan((int)at), poison);
                bool rehash = r.Next(2) == 0;
                if (rehash) Rehash(header, data);
                return ($"{name}[{(at - begin) / 4}] = {poison}{(rehash ? " (rehashed)" : "")}", Join(header, data));
            }
            case 10:
            {
                // Flip one bit of the data, half the time with a matching checksum.
                int at = r.Next(Math.Max(1, data.Length));
                if (data.Length > 0) data[at] ^= (byte)(1 << r.Next(8));
                bool rehash = r.Next(2) == 0;
                if (rehash) Rehash(header, data);
                return ($"data bit flip at {at}{(rehash ? " (rehashed)" : "")}", Join(header, data));
            }
            case 11:
            {
                string edited = ReplaceToken(r, header.ToJsonString(), out string what);
                return ($"header token {what}", Join(edited, data));
            }
            case 12:
            {
                // The same key twice, which a JSON object cannot say but a file can.
                string text = header.ToJsonString();
                string dup = $"\"{name}\":{entry.ToJsonString()}";
                return ($"{name} duplicated", Join(text[..^1] + "," + dup + "}", data));
            }
            default:
            {
                // Metadata that is not an object of strings.
                JsonNode?[] values = [JsonValue.Create(3), new JsonArray(), JsonValue.Create(true), new JsonObject { ["step"] = 3 }];
                header["__metadata__"] = values[r.Next(values.Length)];
                return ("metadata not an object of strings", Join(header, data));
            }
        }
    }

    /// <summary>One byte-level edit of any file.</summary>
    private static (string What, byte[] Bytes) Raw(Random r, byte[] bytes)
    {
        var b = (byte[])bytes.Clone();
        int kind = r.Next(6);
        if (kind < 3) return ByteEdits.Apply(r, b, kind);
        switch (kind)
        {
            case 3:
            {
                ulong[] lengths = [0, 1, 7, 8, (ulong)b.Length, (ulong)b.Length - 8, ulong.MaxValue, 1UL << 40, 100_000_001];
                ulong n = r.Next(2) == 0 ? lengths[r.Next(lengths.Length)] : BinaryPrimitives.ReadUInt64LittleEndian(b) + (ulong)(r.Next(17) - 8);
                BinaryPrimitives.WriteUInt64LittleEndian(b, n);
                return ($"header length = {n}", b);
            }
            case 4:
            {
                int at = r.Next(b.Length);
                int count = Math.Min(b.Length - at, 1 + r.Next(32));
                r.NextBytes(b.AsSpan(at, count));
                return ($"{count} random bytes at {at}", b);
            }
            default:
            {
                // Replace a byte of the header with a JSON-significant one.
                byte[] significant = "{}[]\",:0-e. \\"u8.ToArray();
                int n = (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(b), (ulong)(b.Length - 8));
                int at = 8 + r.Next(Math.Max(1, n));
                if (at < b.Length) b[at] = significant[r.Next(significant.Length)];
                return ($"header byte {at} = '{(char)b[Math.Min(at, b.Length - 1)]}'", b);
            }
        }
    }

    // ---- the checks ----------------------------------------------------------------------------------------

    /// <summary>Null when the model holds only finite, in-range values (and sound optimiser state); otherwise what is wrong.</summary>
    private static string? Sound(VaeModel model, Optimizer? optimizer)
    {
        if (model.Step < 0 || model.Step > CheckpointMetadata.MaxStep) return $"step {model.Step}";
        var values = model.GetParameters();
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]) || Math.Abs(values[i]) > CheckpointLoadOptions.DefaultMaxMagnitude) return $"parameter {i} is {values[i]}";
        if (optimizer is null) return null;
        var state = new float[values.Length];
        for (int slot = 0; slot < optimizer.StateNames.Count; slot++)
        {
            model.GetOptimizerState(slot, state);
            for (int i = 0; i < state.Length; i++)
            {
                if (!float.IsFinite(state[i]) || Math.Abs(state[i]) > CheckpointLoadOptions.DefaultMaxMagnitude) return $"{optimizer.StateNames[slot]}[{i}] is {state[i]}";
                if (optimizer.StateNames[slot] == "exp_avg_sq" && state[i] < 0) return $"exp_avg_sq[{i}] is {state[i]}";
            }
        }
        return null;
    }

    private static string? SoundFile(SafeTensorsFile file)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            if (!names.Add(t.Name)) return $"tensor '{t.Name}' twice";
            if (t.ElementCount != t.Data.Length) return $"tensor '{t.Name}' has {t.Data.Length} values for shape [{string.Join(", ", t.Shape)}]";
            if (t.Shape.Any(d => d < 0)) return $"tensor '{t.Name}' has a negative dimension";
        }
        return file.DataSha256.Length == 64 ? null : "no checksum";
    }

    /// <summary>Loads into a model and checks the outcome: sound values on success, an unchanged model on failure.</summary>
    private static string? LoadAndCheck(VaeModel model, Action load, Optimizer? optimizer)
    {
        float[] before = model.GetParameters();
        long step = model.Step;
        ulong seed = model.Seed;
        try
        {
            load();
        }
        catch (InvalidDataException)
        {
            if (!before.AsSpan().SequenceEqual(model.GetParameters()) || model.Step != step || model.Seed != seed)
                throw new InvalidOperationException("a refused load changed the model");
            throw;
        }
        return Sound(model, optimizer);
    }

    [Fact]
    public void Mutated_checkpoints_load_soundly_or_fail_cleanly()
    {
        int seed = Setting("VAE_FUZZ_SEED", DefaultSeed);
        int inputs = Setting("VAE_FUZZ_INPUTS", DefaultInputs);
        var r = new Random(seed);
        var tally = new FuzzTally("checkpoint fuzz", seed);
        var clock = Stopwatch.StartNew();

        using var device = Device.Cpu(1);
        var corpus = Corpus(device);
        using var model = new TorchFixtureVae(device, seed: 77);
        float[] initial = model.GetParameters();
        var strict = CheckpointLoadOptions.Default;
        var partial = new CheckpointLoadOptions { Strict = false };
        string path = Path.Combine(_dir, "fuzzed.safetensors");

        for (int i = 0; i < inputs; i++)
        {
            var b = corpus[r.Next(corpus.Count)];
            var (what, bytes) = r.Next(3) switch
            {
                0 => Raw(r, b.Bytes),
                1 => Structured(r, b),
                _ => Chain(r, b),
            };
            string mutation = $"#{i} {b.Name}: {what}";
            string source = $"fuzz-{i}.safetensors";
            tally.NewInput();

            tally.Run("SafeTensors.Read", mutation, source, () => SoundFile(SafeTensors.Read(new MemoryStream(bytes), source)));
            tally.Run("SafeTensors.ReadHeader", mutation, source, () =>
            {
                var header = SafeTensors.ReadHeader(new MemoryStream(bytes), source);
                _ = new CheckpointMetadata(source, header.Metadata);
                return null;
            });

            // Alternate evaluation loads, resumes and partial loads; reset the model now and then so that a good
            // load does not hide the next one's effect.
            if (i % 16 == 0)
            {
                model.SetParameters(initial);
                model.Step = 0;
            }
            Optimizer? optimizer = (i % 3) switch { 0 => null, 1 => new Adam(1e-2f), _ => new Sgd(1e-2f, momentum: 0.9f) };
            var options = i % 5 == 4 ? partial : strict;
            tally.Run("Checkpoint.LoadInto(stream)", mutation, source,
                () => LoadAndCheck(model, () => Checkpoint.LoadInto(model, new MemoryStream(bytes), source, optimizer, options), optimizer));

            if (i % 4 == 0)
            {
                // Through the file system as users do, including a pipe-like stream for the reader's other path.
                File.WriteAllBytes(path, bytes);
                tally.Run("Checkpoint.LoadInto(path)", mutation, path, () => LoadAndCheck(model, () => Checkpoint.LoadInto(model, path, optimizer), optimizer));
                tally.Run("Checkpoint.ReadArchitecture", mutation, path, () =>
                {
                    var a = Checkpoint.ReadArchitecture(path);
                    return a is null || a.ParameterCount >= 0 ? null : "a negative parameter count";
                });
                tally.Run("SafeTensors.Read(pipe)", mutation, source, () => SoundFile(SafeTensors.Read(new NonSeekableStream(chunk: 1 + i % 13, data: bytes), source)));
            }
        }
        tally.Report(output, clock.Elapsed);
        Assert.True(tally.Tries >= 1000 || inputs < 1000);
        Assert.True(tally.Successes > 0 && tally.CleanErrors > 0, "the fuzzer should reach both outcomes");
    }

    private static (string, byte[]) Chain(Random r, Base b)
    {
        var (first, bytes) = Structured(r, b);
        var (second, again) = Raw(r, bytes);
        return ($"{first}; then {second}", again);
    }
}
