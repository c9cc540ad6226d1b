using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vae.Files;

/// <summary>
/// One named tensor: float32 in <see cref="Data"/>, or int64 in <see cref="Int64Data"/> (made by <see cref="FromInt64"/>,
/// with <see cref="Data"/> empty), the elements in row-major order.
/// </summary>
/// <param name="Name">The tensor's name in the file, e.g. encoder.0.weight.</param>
/// <param name="Shape">Dimensions; empty for a scalar (one element). A zero dimension makes an empty tensor.</param>
/// <param name="Data">The elements, row-major; as many as the shape's product (none for an int64 tensor).</param>
public sealed record SafeTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>An int64 tensor (written as I64), such as PyTorch's BatchNorm num_batches_tracked.</summary>
    public static SafeTensor FromInt64(string name, int[] shape, long[] values) => new(name, shape, []) { Int64Data = values, SourceDtype = "I64" };

    /// <summary>The elements of an int64 tensor (dtype I64), or null for a float tensor.</summary>
    public long[]? Int64Data { get; init; }

    /// <summary>Whether the tensor holds int64 values (<see cref="Int64Data"/>) rather than floats.</summary>
    public bool IsInt64 => Int64Data is not null;

    /// <summary>
    /// The dtype the values had in the file they were read from (F32, F16, BF16, F64, or I64 for an int64 tensor), "F32"
    /// for a float tensor made in memory. <see cref="Data"/> is float32 whatever this says; the writer writes F32, and I64
    /// for an int64 tensor.
    /// </summary>
    public string SourceDtype { get; init; } = "F32";

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

/// <summary>One tensor's entry in a safetensors header, as <see cref="SafeTensors.ReadHeader(string)"/> reports it.</summary>
/// <param name="Name">The tensor's name in the header.</param>
/// <param name="Dtype">
/// As the file names it: any dtype of the format (I32, BOOL...), though <see cref="SafeTensors.Read"/> reads only F32,
/// F16, BF16 and F64 (as float32) and I64 (as int64).
/// </param>
/// <param name="Shape">Dimensions as the header gives them.</param>
/// <param name="Begin">Start of its bytes, relative to the data buffer (which follows the header).</param>
/// <param name="End">One past its last byte, relative to the data buffer.</param>
public sealed record SafeTensorInfo(string Name, string Dtype, int[] Shape, long Begin, long End);

/// <summary>The header of a safetensors file: its metadata and its tensors' entries in buffer order, without the data.</summary>
public sealed class SafeTensorsHeader
{
    internal SafeTensorsHeader(string source, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensorInfo> tensors)
    {
        Source = source;
        Metadata = metadata;
        Tensors = tensors;
    }

    /// <summary>The path or name the header was read from.</summary>
    public string Source { get; }

    /// <summary>The "__metadata__" string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor's entry, in the order their data appears in the file.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
}

