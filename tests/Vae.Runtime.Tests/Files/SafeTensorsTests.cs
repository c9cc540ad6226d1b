using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Vae.Files;
using Xunit;

namespace Vae.Runtime.Tests.Files;

public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-st-tests-" + Guid.NewGuid().ToString("N"));

    public SafeTensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- helpers -------------------------------------------------------------------------------------------

    private static byte[] ToBytes(IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var stream = new MemoryStream();
        SafeTensors.Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    /// <summary>Assembles a file from a header text and a data buffer, unpadded, so the tests control every byte.</summary>
    private static byte[] Build(string json, byte[] buffer, ulong? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        buffer.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static string Entry(string name, string shape, long begin, long end, string dtype = "F32") =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>Expects the same rejection from a seekable and a non-seekable stream.</summary>
    private static void AssertBad(byte[] bytes, params string[] fragments)
    {
        AssertBadSeekable(bytes, fragments);
        AssertBadPipe(bytes, fragments);
    }

    private static void AssertBadSeekable(byte[] bytes, params string[] fragments)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new MemoryStream(bytes), "mem.safetensors"));
        AssertMessage(e, "mem.safetensors", fragments);
    }

    private static void AssertBadPipe(byte[] bytes, params string[] fragments)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(new NonSeekableStream(chunk: 5, data: bytes), "pipe.safetensors"));
        AssertMessage(e, "pipe.safetensors", fragments);
    }

    private static void AssertMessage(Exception e, string name, string[] fragments)
    {
        Assert.Contains(name, e.Message);
        foreach (string f in fragments)
        {
            Assert.Contains(f, e.Message);
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(actual[i]));
        }
    }

    private string[] TempFiles() => Directory.GetFiles(_dir, "*.tmp-*");

    // ---- round trips ---------------------------------------------------------------------------------------

    [Fact]
    public void Round_trip_keeps_order_metadata_scalars_empty_tensors_and_exact_bits()
    {
        SafeTensor[] tensors =
        [
            new("zeta.weight", [2, 3], [1f, -2.5f, float.NaN, float.PositiveInfinity, -0f, float.Epsilon]),
            new("empty", [0, 3], []),
            new("alpha", [], [42f]),
            new("ünïcode <&>", [1], [float.MinValue]),
        ];
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "a \"quoted\"\nline" };

        var file = SafeTensors.Read(new MemoryStream(ToBytes(tensors, metadata)), "mem");

        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Select(t => t.Name), file.Tensors.Select(t => t.Name));
        foreach (var t in tensors)
        {
            Assert.Equal(t.Shape, file[t.Name].Shape);
            AssertSameBits(t.Data, file[t.Name].Data);
        }
        Assert.Equal(1, file["alpha"].ElementCount);
        Assert.Empty(file["empty"].Data);
    }

    [Fact]
    public void Round_trip_through_a_file_and_a_non_seekable_stream()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        var data = Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray();
        SafeTensors.WriteFile(path, [new SafeTensor("w", [10, 100], data), new SafeTensor("b", [10], new float[10])]);

        var fromFile = SafeTensors.ReadFile(path);
        Assert.Equal(path, fromFile.Source);
        Assert.Empty(fromFile.Metadata);
        AssertSameBits(data, fromFile["w"].Data);

        var fromPipe = SafeTensors.Read(new NonSeekableStream(chunk: 5, data: File.ReadAllBytes(path)), "pipe");
        AssertSameBits(data, fromPipe["w"].Data);
        Assert.Equal([10], fromPipe["b"].Shape);
        Assert.Empty(TempFiles());
    }

    [Fact]
    public void Empty_file_with_only_metadata_round_trips()
    {
        var file = SafeTensors.Read(new MemoryStream(ToBytes([], new Dictionary<string, string> { ["k"] = "v" })), "mem");
        Assert.Empty(file.Tensors);
        Assert.Equal("v", file.Metadata["k"]);
    }

    [Fact]
    public void Layout_is_byte_exact()
    {
        // What safetensors.torch.save_file({"a": tensor([1., -2.]), "b": tensor(0.5)}, f, {"format": "pt"})
        // writes: serde_json's compact header, "__metadata__" first, tensors in buffer order (F32, then name), the
        // header padded with spaces to a multiple of 8, then little-endian float32 data.
        // The JSON text is 138 bytes; 6 spaces pad it to 144 = 0x90.
        const string json =
            "{\"__metadata__\":{\"format\":\"pt\"}," +
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}" +
            "      ";
        byte[] expected =
        [
            0x90, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.ASCII.GetBytes(json),
            0x00, 0x00, 0x80, 0x3F, // 1.0f
            0x00, 0x00, 0x00, 0xC0, // -2.0f
            0x00, 0x00, 0x00, 0x3F, // 0.5f
        ];
        Assert.Equal(138 + 6, json.Length);

        byte[] actual = ToBytes(
            [new SafeTensor("a", [2], [1f, -2f]), new SafeTensor("b", [], [0.5f])],
            new Dictionary<string, string> { ["format"] = "pt" });

        Assert.Equal(expected, actual);

        var file = SafeTensors.Read(new MemoryStream(expected), "expected");
        Assert.Equal([1f, -2f], file["a"].Data);
        Assert.Equal([0.5f], file["b"].Data);
        Assert.Empty(file["b"].Shape);
    }

    [Fact]
    public void Header_is_padded_to_a_multiple_of_eight()
    {
        for (int nameLength = 1; nameLength <= 9; nameLength++)
        {
            byte[] bytes = ToBytes([new SafeTensor(new string('x', nameLength), [1], [3f])]);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0UL, n % 8);
            Assert.Equal((long)(8 + n + 4), bytes.Length);
            Assert.Equal(3f, SafeTensors.Read(new MemoryStream(bytes), "mem").Tensors[0].Data[0]);
        }
    }

    [Fact]
    public void Missing_tensor_lookup_names_it_and_lists_what_exists()
    {
        var file = SafeTensors.Read(new MemoryStream(ToBytes([new SafeTensor("enc.w", [1], [1f]), new SafeTensor("dec.w", [1], [2f])])), "m.st");

        var e = Assert.Throws<KeyNotFoundException>(() => file["enc.b"]);
        Assert.Contains("'enc.b'", e.Message);
        Assert.Contains("'enc.w'", e.Message);
        Assert.Contains("'dec.w'", e.Message);
        Assert.Contains("m.st", e.Message);

        Assert.False(file.TryGet("enc.b", out _));
        Assert.True(file.TryGet("dec.w", out var found));
        Assert.Equal(2f, found.Data[0]);
    }

    [Fact]
    public void Writer_rejects_inconsistent_tensors()
    {
        var e = Assert.Throws<ArgumentException>(() => ToBytes([new SafeTensor("w", [2, 2], [1f, 2f, 3f])]));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("4 elements", e.Message);
        Assert.Contains("3 values", e.Message);

        Assert.Contains("twice", Assert.Throws<ArgumentException>(
            () => ToBytes([new SafeTensor("w", [1], [1f]), new SafeTensor("w", [1], [1f])])).Message);
        Assert.Contains("reserved", Assert.Throws<ArgumentException>(
            () => ToBytes([new SafeTensor("__metadata__", [1], [1f])])).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(
            () => ToBytes([new SafeTensor("w", [-1], [])])).Message);
    }

    // ---- atomic writes -------------------------------------------------------------------------------------

    private static IEnumerable<SafeTensor> ThrowsAfterOne()
    {
        yield return new SafeTensor("first", [1], [1f]);
        throw new InvalidOperationException("producer failed");
    }

    [Fact]
    public void Failed_write_leaves_the_old_file_and_no_temporary_files()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.WriteFile(path, [new SafeTensor("old", [1], [7f])]);
        byte[] before = File.ReadAllBytes(path);

        var e = Assert.Throws<InvalidOperationException>(() => SafeTensors.WriteFile(path, ThrowsAfterOne()));
        Assert.Equal("producer failed", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(TempFiles());

        Assert.Throws<ArgumentException>(() => SafeTensors.WriteFile(path, [new SafeTensor("bad", [3], [1f])]));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(TempFiles());
        Assert.Equal(7f, SafeTensors.ReadFile(path)["old"].Data[0]);
    }

    [Fact]
    public void Failed_first_write_creates_nothing()
    {
        string path = Path.Combine(_dir, "fresh.safetensors");
        Assert.Throws<InvalidOperationException>(() => SafeTensors.WriteFile(path, ThrowsAfterOne()));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Successful_write_replaces_the_old_file()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.WriteFile(path, [new SafeTensor("old", [1], [7f])]);
        SafeTensors.WriteFile(path, [new SafeTensor("new", [2], [1f, 2f])], new Dictionary<string, string> { ["v"] = "2" });

        var file = SafeTensors.ReadFile(path);
        Assert.Equal(["new"], file.Tensors.Select(t => t.Name));
        Assert.Equal("2", file.Metadata["v"]);
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Writing_into_a_missing_folder_says_so()
    {
        string path = Path.Combine(_dir, "absent", "m.safetensors");
        var e = Assert.Throws<DirectoryNotFoundException>(() => SafeTensors.WriteFile(path, []));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Missing_file_is_reported()
    {
        string path = Path.Combine(_dir, "none.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensors.ReadFile(path));
        Assert.Contains(path, e.Message);
    }

    // ---- bad input -----------------------------------------------------------------------------------------

    [Fact]
    public void Shorter_than_the_length_prefix()
    {
        AssertBad([], "0 bytes long", "8-byte header length");
        AssertBad([1, 2, 3], "3 bytes long");
    }

    [Fact]
    public void Header_length_past_the_end_of_the_file()
    {
        byte[] bytes = Build("{}", [], declaredLength: 100);
        AssertBad(bytes, "header length 100", "larger than the rest of the file");
    }

    [Fact]
    public void Absurd_header_length_is_refused_without_allocating_it()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertBad(Build("{}", [], declaredLength: 1UL << 40), "absurd");
        AssertBad(Build("{}", [], declaredLength: ulong.MaxValue), "absurd");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void Header_that_is_not_json_or_not_an_object()
    {
        AssertBad(Build("{\"w\": ", []), "not valid JSON");
        AssertBad(Build("", []), "header length (bytes 0..7) is 0");
        AssertBad(Build("[1, 2]", []), "must be a JSON object", "an array");
        AssertBad(Build("\"text\"", []), "must be a JSON object", "a string");
        byte[] invalidUtf8 = Build("{\"w\":1}", []);
        invalidUtf8[10] = 0xFF;
        AssertBad(invalidUtf8, "not valid UTF-8");
    }

    [Fact]
    public void Entries_missing_fields()
    {
        var four = new byte[4];
        AssertBad(Build("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", four), "tensor 'w'", "missing \"dtype\"");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", four), "tensor 'w'", "missing \"shape\"");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", four), "tensor 'w'", "missing \"data_offsets\"");
    }

    [Fact]
    public void Entries_with_wrong_json_types()
    {
        var four = new byte[4];
        AssertBad(Build("{\"w\":7}", four), "tensor 'w'", "must be an object", "a number");
        AssertBad(Build("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", four), "tensor 'w'", "\"dtype\" must be a string");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", four), "tensor 'w'", "\"shape\" must be an array");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", four), "tensor 'w'", "two integers");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0}}}", four), "tensor 'w'", "two integers");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", four), "tensor 'w'", "begin", "not a non-negative integer");
        AssertBad(Build("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", four), "tensor 'w'", "end", "not a non-negative integer");
        AssertBad(Build("{\"__metadata__\":[1]}", []), "'__metadata__' must be an object");
        AssertBad(Build("{\"__metadata__\":{\"k\":1}}", []), "metadata entry 'k' must be a string");
    }

    [Fact]
    public void Bad_shape_dimensions()
    {
        var four = new byte[4];
        AssertBad(Build("{" + Entry("w", "[-1]", 0, 4) + "}", four), "tensor 'w'", "dimension 0 is negative");
        AssertBad(Build("{" + Entry("w", "[1.5]", 0, 4) + "}", four), "tensor 'w'", "dimension 0 (1.5) is not an integer");
        AssertBad(Build("{" + Entry("w", "[1,\"2\"]", 0, 4) + "}", four), "tensor 'w'", "dimension 1", "not an integer");
        AssertBad(Build("{" + Entry("w", "[1e400]", 0, 4) + "}", four), "tensor 'w'", "not an integer");
        AssertBad(Build("{" + Entry("w", "[4294967296]", 0, 4) + "}", four), "tensor 'w'", "too large");
    }

    [Fact]
    public void Element_count_overflow()
    {
        AssertBad(Build("{" + Entry("w", "[2147483647,2147483647,2147483647,2147483647,16]", 0, 4) + "}", new byte[4]),
            "tensor 'w'", "too many elements");
        // A zero anywhere makes the product zero, however large the other dimensions are.
        var file = SafeTensors.Read(new MemoryStream(Build("{" + Entry("w", "[2147483647,2147483647,0]", 0, 0) + "}", [])), "m");
        Assert.Empty(file["w"].Data);
    }

    [Fact]
    public void Offsets_that_disagree_with_the_shape()
    {
        AssertBad(Build("{" + Entry("w", "[2]", 0, 4) + "}", new byte[4]), "tensor 'w'", "span 4 bytes", "needs 2 x 4 = 8 bytes");
        AssertBad(Build("{" + Entry("w", "[1]", 4, 0) + "}", new byte[4]), "tensor 'w'", "end before they begin");
    }

    [Fact]
    public void Offsets_outside_the_buffer()
    {
        byte[] bytes = Build("{" + Entry("w", "[2]", 0, 8) + "}", new byte[4]);
        AssertBadSeekable(bytes, "tensor 'w'", "past the end of the data buffer (4 bytes");
        AssertBadPipe(bytes, "tensor 'w'", "ends after 4 of its 8 data bytes");

        // A plausible-looking lie on a non-seekable stream: 400 MB promised, 16 bytes present.
        byte[] lie = Build("{" + Entry("w", "[100000000]", 0, 400_000_000) + "}", new byte[16]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertBadPipe(lie, "tensor 'w'", "ends after 16 of its 400000000 data bytes");
        AssertBadSeekable(lie, "tensor 'w'", "past the end");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 32 << 20);
    }

    [Fact]
    public void Overlapping_tensors()
    {
        byte[] bytes = Build("{" + Entry("a", "[2]", 0, 8) + "," + Entry("b", "[2]", 4, 12) + "}", new byte[12]);
        AssertBad(bytes, "tensor 'b'", "overlap tensor 'a'");
        byte[] same = Build("{" + Entry("a", "[2]", 0, 8) + "," + Entry("b", "[2]", 0, 8) + "}", new byte[8]);
        AssertBad(same, "overlap");
    }

    [Fact]
    public void Holes_between_or_before_tensors_and_bytes_after_them()
    {
        AssertBad(Build("{" + Entry("a", "[1]", 0, 4) + "," + Entry("b", "[1]", 8, 12) + "}", new byte[12]),
            "tensor 'b'", "hole of 4 bytes", "tensor 'a'");
        AssertBad(Build("{" + Entry("a", "[1]", 4, 8) + "}", new byte[8]), "tensor 'a'", "hole of 4 bytes", "start of the data buffer");

        byte[] trailing = Build("{" + Entry("a", "[1]", 0, 4) + "}", new byte[12]);
        AssertBadSeekable(trailing, "8 bytes are unaccounted for");
        AssertBadPipe(trailing, "8 bytes follow the last tensor");
    }

    [Fact]
    public void Duplicate_names()
    {
        AssertBad(Build("{" + Entry("w", "[1]", 0, 4) + "," + Entry("w", "[1]", 4, 8) + "}", new byte[8]), "tensor 'w' appears twice");
        AssertBad(Build("{\"__metadata__\":{},\"__metadata__\":{}}", []), "'__metadata__' appears twice");
    }

    [Fact]
    public void Half_bfloat16_and_double_tensors_read_as_float32()
    {
        // 1.5 and -2 in each encoding, little-endian.
        byte[] half = [0x00, 0x3E, 0x00, 0xC0];
        byte[] bf16 = [0xC0, 0x3F, 0x00, 0xC0];
        byte[] f64 = [.. BitConverter.GetBytes(1.5), .. BitConverter.GetBytes(-2.0)];
        byte[] bytes = Build("{" + Entry("h", "[2]", 0, 4, dtype: "F16") + "," + Entry("b", "[2]", 4, 8, dtype: "BF16") + "," +
                             Entry("d", "[2]", 8, 24, dtype: "F64") + "}", [.. half, .. bf16, .. f64]);
        foreach (var file in new[] { SafeTensors.Read(new MemoryStream(bytes), "m"), SafeTensors.Read(new NonSeekableStream(chunk: 3, data: bytes), "p") })
        {
            Assert.Equal([1.5f, -2f], file["h"].Data);
            Assert.Equal([1.5f, -2f], file["b"].Data);
            Assert.Equal([1.5f, -2f], file["d"].Data);
            Assert.Equal(["F16", "BF16", "F64"], file.Tensors.Select(t => t.SourceDtype));
        }

        // Each dtype's size is checked against the offsets.
        AssertBad(Build("{" + Entry("h", "[2]", 0, 8, dtype: "F16") + "}", new byte[8]), "tensor 'h'", "needs 2 x 2 = 4 bytes");
        AssertBad(Build("{" + Entry("d", "[2]", 0, 8, dtype: "F64") + "}", new byte[8]), "tensor 'd'", "needs 2 x 8 = 16 bytes");
    }

    [Fact]
    public void I64_tensors_take_the_integer_path_and_round_trip_exactly()
    {
        // Values no float32 holds exactly: an integer path must not pass them through float.
        long[] values = [0, 1, -1, (1L << 53) + 1, long.MaxValue, long.MinValue];
        var tensors = new[] { new SafeTensor("w", [2], [1.5f, -2f]), SafeTensor.FromInt64("n", [2, 3], values), SafeTensor.FromInt64("s", [], [7]) };
        using var stream = new MemoryStream();
        SafeTensors.Write(stream, tensors, null);
        stream.Position = 0;
        var file = SafeTensors.Read(stream, "m");
        Assert.Equal(values, file["n"].Int64Data);
        Assert.Equal([2, 3], file["n"].Shape);
        Assert.Equal(new long[] { 7 }, file["s"].Int64Data);
        Assert.Equal([1.5f, -2f], file["w"].Data);
        Assert.Null(file["w"].Int64Data);
        Assert.Equal(SafeTensors.ComputeDataSha256(tensors), file.DataSha256);
        var header = SafeTensors.ReadHeader(new MemoryStream(stream.ToArray()), "m");
        Assert.Equal([("w", "F32", 8L), ("n", "I64", 48L), ("s", "I64", 8L)], header.Tensors.Select(t => (t.Name, t.Dtype, t.End - t.Begin)));

        // The element count still has to match the shape, and a tensor is either floats or integers.
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [SafeTensor.FromInt64("n", [3], [1, 2])], null));
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [new SafeTensor("n", [1], [1f]) { Int64Data = [1] }], null));
        // A truncated I64 tensor is refused like any other.
        var bytes = stream.ToArray();
        AssertBad(bytes[..^4], "tensor 's'");
    }

    [Theory]
    [InlineData("I32", 4, "32-bit signed integer")]
    [InlineData("U8", 1, "8-bit unsigned integer")]
    [InlineData("BOOL", 1, "boolean")]
    [InlineData("F8_E4M3", 1, "8-bit float E4M3")]
    [InlineData("C64", 8, "64-bit complex")]
    public void Other_dtypes_are_refused_by_name(string dtype, int size, string description)
    {
        byte[] bytes = Build("{" + Entry("w", "[1]", 0, 4) + "," + Entry("steps", "[2]", 4, 4 + 2 * size, dtype: dtype) + "}", new byte[4 + 2 * size]);
        AssertBad(bytes, "tensor 'steps'", $"dtype {dtype} ({description})", "cannot be read", "only F32, F16, BF16 and F64 tensors (as float32) and I64");

        // The header is valid, so it can still be read to find out what the file holds.
        var header = SafeTensors.ReadHeader(new MemoryStream(bytes), "m");
        Assert.Equal([("w", "F32"), ("steps", dtype)], header.Tensors.Select(t => (t.Name, t.Dtype)));
        Assert.Equal(4 + 2 * size, header.Tensors[1].End);

        AssertBad(Build("{" + Entry("w", "[1]", 0, 4, dtype: "Q7") + "}", new byte[4]), "tensor 'w'", "unknown dtype \"Q7\"");
        AssertBad(Build("{" + Entry("w", "[3]", 0, 2, dtype: "F4") + "}", new byte[2]), "tensor 'w'", "12 bits, not a whole number of bytes");
    }

    [Fact]
    public void The_data_checksum_is_the_sha256_of_the_stored_bytes()
    {
        SafeTensor[] tensors = [new("a", [2], [1f, -2f]), new("b", [], [0.5f])];
        byte[] bytes = ToBytes(tensors);
        var file = SafeTensors.Read(new MemoryStream(bytes), "m");
        int dataStart = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan(dataStart)));

        Assert.Equal(expected, file.DataSha256);
        Assert.Equal(expected, SafeTensors.ComputeDataSha256(tensors));
        Assert.Equal(expected, SafeTensors.Read(new NonSeekableStream(chunk: 5, data: bytes), "p").DataSha256);

        bytes[^1] ^= 1;
        Assert.NotEqual(expected, SafeTensors.Read(new MemoryStream(bytes), "m").DataSha256);
    }

    [Fact]
    public void Header_strings_that_are_not_text()
    {
        // Valid JSON escapes of a lone surrogate: not a name any file system or dictionary should get.
        AssertBad(Build("{\"w\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "not valid");
        AssertBad(Build("{\"__metadata__\":{\"k\":\"\\udfff\"}}", []), "not valid");
    }

    [Fact]
    public void File_reader_names_the_path()
    {
        string path = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllBytes(path, Build("{" + Entry("w", "[2]", 0, 4) + "}", new byte[4]));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor 'w'", e.Message);
    }

    // ---- interoperability with PyTorch ---------------------------------------------------------------------

    private const string PythonScript = """
        import json, struct, sys, torch

        def load(path):
            with open(path, "rb") as f:
                raw = f.read()
            (n,) = struct.unpack("<Q", raw[:8])
            assert n % 8 == 0, "header not padded"
            header = json.loads(raw[8:8 + n].decode("utf-8"))
            buf = raw[8 + n:]
            out = {"__metadata__": header.pop("__metadata__", {})}
            for name, info in header.items():
                assert info["dtype"] == "F32"
                b, e = info["data_offsets"]
                t = torch.frombuffer(bytearray(buf[b:e]), dtype=torch.float32) if e > b else torch.zeros(0)
                t = t.reshape(info["shape"])
                out[name] = {"shape": list(t.shape), "values": [repr(v) for v in t.flatten().tolist()]}
            return out

        def save(path, tensors, metadata):
            # Mirrors the reference writer: buffer sorted by name (one dtype), compact JSON, space padding.
            header = {"__metadata__": metadata}
            parts, offset = [], 0
            for name in sorted(tensors):
                t = tensors[name].to(torch.float32).contiguous()
                data = struct.pack("<%df" % t.numel(), *t.flatten().tolist())
                header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
                parts.append(data)
                offset += len(data)
            text = json.dumps(header, separators=(",", ":")).encode("utf-8")
            text += b" " * ((8 - len(text) % 8) % 8)
            with open(path, "wb") as f:
                f.write(struct.pack("<Q", len(text)) + text + b"".join(parts))

        assert sys.byteorder == "little"
        theirs = load(sys.argv[1])
        g = torch.Generator().manual_seed(7)
        mine = {"enc.weight": torch.randn(3, 4, generator=g), "enc.bias": torch.randn(4, generator=g),
                "scale": torch.tensor(2.5)}
        save(sys.argv[2], mine, {"framework": "torch"})
        print(json.dumps({"read": theirs, "written": load(sys.argv[2])}))
        """;

    private static bool TorchAvailable()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }
        var (code, _, _) = RunPython(["-c", "import torch"]);
        return code == 0;
    }

    private static (int Code, string Stdout, string Stderr) RunPython(string[] args)
    {
        var info = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "", "timed out");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Files_are_interchangeable_with_pytorch()
    {
        if (!TorchAvailable())
        {
            return; // python3 or torch missing on this machine
        }

        string ours = Path.Combine(_dir, "ours.safetensors");
        string theirs = Path.Combine(_dir, "theirs.safetensors");
        SafeTensor[] tensors =
        [
            new("w", [2, 3], [0.1f, -1e-30f, 3.4e38f, -0f, 1f / 3f, 12345.678f]),
            new("empty", [0], []),
            new("s", [], [-7.25f]),
        ];
        SafeTensors.WriteFile(ours, tensors, new Dictionary<string, string> { ["format"] = "pt" });

        var (code, stdout, stderr) = RunPython(["-c", PythonScript, ours, theirs]);
        Assert.True(code == 0, $"python failed ({code}): {stderr}");

        using var result = JsonDocument.Parse(stdout);
        var read = result.RootElement.GetProperty("read");
        Assert.Equal("pt", read.GetProperty("__metadata__").GetProperty("format").GetString());
        foreach (var t in tensors)
        {
            var entry = read.GetProperty(t.Name);
            Assert.Equal(t.Shape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
            float[] values = [.. entry.GetProperty("values").EnumerateArray().Select(ParseFloat)];
            AssertSameBits(t.Data, values);
        }

        // And the other way: their file, our reader.
        var file = SafeTensors.ReadFile(theirs);
        Assert.Equal("torch", file.Metadata["framework"]);
        var written = result.RootElement.GetProperty("written");
        Assert.Equal(["enc.bias", "enc.weight", "scale"], file.Tensors.Select(t => t.Name));
        foreach (var t in file.Tensors)
        {
            var entry = written.GetProperty(t.Name);
            Assert.Equal(entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), t.Shape);
            AssertSameBits([.. entry.GetProperty("values").EnumerateArray().Select(ParseFloat)], t.Data);
        }
        Assert.Equal([3, 4], file["enc.weight"].Shape);
        Assert.Empty(file["scale"].Shape);
    }

    // Python's repr of a float32 widened to double is exact; narrowing it back gives the original bits.
    private static float ParseFloat(JsonElement e) => (float)double.Parse(e.GetString()!, CultureInfo.InvariantCulture);
}
