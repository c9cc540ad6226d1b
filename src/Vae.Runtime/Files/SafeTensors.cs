using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vae.Files;

/// <summary>One named float32 tensor: <see cref="Data"/> holds the elements in row-major order.</summary>
/// <param name="Shape">Dimensions; empty for a scalar (one element). A zero dimension makes an empty tensor.</param>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>The product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (int d in Shape)
            {
                count = checked(count * d);
            }
            return count;
        }
    }
}

/// <summary>The content of a safetensors file: its metadata and its tensors in buffer order.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensor> _byName;

    internal SafeTensorsFile(string source, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensor> tensors)
    {
        Source = source;
        Metadata = metadata;
        Tensors = tensors;
        _byName = new Dictionary<string, SafeTensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            _byName.Add(t.Name, t);
        }
    }

    /// <summary>The path or name the file was read from.</summary>
    public string Source { get; }

    /// <summary>The "__metadata__" string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensors, in the order their data appears in the file.</summary>
    public IReadOnlyList<SafeTensor> Tensors { get; }

    /// <summary>The tensor called <paramref name="name"/> (ordinal, case-sensitive).</summary>
    /// <exception cref="KeyNotFoundException">No such tensor; the message lists the ones the file has.</exception>
    public SafeTensor this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            if (_byName.TryGetValue(name, out var tensor))
            {
                return tensor;
            }
            string have = Tensors.Count == 0
                ? "it has no tensors"
                : "it has: " + string.Join(", ", Tensors.Select(t => $"'{t.Name}'"));
            throw new KeyNotFoundException($"{Source}: no tensor named '{name}'; {have}.");
        }
    }

    /// <summary>Looks up a tensor without throwing when it is absent.</summary>
    public bool TryGet(string name, out SafeTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var found))
        {
            tensor = found;
            return true;
        }
        tensor = null!;
        return false;
    }
}

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// describing each tensor (dtype, shape, byte range relative to the data buffer) plus an optional
/// "__metadata__" string map, then the data buffer with the tensors packed back to back. Only F32 is handled.
/// </summary>
public static class SafeTensors
{
    // Far beyond any real header (the reference implementation caps it at 100 MB too); a bigger claim means
    // the file is corrupt or not a safetensors file, and believing it would mean a huge allocation.
    private const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const string F32 = "F32";

    // Reading in pieces where the size is unknown means memory follows the data present, not a header's claim.
    private const int ChunkFloats = 1 << 18;

    // Every dtype the format defines, so that a valid-but-unsupported file gets a different message from garbage.
    private static readonly HashSet<string> KnownDtypes = new(StringComparer.Ordinal)
    {
        "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
        "I16", "U16", "F16", "BF16", "I32", "U32", F32, "F64", "I64", "U64", "C64",
    };

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="output"/>, data in the caller's order and header keys
    /// in the same order (after "__metadata__"), the header padded with spaces to a multiple of 8 bytes.
    /// </summary>
    /// <param name="metadata">Written as "__metadata__" when not null (even when empty).</param>
    /// <exception cref="ArgumentException">A tensor is inconsistent (data length vs shape), duplicated or unnamed.</exception>
    public static void Write(Stream output, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(tensors);

        // The header must be complete before any data, so validate everything before writing a single byte.
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in list)
        {
            ValidateForWrite(t, names);
        }

        byte[] header = BuildHeader(list, metadata);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        output.Write(prefix);
        output.Write(header);