/// <summary>The content of a safetensors file: its metadata and its tensors in buffer order.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensor> _byName;

    internal SafeTensorsFile(string source, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensor> tensors, string dataSha256)
    {
        Source = source;
        Metadata = metadata;
        Tensors = tensors;
        DataSha256 = dataSha256;
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

    /// <summary>
    /// The SHA-256 of the file's data buffer (every byte after the header, as stored), in lowercase hex; compare it
    /// with <see cref="SafeTensors.ComputeDataSha256"/> of what was written to detect corruption.
    /// </summary>
    public string DataSha256 { get; }

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
/// "__metadata__" string map, then the data buffer with the tensors packed back to back. The writer writes F32;
/// the reader reads F32, F16, BF16 and F64 tensors, converting them to float32 as PyTorch's
/// <c>tensor.to(torch.float32)</c> does (F64 rounds to nearest, ties to even; magnitudes past float32's range become
/// infinities), and refuses the other dtypes (integers, booleans, 8-bit and smaller floats, complex) by name.
/// </summary>
/// <remarks>
/// The readers throw only what each method lists. Whatever is wrong with the content (truncation, a header that is not
/// JSON or not the format's, inconsistent offsets, an unreadable dtype, a path that is not a regular file) is an
/// <see cref="InvalidDataException"/> whose message starts with the file's path (or the name given for a stream) and
/// names the byte range, tensor or metadata entry at fault. The reader does not judge values: NaN, infinities and
/// huge numbers come back as stored (<see cref="Checkpoint"/> checks them when loading a model).
/// </remarks>
public static class SafeTensors
{
    // Far beyond any real header (the reference implementation caps it at 100 MB too); a bigger claim means
    // the file is corrupt or not a safetensors file, and believing it would mean a huge allocation.
    private const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const string F32 = "F32";
    private const string WhatFile = "safetensors file";

    // Reading in pieces where the size is unknown means memory follows the data present, not a header's claim.
    private const int ChunkFloats = 1 << 18;

    // Raw bytes go through a buffer of at most this size on their way to float32.
    private const int RawChunkBytes = 1 << 20;

    // The part of a temporary file's name after "<target>.tmp-": a GUID in "N" form.
    private const int TemporarySuffixLength = 32;

    private enum Storage
    {
        F32,
        F16,
        BF16,
        F64,
        I64,
    }

    private sealed record Dtype(int Bits, string Description, Storage? Storage);

    // Every dtype the format defines, so that the header of any valid file can be read and a valid-but-unreadable
    // tensor gets a different message from garbage. F4 and F6 pack values across bytes, as the format allows when a
    // tensor's bits fill whole bytes.
    private static readonly Dictionary<string, Dtype> Dtypes = new(StringComparer.Ordinal)
    {
        [F32] = new(32, "32-bit float", Storage.F32),
        ["F16"] = new(16, "16-bit IEEE half-precision float", Storage.F16),
        ["BF16"] = new(16, "bfloat16", Storage.BF16),
        ["F64"] = new(64, "64-bit float", Storage.F64),
        ["BOOL"] = new(8, "boolean", null),
        ["U8"] = new(8, "8-bit unsigned integer", null),
        ["I8"] = new(8, "8-bit signed integer", null),
        ["I16"] = new(16, "16-bit signed integer", null),
        ["U16"] = new(16, "16-bit unsigned integer", null),
        ["I32"] = new(32, "32-bit signed integer", null),
        ["U32"] = new(32, "32-bit unsigned integer", null),
        ["I64"] = new(64, "64-bit signed integer", Storage.I64),
        ["U64"] = new(64, "64-bit unsigned integer", null),
        ["F8_E5M2"] = new(8, "8-bit float E5M2", null),
        ["F8_E4M3"] = new(8, "8-bit float E4M3", null),
        ["F8_E8M0"] = new(8, "8-bit exponent-only scale E8M0", null),
        ["F6_E2M3"] = new(6, "6-bit float E2M3", null),
        ["F6_E3M2"] = new(6, "6-bit float E3M2", null),
        ["F4"] = new(4, "4-bit float", null),
        ["C64"] = new(64, "64-bit complex", null),
    };

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="output"/>, data in the caller's order and header keys
    /// in the same order (after "__metadata__"), the header padded with spaces to a multiple of 8 bytes.
    /// </summary>
    /// <param name="output">A writable stream; the file is written from its current position.</param>
    /// <param name="tensors">The tensors, in the order to write them.</param>
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
            WriteValues(output, t);
        }
    }

    /// <summary>
    /// The SHA-256 of the data buffer <see cref="Write"/> writes for <paramref name="tensors"/> (their float32 values,
    /// little-endian, in order), in lowercase hex: what <see cref="SafeTensorsFile.DataSha256"/> gives when the file
    /// is read back intact. Checkpoints record it in their metadata.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor is null or has null data.</exception>
    public static string ComputeDataSha256(IEnumerable<SafeTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var sink = new HashingStream(hash);
        foreach (var t in tensors)
        {
            if (t?.Data is null)
            {
                throw new ArgumentException("The tensor list contains null or a tensor without data.", nameof(tensors));
            }
            WriteValues(sink, t);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes a file atomically: the data goes to a temporary file next to <paramref name="path"/>
    /// (<c>&lt;name&gt;.tmp-&lt;guid&gt;</c>), is flushed to disk and then renamed over <paramref name="path"/>.
    /// Temporary files of the same target left by earlier saves that were killed are removed first (a save in progress
    /// holds its temporary file locked, so it is left alone). On failure the temporary file is deleted and any
    /// existing file at <paramref name="path"/> is left as it was, which the exception's message says.
    /// </summary>
    /// <param name="path">The file to write; its folder must exist.</param>
    /// <param name="tensors">The tensors, in the order to write them.</param>
    /// <param name="metadata">Written as "__metadata__" when not null (even when empty).</param>
    /// <exception cref="ArgumentException">The path is empty or invalid, or a tensor is inconsistent (see <see cref="Write"/>).</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder or the file may not be written.</exception>
    /// <exception cref="IOException">
    /// Writing or renaming failed (a full disk, an I/O error, a directory at <paramref name="path"/>); the message says
    /// that the previous file is intact, or that none was created.
    /// </exception>
    public static void WriteFile(string path, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteFile(path, tensors, metadata, wrapForTests: null);

    /// <summary>The public overload, with a hook for tests.</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="tensors">The tensors, in the order to write them.</param>
    /// <param name="metadata">Written as "__metadata__" when not null.</param>
    /// <param name="wrapForTests">Wraps the temporary file's stream, so tests can make a write fail part-way.</param>
    internal static void WriteFile(string path, IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata, Func<Stream, Stream>? wrapForTests)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(fullPath);
        if (directory is null || Path.GetFileName(fullPath).Length == 0)
        {
            throw new ArgumentException($"Cannot write '{path}': the path names a folder, not a file.", nameof(path));
        }
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{directory}' does not exist.");
        }
        if (Directory.Exists(fullPath))
        {
            throw new IOException($"Cannot write '{path}': it is a directory. Nothing was written.");
        }

        RemoveStaleTemporaries(fullPath);

        // Same folder as the target, so the final rename stays within one file system and is atomic.
        string temp = TemporaryPrefix(fullPath) + Guid.NewGuid().ToString("N");
        FileStream? stream = null;
        try
        {
            // FileShare.None takes an exclusive lock (flock on Unix) that tells a concurrent save's clean-up that
            // this temporary file is in use.
            stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
            Stream target = wrapForTests?.Invoke(stream) ?? stream;
            Write(target, tensors, metadata);
            target.Flush();
            // Without this, a crash after the rename could leave a renamed but empty or partial file.
            stream.Flush(flushToDisk: true);
            if (OperatingSystem.IsWindows())
            {
                // Windows cannot rename a file that is open; elsewhere the rename happens under the lock.
                stream.Dispose();
                stream = null;
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DisposeQuietly(ref stream);
            bool removed = TryDelete(temp);
            string message = WriteFailure(path, fullPath, e.Message, removed ? null : temp);
            if (e is UnauthorizedAccessException)
            {
                throw new UnauthorizedAccessException(message, e);
            }
            throw new IOException(message, e);
        }
        catch
        {
            // A bad tensor or a failing producer: the caller's exception, unchanged, after the clean-up.
            DisposeQuietly(ref stream);
            TryDelete(temp);
            throw;
        }
        finally
        {
            stream?.Dispose();
        }
    }

    /// <summary>
    /// Closes a temporary file after a failure. Closing flushes what is still buffered, which fails again on a full
    /// disk; that second error says nothing new, and the handle is closed regardless.
    /// </summary>
    private static void DisposeQuietly(ref FileStream? stream)
    {
        try
        {
            stream?.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        stream = null;
    }

    private static string TemporaryPrefix(string fullPath) => fullPath + ".tmp-";

    private static string WriteFailure(string path, string fullPath, string reason, string? leftover)
    {
        string state = File.Exists(fullPath)
            ? $"The previous '{Path.GetFileName(fullPath)}' is intact: it was not replaced"
            : $"No file was created at '{path}'";
        string cleanup = leftover is null
            ? "the partial temporary file was removed"
            : $"the partial temporary file '{leftover}' could not be removed (the next save into this folder removes it)";
        return $"Could not write '{path}': {reason.TrimEnd('.', ' ')}. {state}, and {cleanup}.";
    }

    /// <summary>
    /// Deletes <c>&lt;target&gt;.tmp-&lt;32 hex digits&gt;</c> files that no save holds open: the leftovers of saves that
    /// were killed before they could clean up. Anything else, and anything it cannot remove, is left alone.
    /// </summary>
    private static void RemoveStaleTemporaries(string fullPath)
    {
        string directory = Path.GetDirectoryName(fullPath)!;
        string prefix = Path.GetFileName(TemporaryPrefix(fullPath));
        List<string> candidates;
        try
        {
            // Not a search pattern: the target's own name may contain '*' or '?'.
            candidates = Directory.EnumerateFiles(directory)
                .Where(f => IsTemporaryOf(Path.GetFileName(f), prefix))
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (string candidate in candidates)
        {
            try
            {
                // Fails while a save (in this process or another) has the file open with its exclusive lock; a killed
                // process's lock went with it.
                using var probe = new FileStream(candidate, FileMode.Open, FileAccess.Read, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsTemporaryOf(string name, string prefix) =>
        name.Length == prefix.Length + TemporarySuffixLength &&
        name.StartsWith(prefix, StringComparison.Ordinal) &&
        name.AsSpan(prefix.Length).IndexOfAnyExcept("0123456789abcdef") < 0;

    /// <summary>Reads a safetensors file from disk.</summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file is malformed, holds a dtype that cannot be read as float32, or the path is not a regular file (a
    /// directory, FIFO, device or socket); the message names the file and the tensor or entry at fault.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static SafeTensorsFile ReadFile(string path)
    {
        using var stream = RegularFile.OpenRead(path, WhatFile);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads a safetensors file from <paramref name="input"/> (from its current position to its end).
    /// Seekable streams are checked against their length before anything large is allocated; other streams are
    /// read in chunks so that a lying header cannot cause a huge allocation.
    /// </summary>
    /// <param name="input">A readable stream.</param>
    /// <param name="nameForErrors">Names the source in exception messages.</param>
    /// <exception cref="ArgumentException">The stream cannot be read.</exception>
    /// <exception cref="InvalidDataException">The content is malformed or holds a dtype that cannot be read as float32.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    public static SafeTensorsFile Read(Stream input, string nameForErrors)
    {
        var header = ReadHeaderCore(input, nameForErrors);
        string name = nameForErrors;
        foreach (var e in header.Entries)
        {
            if (e.Storage is null)
            {
                throw Bad(name, $"tensor '{e.Name}' has dtype {e.Dtype} ({Dtypes[e.Dtype].Description}), which cannot be read; " +
                                "only F32, F16, BF16 and F64 tensors (as float32) and I64 tensors (as int64) can be read");
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long largest = header.Entries.Count == 0 ? 0 : header.Entries.Max(e => e.End - e.Begin);
        var raw = new byte[(int)Math.Clamp(largest, 8, RawChunkBytes)];
        var tensors = new List<SafeTensor>(header.Entries.Count);
        // Entries are sorted by offset and packed, so the data can be read front to back.
        foreach (var e in header.Entries)
        {
            if (e.Storage == Storage.I64)
            {
                // The integer path: int64 stays int64 (a count such as num_batches_tracked must not round through float).
                var integers = ReadTensor<long>(input, e, header.HeaderLength, header.BufferLength is not null, raw, hash, name, ToInt64);
                tensors.Add(SafeTensor.FromInt64(e.Name, e.Shape, integers));
                continue;
            }
            var storage = e.Storage!.Value;
            float[] data = ReadTensor<float>(input, e, header.HeaderLength, header.BufferLength is not null, raw, hash, name,
                (bytes, destination) => ToSingle(storage, bytes, destination));
            tensors.Add(new SafeTensor(e.Name, e.Shape, data) { SourceDtype = e.Dtype });
        }

        if (header.BufferLength is null)
        {
            long end = header.Entries.Count == 0 ? 0 : header.Entries[^1].End;
            long trailing = CountRest(input);
            if (trailing > 0)
            {
                throw Bad(name, $"{trailing} bytes follow the last tensor's data (which ends at file byte " +
                                $"{8 + header.HeaderLength + end}); tensors must fill the data buffer exactly");
            }
        }
        return new SafeTensorsFile(name, header.Metadata, tensors, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>
    /// Reads only the header of a safetensors file: its metadata and its tensors' dtypes, shapes and offsets, checked
    /// against each other and against the file's length as <see cref="ReadFile"/> checks them, without reading the data.
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header is malformed, or the path is not a regular file.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var stream = RegularFile.OpenRead(path, WhatFile);
        return ReadHeader(stream, path);
    }

    /// <summary>
    /// Reads only the header from <paramref name="input"/>, leaving the stream at the start of the data buffer. The
    /// entries are checked against the stream's length when it is seekable, otherwise only against each other.
    /// </summary>
    /// <exception cref="ArgumentException">The stream cannot be read.</exception>
    /// <exception cref="InvalidDataException">The header is malformed.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    public static SafeTensorsHeader ReadHeader(Stream input, string nameForErrors)
    {
        var header = ReadHeaderCore(input, nameForErrors);
        var infos = header.Entries.Select(e => new SafeTensorInfo(e.Name, e.Dtype, e.Shape, e.Begin, e.End)).ToArray();
        return new SafeTensorsHeader(nameForErrors, header.Metadata, infos);
    }

    private sealed record Header(IReadOnlyDictionary<string, string> Metadata, List<Entry> Entries, int HeaderLength, long? BufferLength);

    private static Header ReadHeaderCore(Stream input, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(nameForErrors);
        if (!input.CanRead)
        {
            throw new ArgumentException($"The stream for '{nameForErrors}' is not readable.", nameof(input));
        }
        string name = nameForErrors;
        long? available = input.CanSeek ? Math.Max(0, input.Length - input.Position) : null;

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
        return new Header(metadata, entries, n, bufferLength);
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
        if (t.Int64Data is not null && t.Data.Length != 0)
        {
            throw new ArgumentException($"Tensor '{t.Name}' holds both int64 and float values.");
        }
        int values = t.Int64Data?.Length ?? t.Data.Length;
        if (count != values)
        {
            throw new ArgumentException(
                $"Tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}] ({count} elements) but {values} values.");
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
                long end = t.Int64Data is { } integers ? offset + 8L * integers.Length : offset + 4L * t.Data.Length;
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Int64Data is null ? F32 : "I64");
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

    private static void WriteValues(Stream output, SafeTensor t)
    {
        if (t.Int64Data is not { } integers)
        {
            WriteFloats(output, t.Data);
            return;
        }
        Span<byte> buffer = stackalloc byte[8];
        foreach (long v in integers)
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer, v);
            output.Write(buffer);
        }
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

    private sealed record Entry(string Name, string Dtype, Storage? Storage, int ElementSize, int[] Shape, long Count, long Begin, long End, int HeaderIndex);

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
            try
            {
                return ParseRoot(doc.RootElement, file);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
            {
                // Strings that are valid JSON but not valid text, such as a lone surrogate escape (\ud800) in a name.
                throw Bad(file, $"the header (bytes 8..{8 + header.Length - 1}) holds a string that is not valid Unicode text: {e.Message}", e);
            }
        }
    }

    private static (IReadOnlyDictionary<string, string> Metadata, List<Entry> Entries) ParseRoot(JsonElement root, string file)
    {
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

        if (!Dtypes.TryGetValue(dtype, out var info))
        {
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
        long bits = info.Bits * count;
        if (bits % 8 != 0)
        {
            throw Bad(file, $"tensor '{name}': shape [{string.Join(", ", shape)}] of {dtype} is {bits} bits, not a whole number of bytes");
        }
        if (end - begin != bits / 8)
        {
            string need = info.Bits % 8 == 0 ? $"{count} x {info.Bits / 8} = {bits / 8}" : $"{count} x {info.Bits} bits = {bits / 8}";
            throw Bad(file, $"tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes, but shape " +
                            $"[{string.Join(", ", shape)}] of {dtype} needs {need} bytes");
        }
        return new Entry(name, dtype, info.Storage, info.Bits / 8, shape, count, begin, end, index);
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

    /// <summary>
    /// Reads one tensor's bytes through <paramref name="raw"/>, hashing them as stored and converting them to float32.
    /// </summary>
    /// <param name="input">The stream, positioned at the tensor's first byte.</param>
    /// <param name="e">The tensor's header entry.</param>
    /// <param name="headerLength">The header's length, for the byte offsets in messages.</param>
    /// <param name="raw">A scratch buffer for the bytes as stored.</param>
    /// <param name="hash">The running SHA-256 of the data buffer.</param>
    /// <param name="file">Names the source in messages.</param>
    /// <param name="lengthKnown">
    /// The layout was checked against the stream's length, so the whole tensor can be allocated at once; otherwise the
    /// array grows only as data arrives.
    /// </param>
    /// <param name="convert">From the stored little-endian bytes to the element type (float32 for floats, int64 for I64).</param>
    private static T[] ReadTensor<T>(Stream input, Entry e, int headerLength, bool lengthKnown, byte[] raw, IncrementalHash hash, string file, Converter<T> convert)
    {
        int count = (int)e.Count;
        int size = e.ElementSize;
        var data = new T[lengthKnown ? count : Math.Min(count, ChunkFloats)];
        int perChunk = raw.Length / size;
        int done = 0;
        while (done < count)
        {
            int take = Math.Min(count - done, perChunk);
            var bytes = raw.AsSpan(0, take * size);
            int got = ReadAtMost(input, bytes);
            hash.AppendData(bytes[..got]);
            // Whole values only: a stray partial value at the end means the data stops mid-value.
            if (got != bytes.Length)
            {
                throw Truncated(e, headerLength, (long)done * size + got, file);
            }
            if (done + take > data.Length)
            {
                Array.Resize(ref data, (int)Math.Min(count, Math.Max(2L * data.Length, done + take)));
            }
            convert(bytes, data.AsSpan(done, take));
            done += take;
        }
        return data;
    }

    private delegate void Converter<T>(ReadOnlySpan<byte> bytes, Span<T> destination);

    /// <summary>Little-endian int64 values as they are.</summary>
    private static void ToInt64(ReadOnlySpan<byte> bytes, Span<long> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.Slice(8 * i, 8));
    }

    /// <summary>Converts little-endian values to float32 exactly as torch's <c>.to(torch.float32)</c> does.</summary>
    private static void ToSingle(Storage storage, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (storage)
        {
            case Storage.F32:
                if (BitConverter.IsLittleEndian)
                {
                    MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                    return;
                }
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i, 4));
                }
                return;
            case Storage.F16:
                // Every half is exactly a float32 (subnormals included); NaN stays NaN.
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.Slice(2 * i, 2));
                }
                return;
            case Storage.BF16:
                // bfloat16 is the top half of a float32.
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2 * i, 2)) << 16);
                }
                return;
            case Storage.F64:
                // Round to nearest, ties to even; beyond float32's range the result is an infinity, as in torch.
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(8 * i, 8));
                }
                return;
            default:
                throw new UnreachableException($"Storage {storage} has no conversion.");
        }
    }

    private static InvalidDataException Truncated(Entry e, int headerLength, long got, string file)
    {
        long start = 8L + headerLength + e.Begin;
        return Bad(file, $"tensor '{e.Name}': the file ends after {got} of its {e.End - e.Begin} data bytes " +
                         $"(its data should span file bytes {start}..{start + e.End - e.Begin - 1})");
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

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original error matters more than a leftover temporary file.
            return false;
        }
    }

    /// <summary>A JSON value's kind as an error message names it ("an object", "a string").</summary>
    internal static string Describe(JsonValueKind kind) => kind switch
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

    /// <summary>A write-only sink that feeds a hash, so the hash of what <see cref="SafeTensors.Write(Stream, IEnumerable{SafeTensor}, IReadOnlyDictionary{string, string}?)"/> writes needs no buffer.</summary>
    private sealed class HashingStream(IncrementalHash hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => hash.AppendData(buffer, offset, count);
        public override void Write(ReadOnlySpan<byte> buffer) => hash.AppendData(buffer);

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