        foreach (var t in list)
        {
            WriteFloats(output, t.Data);
        }
    }

    /// <summary>
    /// Writes a file atomically: the data goes to a temporary file next to <paramref name="path"/>, is flushed to
    /// disk and then renamed over <paramref name="path"/>. On failure the temporary file is deleted and any
    /// existing file at <paramref name="path"/> is left as it was.
    /// </summary>
    public static void WriteFile(string path, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        string fullPath = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(fullPath);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{directory}' does not exist.");
        }

        // Same folder as the target, so the final rename stays within one file system and is atomic.
        string temp = $"{fullPath}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                Write(stream, tensors, metadata);
                // Without this, a crash after the rename could leave a renamed but empty or partial file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Reads a safetensors file from disk.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the file and tensor.</exception>
    /// <exception cref="NotSupportedException">A tensor has a valid dtype other than F32.</exception>
    public static SafeTensorsFile ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"safetensors file not found: '{path}'.", path);
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads a safetensors file from <paramref name="input"/> (from its current position to its end).
    /// Seekable streams are checked against their length before anything large is allocated; other streams are
    /// read in chunks so that a lying header cannot cause a huge allocation.
    /// </summary>
    /// <param name="nameForErrors">Names the source in exception messages.</param>
    /// <exception cref="InvalidDataException">The content is malformed.</exception>
    /// <exception cref="NotSupportedException">A tensor has a valid dtype other than F32.</exception>
    public static SafeTensorsFile Read(Stream input, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(nameForErrors);
        string name = nameForErrors;
        long? available = input.CanSeek ? input.Length - input.Position : null;

        Span<byte> prefix = stackalloc byte[8];
        int got = ReadAtMost(input, prefix);
        if (got < 8)
        {
            throw Bad(name, $"the file is {got} bytes long, shorter than the 8-byte header length prefix");
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw Bad(name, $"the header length {headerLength} (bytes 0..7) is absurd (more than {MaxHeaderBytes} bytes); " +
                            "this is not a safetensors file or it is corrupt");
        }
        int n = (int)headerLength;
        if (n == 0)
        {
            throw Bad(name, "the header length (bytes 0..7) is 0; a safetensors header is a JSON object");
        }
        if (available is long total && n > total - 8)
        {
            throw Bad(name, $"the header length {n} (bytes 0..7) is larger than the rest of the file ({total - 8} bytes)");
        }

        var headerBytes = new byte[n];
        got = ReadAtMost(input, headerBytes);
        if (got < n)
        {
            throw Bad(name, $"the header length {n} (bytes 0..7) is larger than the rest of the file ({got} bytes)");
        }

        var (metadata, entries) = ParseHeader(headerBytes, name);
        long? bufferLength = available is long all ? all - 8 - n : null;
        ValidateLayout(entries, bufferLength, n, name);

        // Entries are sorted by offset and packed, so the data can be read front to back.
        var tensors = new List<SafeTensor>(entries.Count);
        foreach (var e in entries)
        {
            float[] data = bufferLength is null
                ? ReadFloatsChunked(input, e, n, name)
                : ReadFloatsExact(input, e, n, name);
            tensors.Add(new SafeTensor(e.Name, e.Shape, data));
        }

        long end = entries.Count == 0 ? 0 : entries[^1].End;
        if (bufferLength is null)
        {
            long trailing = CountRest(input);
            if (trailing > 0)
            {
                throw Bad(name, $"{trailing} bytes follow the last tensor's data (which ends at file byte " +
                                $"{8 + n + end}); tensors must fill the data buffer exactly");
            }
        }
        return new SafeTensorsFile(name, metadata, tensors);
    }

    private static void ValidateForWrite(SafeTensor t, HashSet<string> names)
    {
        if (t is null)
        {
            throw new ArgumentException("The tensor list contains null.");
        }
        if (t.Name is null || t.Shape is null || t.Data is null)
        {
            throw new ArgumentException($"Tensor '{t.Name}' has a null name, shape or data.");
        }
        if (t.Name == MetadataKey)
        {
            throw new ArgumentException($"'{MetadataKey}' is reserved by the format and cannot name a tensor.");
        }
        if (!names.Add(t.Name))
        {
            throw new ArgumentException($"Tensor name '{t.Name}' appears twice; names must be unique.");
        }
        long count = 1;
        foreach (int d in t.Shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor '{t.Name}' has a negative dimension in shape [{string.Join(", ", t.Shape)}].");
            }
            count = checked(count * d);
        }
        if (count != t.Data.Length)
        {
            throw new ArgumentException(
                $"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] ({count} elements) but {t.Data.Length} values.");
        }
    }

    private static byte[] BuildHeader(List<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new MemoryStream();
        // The relaxed encoder leaves non-ASCII names readable, as the reference writer (serde_json) does;
        // the HTML-safety it gives up is irrelevant in a binary file.
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };
        using (var w = new Utf8JsonWriter(json, options))
        {
            w.WriteStartObject();
            if (metadata is not null)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    if (key is null || value is null)
                    {
                        throw new ArgumentException("Metadata keys and values must not be null.", nameof(metadata));
                    }
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }

            long offset = 0;
            foreach (var t in tensors)
            {
                long end = offset + 4L * t.Data.Length;
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", F32);
                w.WriteStartArray("shape");
                foreach (int d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(end);
                w.WriteEndArray();
                w.WriteEndObject();
                offset = end;
            }
            w.WriteEndObject();
        }

        // Pad with spaces (valid JSON whitespace) so the data starts 8-byte aligned, as the reference does.
        int length = (int)json.Length;
        int padded = (length + 7) / 8 * 8;
        for (int i = length; i < padded; i++)
        {
            json.WriteByte((byte)' ');
        }
        return json.ToArray();
    }

    private static void WriteFloats(Stream output, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            output.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        // The format is little-endian whatever the machine; swap through a small buffer on big-endian hosts.
        Span<byte> buffer = stackalloc byte[4096];
        int i = 0;
        while (i < data.Length)
        {
            int n = Math.Min(data.Length - i, buffer.Length / 4);
            for (int k = 0; k < n; k++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer.Slice(4 * k, 4), data[i + k]);
            }
            output.Write(buffer[..(4 * n)]);
            i += n;
        }
    }

    private sealed record Entry(string Name, string Dtype, int[] Shape, long Count, long Begin, long End, int HeaderIndex);

    private static (IReadOnlyDictionary<string, string> Metadata, List<Entry> Entries) ParseHeader(byte[] header, string file)
    {
        // Checked up front because JsonDocument defers UTF-8 validation of names until they are read,
        // and then fails with an exception that does not say which file was at fault.
        if (!System.Text.Unicode.Utf8.IsValid(header))
        {
            throw Bad(file, $"the header (bytes 8..{8 + header.Length - 1}) is not valid UTF-8");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw Bad(file, $"the header (bytes 8..{8 + header.Length - 1}) is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad(file, $"the header must be a JSON object, found {Describe(root.ValueKind)}");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<Entry>();
            // JsonDocument keeps duplicate keys, so uniqueness is checked here.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw Bad(file, property.Name == MetadataKey
                        ? $"'{MetadataKey}' appears twice in the header"
                        : $"tensor '{property.Name}' appears twice in the header");
                }
                if (property.Name == MetadataKey)
                {
                    ParseMetadata(property.Value, metadata, file);
                    continue;
                }
                entries.Add(ParseEntry(property.Name, property.Value, entries.Count, file));
            }
            return (metadata, entries);
        }
    }

    private static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string file)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return;
        }
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad(file, $"'{MetadataKey}' must be an object of strings, found {Describe(value.ValueKind)}");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw Bad(file, $"metadata entry '{item.Name}' must be a string, found {Describe(item.Value.ValueKind)}");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw Bad(file, $"metadata entry '{item.Name}' appears twice");
            }
        }
    }

    private static Entry ParseEntry(string name, JsonElement value, int index, string file)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad(file, $"tensor '{name}': the entry must be an object, found {Describe(value.ValueKind)}");
        }

        if (!value.TryGetProperty("dtype", out var dtypeElement))
        {
            throw Bad(file, $"tensor '{name}': missing \"dtype\"");
        }
        if (dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Bad(file, $"tensor '{name}': \"dtype\" must be a string, found {Describe(dtypeElement.ValueKind)}");
        }
        string dtype = dtypeElement.GetString()!;

        if (!value.TryGetProperty("shape", out var shapeElement))
        {
            throw Bad(file, $"tensor '{name}': missing \"shape\"");
        }
        if (shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Bad(file, $"tensor '{name}': \"shape\" must be an array, found {Describe(shapeElement.ValueKind)}");
        }
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long d))
            {
                throw Bad(file, $"tensor '{name}': shape dimension {i} ({dim.GetRawText()}) is not an integer");
            }
            if (d < 0)
            {
                throw Bad(file, $"tensor '{name}': shape dimension {i} is negative ({d})");
            }
            if (d > int.MaxValue)
            {
                throw Bad(file, $"tensor '{name}': shape dimension {i} ({d}) is too large");
            }
            shape[i++] = (int)d;
            // Once the count passes the largest array, further factors can only be checked for overflow; a zero
            // later on still makes the whole tensor empty, which is legal.
            count = count > Array.MaxLength && d != 0 ? long.MaxValue : count * d;
        }

        if (!value.TryGetProperty("data_offsets", out var offsetsElement))
        {
            throw Bad(file, $"tensor '{name}': missing \"data_offsets\"");
        }
        if (offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
        {
            throw Bad(file, $"tensor '{name}': \"data_offsets\" must be an array of two integers [begin, end], " +
                            $"found {offsetsElement.GetRawText()}");
        }
        long begin = ParseOffset(offsetsElement[0], name, "begin", file);
        long end = ParseOffset(offsetsElement[1], name, "end", file);

        if (dtype != F32)
        {
            if (KnownDtypes.Contains(dtype))
            {
                throw new NotSupportedException(
                    $"{file}: tensor '{name}' has dtype {dtype}; only F32 tensors can be read.");
            }
            throw Bad(file, $"tensor '{name}': unknown dtype \"{dtype}\"");
        }

        if (count > Array.MaxLength)
        {
            string shapeText = string.Join(", ", shapeElement.EnumerateArray().Select(e => e.GetRawText()));
            throw Bad(file, $"tensor '{name}': shape [{shapeText}] has too many elements (more than {Array.MaxLength})");
        }
        if (end < begin)
        {
            throw Bad(file, $"tensor '{name}': data_offsets [{begin}, {end}] end before they begin");
        }
        if (end - begin != 4 * count)
        {
            throw Bad(file, $"tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes, but shape " +
                            $"[{string.Join(", ", shape)}] of {dtype} needs {count} x 4 = {4 * count} bytes");
        }
        return new Entry(name, dtype, shape, count, begin, end, index);
    }

    private static long ParseOffset(JsonElement element, string name, string which, string file)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out long value) || value < 0)
        {
            throw Bad(file, $"tensor '{name}': data_offsets {which} ({element.GetRawText()}) is not a non-negative integer");
        }
        return value;
    }

    /// <summary>
    /// Sorts the entries by offset and checks they tile the buffer exactly: no overlap, no hole, nothing past its
    /// end, and (when the buffer's length is known) nothing left over.
    /// </summary>
    private static void ValidateLayout(List<Entry> entries, long? bufferLength, int headerLength, string file)
    {
        // Ties (zero-size tensors sharing an offset) keep header order so the result is deterministic.
        entries.Sort((a, b) =>
        {
            int c = a.Begin.CompareTo(b.Begin);
            if (c == 0) c = a.End.CompareTo(b.End);
            return c != 0 ? c : a.HeaderIndex.CompareTo(b.HeaderIndex);
        });

        long dataStart = 8L + headerLength;
        long position = 0;
        Entry? previous = null;
        foreach (var e in entries)
        {
            if (bufferLength is long length && e.End > length)
            {
                throw Bad(file, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] reach past the end of the data " +
                                $"buffer ({length} bytes, file bytes {dataStart}..{dataStart + length - 1})");
            }
            if (e.Begin < position)
            {
                throw Bad(file, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Name}' " +
                                $"[{previous.Begin}, {previous.End}]");
            }
            if (e.Begin > position)
            {
                string after = previous is null ? "the start of the data buffer" : $"tensor '{previous.Name}'";
                throw Bad(file, $"tensor '{e.Name}': there is a hole of {e.Begin - position} bytes between {after} " +
                                $"(ending at buffer offset {position}) and this tensor's data_offsets [{e.Begin}, {e.End}]");
            }
            position = e.End;
            previous = e;
        }

        if (bufferLength is long total && position != total)
        {
            throw Bad(file, $"the data buffer is {total} bytes (file bytes {dataStart}..{dataStart + total - 1}) but the " +
                            $"tensors cover only {position}; {total - position} bytes are unaccounted for");
        }
    }

    private static float[] ReadFloatsExact(Stream input, Entry e, int headerLength, string file)
    {
        // The layout is already checked against the stream's length, so this allocation is backed by real data.
        var data = new float[e.Count];
        var bytes = MemoryMarshal.AsBytes(data.AsSpan());
        int got = ReadAtMost(input, bytes);
        if (got != bytes.Length)
        {
            throw Truncated(e, headerLength, got, file);
        }
        FixEndianness(data);
        return data;
    }

    private static float[] ReadFloatsChunked(Stream input, Entry e, int headerLength, string file)
    {
        int count = (int)e.Count;
        var data = new float[Math.Min(count, ChunkFloats)];
        int filled = 0;
        while (filled < count)
        {
            if (filled == data.Length)
            {
                Array.Resize(ref data, (int)Math.Min(count, 2L * data.Length));
            }
            var span = MemoryMarshal.AsBytes(data.AsSpan(filled));
            int got = ReadAtMost(input, span);
            // Whole floats only: a stray partial float at the end means the data stops mid-value.
            if (got != span.Length)
            {
                throw Truncated(e, headerLength, 4L * filled + got, file);
            }
            filled = data.Length;
        }
        FixEndianness(data);
        return data;
    }

    private static InvalidDataException Truncated(Entry e, int headerLength, long got, string file)
    {
        long start = 8L + headerLength + e.Begin;
        return Bad(file, $"tensor '{e.Name}': the file ends after {got} of its {e.End - e.Begin} data bytes " +
                         $"(its data should span file bytes {start}..{start + e.End - e.Begin - 1})");
    }

    private static void FixEndianness(float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            return;
        }
        var words = MemoryMarshal.Cast<float, int>(data.AsSpan());
        BinaryPrimitives.ReverseEndianness(words, words);
    }

    private static int ReadAtMost(Stream input, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = input.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private static long CountRest(Stream input)
    {
        var scratch = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = input.Read(scratch)) > 0)
        {
            total += n;
        }
        return total;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original error matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static InvalidDataException Bad(string file, string message, Exception? inner = null) =>
        new($"{file}: {message}.", inner);
}
