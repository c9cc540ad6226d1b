using System.Buffers.Binary;
using System.IO.Compression;
using Vae.Files;

namespace Vae.Data;

/// <summary>
/// Images read from an IDX file: <see cref="Count"/> images of <see cref="Rows"/> x <see cref="Columns"/>
/// unsigned-byte pixels, stored row-major one image after another in <see cref="Pixels"/>.
/// </summary>
/// <param name="Path">The file the images came from (or the name given for a stream), kept for error messages.</param>
/// <param name="Count">Number of images.</param>
/// <param name="Rows">Height of each image in pixels.</param>
/// <param name="Columns">Width of each image in pixels.</param>
/// <param name="Pixels">Count * Rows * Columns bytes, 0 (background) to 255.</param>
public sealed record IdxImages(string Path, int Count, int Rows, int Columns, byte[] Pixels)
{
    /// <summary>Rows * Columns.</summary>
    public int PixelsPerImage => Rows * Columns;

    /// <summary>
    /// Pixels scaled to [0, 1] (pixel / 255f), laid out as [Count, Rows * Columns].
    /// </summary>
    public float[] ToFloats()
    {
        var scale = PixelValues;
        var result = new float[Pixels.Length];
        for (int i = 0; i < Pixels.Length; i++)
        {
            result[i] = scale[Pixels[i]];
        }
        return result;
    }

    /// <summary>
    /// pixel / 255f for each byte value: the division is done once per value, correctly rounded, while the hot loops
    /// (47 million pixels in the training set, or one example at a time when streaming) are plain lookups.
    /// </summary>
    internal static readonly float[] PixelValues = Enumerable.Range(0, 256).Select(v => v / 255f).ToArray();
}

/// <summary>
/// Reads the IDX files of MNIST and Fashion-MNIST, raw or gzip-compressed.
/// Format: a big-endian magic number 0x0000TTDD (TT = element type, 0x08 for unsigned bytes; DD = number of
/// dimensions), DD big-endian 32-bit sizes, then the elements.
/// </summary>
public static class IdxReader
{
    // Bounds well above any real data set but low enough that a corrupt header is caught before it is believed.
    private const uint MaxItems = 100_000_000;
    private const uint MaxSide = 4096;

    private const int ImagesMagic = 0x00000803;
    private const int LabelsMagic = 0x00000801;
    private const byte UnsignedByteType = 0x08;

    // Reading in pieces means memory grows with the data actually present, not with what a header claims.
    private const int ChunkSize = 1 << 20;

    /// <summary>Reads an images file (magic 0x00000803), raw or gzip.</summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The content is not a well-formed IDX images file (the message names the file and what is wrong), or the path is
    /// not a regular file (a directory, FIFO, device or socket).
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static IdxImages ReadImages(string path)
    {
        using var stream = OpenFile(path);
        return ReadImages(stream, path);
    }

    /// <summary>Reads a labels file (magic 0x00000801), raw or gzip.</summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The content is not a well-formed IDX labels file, or the path is not a regular file.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static byte[] ReadLabels(string path)
    {
        using var stream = OpenFile(path);
        return ReadLabels(stream, path);
    }

    /// <summary>Reads an images file from <paramref name="s"/> (raw or gzip, from its current position to its end).</summary>
    /// <param name="s">A readable stream.</param>
    /// <param name="nameForErrors">Names the source in exception messages and becomes <see cref="IdxImages.Path"/>.</param>
    /// <exception cref="ArgumentException">The stream cannot be read.</exception>
    /// <exception cref="InvalidDataException">The content (or its gzip compression) is malformed.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    public static IdxImages ReadImages(Stream s, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(nameForErrors);
        var source = Source.Open(s, nameForErrors);
        try
        {
            uint[] dims = ReadHeader(source, expectImages: true);
            int count = (int)dims[0];
            int rows = (int)dims[1];
            int columns = (int)dims[2];
            // Each factor is bounded, so the product fits in a long; it still has to fit in one array.
            long bytes = (long)count * rows * columns;
            if (bytes > Array.MaxLength)
            {
                throw source.Error(
                    $"the header promises {count} images of {rows}x{columns} = {bytes} bytes of pixels, " +
                    $"more than one array can hold ({Array.MaxLength} bytes)");
            }
            byte[] pixels = ReadBody(source, (int)bytes, headerBytes: 16,
                $"{count} images of {rows}x{columns} pixels");
            return new IdxImages(nameForErrors, count, rows, columns, pixels);
        }
        finally
        {
            source.Dispose();
        }
    }

    /// <summary>Reads a labels file from <paramref name="s"/> (raw or gzip, from its current position to its end).</summary>
    /// <param name="s">A readable stream.</param>
    /// <param name="nameForErrors">Names the source in exception messages.</param>
    /// <exception cref="ArgumentException">The stream cannot be read.</exception>
    /// <exception cref="InvalidDataException">The content (or its gzip compression) is malformed.</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    public static byte[] ReadLabels(Stream s, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(nameForErrors);
        var source = Source.Open(s, nameForErrors);
        try
        {
            uint[] dims = ReadHeader(source, expectImages: false);
            int count = (int)dims[0];
            return ReadBody(source, count, headerBytes: 8, $"{count} labels");
        }
        finally
        {
            source.Dispose();
        }
    }

    /// <summary>
    /// Copies the pixels of an images file (raw or gzip) to <paramref name="destination"/> as raw bytes, a chunk at a
    /// time, so memory does not grow with the file; checks the header and that exactly the promised pixels are there.
    /// </summary>
    internal static (int Count, int Rows, int Columns) ExtractPixels(string path, string destination)
    {
        using var stream = OpenFile(path);
        var source = Source.Open(stream, path);
        try
        {
            uint[] dims = ReadHeader(source, expectImages: true);
            int count = (int)dims[0], rows = (int)dims[1], columns = (int)dims[2];
            long expected = (long)count * rows * columns;
            using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, ChunkSize);
            var chunk = new byte[ChunkSize];
            long copied = 0;
            while (copied < expected)
            {
                int got = source.ReadAtMost(chunk.AsSpan(0, (int)Math.Min(ChunkSize, expected - copied)));
                if (got == 0) break;
                output.Write(chunk, 0, got);
                copied += got;
            }
            long extra = copied == expected ? source.CountRest() : 0;
            if (copied != expected || extra != 0)
                throw source.Error(LengthMismatch(expected, copied + extra, headerBytes: 16,
                    $"{count} images of {rows}x{columns} pixels", source.IsCompressed));
            return (count, rows, columns);
        }
        finally
        {
            source.Dispose();
        }
    }

    // A FIFO would block the open forever and a device would never end: only regular files are read.
    private static FileStream OpenFile(string path) => RegularFile.OpenRead(path, "IDX file");

    /// <summary>Reads and checks the magic number and dimensions; returns the dimensions.</summary>
    private static uint[] ReadHeader(Source source, bool expectImages)
    {
        Span<byte> magicBytes = stackalloc byte[4];
        int got = source.ReadAtMost(magicBytes);
        if (got < 4)
        {
            throw source.Error(got == 0
                ? "the file is empty, expected an IDX header"
                : $"the file is {got} bytes long, too short for the 4-byte IDX magic number");
        }

        int magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
        int expected = expectImages ? ImagesMagic : LabelsMagic;
        if (magic != expected)
        {
            throw source.Error(DescribeWrongMagic(magic, expectImages));
        }

        int rank = expectImages ? 3 : 1;
        Span<byte> dimBytes = stackalloc byte[4 * 3];
        dimBytes = dimBytes[..(4 * rank)];
        got = source.ReadAtMost(dimBytes);
        if (got < dimBytes.Length)
        {
            throw source.Error(
                $"the header is truncated: {rank} dimension(s) need {dimBytes.Length} bytes after the magic number, " +
                $"found {got}");
        }

        string[] names = expectImages ? ["image count", "rows", "columns"] : ["label count"];
        var dims = new uint[rank];
        for (int d = 0; d < rank; d++)
        {
            // Read unsigned so that a 'negative' size shows up as the huge number it would be, not a sign bug.
            uint value = BinaryPrimitives.ReadUInt32BigEndian(dimBytes.Slice(4 * d, 4));
            uint bound = d == 0 ? MaxItems : MaxSide;
            if (value == 0 || value > bound)
            {
                throw source.Error(
                    $"{names[d]} {value} (at byte offset {4 + 4 * d}) is out of range; expected 1..{bound}");
            }
            dims[d] = value;
        }
        return dims;
    }

    private static string DescribeWrongMagic(int magic, bool expectImages)
    {
        string hex = $"0x{magic:X8}";
        string expectedHex = expectImages ? $"0x{ImagesMagic:X8}" : $"0x{LabelsMagic:X8}";
        if (expectImages && magic == LabelsMagic)
        {
            return $"this looks like a labels file (magic {hex}), expected images (magic {expectedHex})";
        }
        if (!expectImages && magic == ImagesMagic)
        {
            return $"this looks like an images file (magic {hex}), expected labels (magic {expectedHex})";
        }
        if ((magic >>> 16) == 0)
        {
            byte type = (byte)(magic >>> 8);
            if (type != UnsignedByteType)
            {
                return $"magic {hex} declares element type 0x{type:X2} ({TypeName(type)}); " +
                       $"only unsigned bytes (0x08) are supported, expected magic {expectedHex}";
            }
            return $"magic {hex} declares {magic & 0xFF} dimension(s), expected {(expectImages ? 3 : 1)} " +
                   $"(magic {expectedHex})";
        }
        return $"not an IDX file: magic number {hex} at byte offset 0, expected {expectedHex}";
    }

    private static string TypeName(byte type) => type switch
    {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "int16",
        0x0C => "int32",
        0x0D => "float32",
        0x0E => "float64",
        _ => "unknown type",
    };

    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes and checks that nothing follows them.
    /// </summary>
    private static byte[] ReadBody(Source source, int length, int headerBytes, string what)
    {
        if (source.RemainingIfKnown is long remaining)
        {
            // The raw length is known: reject a lying header before allocating what it claims.
            if (remaining != length)
            {
                throw source.Error(LengthMismatch(length, remaining, headerBytes, what, source.IsCompressed));
            }
            var exact = new byte[length];
            int read = source.ReadAtMost(exact);
            if (read != length)
            {
                // The stream reported more than it delivered (e.g. it changed underneath us).
                throw source.Error(LengthMismatch(length, read, headerBytes, what, source.IsCompressed));
            }
            return exact;
        }

        // Unknown length (gzip or a non-seekable stream): grow the buffer only as data actually arrives.
        var buffer = new byte[Math.Min(length, ChunkSize)];
        int filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
            }
            int n = source.ReadAtMost(buffer.AsSpan(filled));
            if (n == 0)
            {
                throw source.Error(LengthMismatch(length, filled, headerBytes, what, source.IsCompressed));
            }
            filled += n;
        }

        long trailing = source.CountRest();
        if (trailing > 0)
        {
            throw source.Error(LengthMismatch(length, length + trailing, headerBytes, what, source.IsCompressed));
        }
        return buffer;
    }

    private static string LengthMismatch(long expected, long actual, int headerBytes, string what, bool compressed)
    {
        string after = compressed ? " (after decompression)" : "";
        // GZipStream stops quietly where a compressed file was cut, so for gzip the likely cause is worth saying.
        string cut = compressed ? " (after decompression; the compressed file may be cut short)" : "";
        return actual < expected
            ? $"truncated: the header promises {what} = {expected} bytes after the {headerBytes}-byte header, " +
              $"but only {actual} bytes follow{cut}"
            : $"{actual - expected} unexpected trailing bytes: the header promises {what} = {expected} bytes after " +
              $"the {headerBytes}-byte header, but {actual} bytes follow{after}";
    }

    /// <summary>
    /// The byte source behind one read: the caller's stream, possibly behind a gzip decoder, with errors that
    /// name the file.
    /// </summary>
    private sealed class Source : IDisposable
    {
        private readonly Stream _stream;
        private readonly bool _ownsStream;
        private long _rawRemaining;

        private Source(Stream stream, bool ownsStream, bool compressed, long rawRemaining, string name)
        {
            _stream = stream;
            _ownsStream = ownsStream;
            IsCompressed = compressed;
            _rawRemaining = rawRemaining;
            Name = name;
        }

        public string Name { get; }

        public bool IsCompressed { get; }

        /// <summary>Bytes left in an uncompressed seekable stream; null when that cannot be known up front.</summary>
        public long? RemainingIfKnown => _rawRemaining >= 0 ? _rawRemaining : null;

        public static Source Open(Stream s, string name)
        {
            if (!s.CanRead)
            {
                throw new ArgumentException($"The stream for '{name}' is not readable.", nameof(s));
            }

            // Sniff the gzip magic (1F 8B) from the content itself: file names lie more often than bytes do.
            long start = s.CanSeek ? s.Position : -1;
            var sniff = new byte[2];
            int got = 0;
            while (got < 2)
            {
                int n = s.Read(sniff, got, 2 - got);
                if (n == 0)
                {
                    break;
                }
                got += n;
            }
            bool gzip = got == 2 && sniff[0] == 0x1F && sniff[1] == 0x8B;

            Stream raw;
            bool ownsRaw;
            if (start >= 0)
            {
                s.Position = start;
                raw = s;
                ownsRaw = false;
            }
            else
            {
                raw = new PrefixedStream(sniff.AsSpan(0, got).ToArray(), s);
                ownsRaw = true;
            }

            if (gzip)
            {
                // The decoder wraps 'raw'; disposing the decoder disposes our own PrefixedStream wrapper too
                // (which leaves the caller's stream open).
                var decoder = new GZipStream(raw, CompressionMode.Decompress, leaveOpen: !ownsRaw);
                return new Source(decoder, ownsStream: true, compressed: true, rawRemaining: -1, name);
            }
            long remaining = start >= 0 ? s.Length - start : -1;
            return new Source(raw, ownsRaw, compressed: false, remaining, name);
        }

        /// <summary>Fills as much of <paramref name="buffer"/> as the data allows; returns the count read.</summary>
        public int ReadAtMost(Span<byte> buffer)
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = ReadOnce(buffer[total..]);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            if (_rawRemaining >= 0)
            {
                _rawRemaining -= total;
            }
            return total;
        }

        /// <summary>Reads to the end, returning how many bytes were left, without keeping them.</summary>
        public long CountRest()
        {
            var scratch = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = ReadOnce(scratch)) > 0)
            {
                total += n;
            }
            return total;
        }

        private int ReadOnce(Span<byte> buffer)
        {
            try
            {
                return _stream.Read(buffer);
            }
            catch (InvalidDataException e) when (IsCompressed)
            {
                // GZipStream reports corruption without saying which file it was reading.
                throw new InvalidDataException($"{Name}: the gzip stream is corrupt: {e.Message}", e);
            }
        }

        public InvalidDataException Error(string message) => new($"{Name}: {message}.");

        public void Dispose()
        {
            if (_ownsStream)
            {
                _stream.Dispose();
            }
        }
    }

    /// <summary>
    /// Replays the bytes consumed while sniffing a non-seekable stream, then continues with the stream itself.
    /// Does not dispose the inner stream: it belongs to the caller.
    /// </summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _prefixPosition;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefixPosition < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _prefixPosition);
                prefix.AsSpan(_prefixPosition, n).CopyTo(buffer);
                _prefixPosition += n;
                return n;
            }
            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Locates and loads the Fashion-MNIST data set (Zalando, 10 classes of 28x28 grey images).</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The 10 class names, indexed by label. A fresh copy on each call, so callers cannot alter it.</summary>
    public static string[] ClassNames =>
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>
    /// Loads the training set (train-*) or test set (t10k-*) from <paramref name="directory"/>, accepting the
    /// files raw or gzip-compressed, and checks that images and labels agree.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists every name tried.</exception>
    /// <exception cref="InvalidDataException">The files are malformed, disagree, or are not regular files.</exception>
    /// <exception cref="UnauthorizedAccessException">A file may not be read.</exception>
    /// <exception cref="IOException">Reading a file failed.</exception>
    public static (IdxImages Images, byte[] Labels) Load(string directory, bool train)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string prefix = train ? "train" : "t10k";
        string imagesPath = Find(directory, prefix, "images", "idx3");
        string labelsPath = Find(directory, prefix, "labels", "idx1");

        IdxImages images = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count != labels.Length)
        {
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Length} labels.");
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= 10)
            {
                throw new InvalidDataException(
                    $"{labelsPath}: label {labels[i]} of item {i} (byte offset {8 + i}) is not a Fashion-MNIST class " +
                    $"(expected 0..9).");
            }
        }
        return (images, labels);
    }

    /// <summary>
    /// Opens the training or test set for streaming (<see cref="IdxBatchSource"/>): the pixels are read from a
    /// raw file, one example at a time, as the trainer asks for them instead of being held as floats. Dispose the source when done.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists every name tried.</exception>
    /// <exception cref="InvalidDataException">The files are malformed or disagree, or a label is not a class 0 to 9.</exception>
    public static IdxBatchSource OpenStreaming(string directory, bool train, string? cacheDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string prefix = train ? "train" : "t10k";
        string labelsPath = Find(directory, prefix, "labels", "idx1");
        var source = IdxBatchSource.Open(Find(directory, prefix, "images", "idx3"), labelsPath, cacheDirectory);
        for (int i = 0; i < source.Count; i++)
        {
            if (source.LabelOf(i) >= 10)
            {
                source.Dispose();
                throw new InvalidDataException(
                    $"{labelsPath}: label {source.LabelOf(i)} of item {i} (byte offset {8 + i}) is not a Fashion-MNIST class (expected 0..9).");
            }
        }
        return source;
    }

    private static string Find(string directory, string prefix, string kind, string idx)
    {
        // The official names use dashes; some mirrors use a dot before "idx".
        string[] names =
        [
            $"{prefix}-{kind}-{idx}-ubyte",
            $"{prefix}-{kind}-{idx}-ubyte.gz",
            $"{prefix}-{kind}.{idx}-ubyte",
            $"{prefix}-{kind}.{idx}-ubyte.gz",
        ];
        var tried = new List<string>(names.Length);
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
            tried.Add(path);
        }

        string where = Directory.Exists(directory) ? "" : $" (the directory '{directory}' does not exist)";
        throw new FileNotFoundException(
            $"Fashion-MNIST {prefix} {kind} not found{where}; looked for: {string.Join(", ", tried)}. " +
            $"On Debian, install the dataset-fashion-mnist package (files go to {DebianDirectory}).",
            Path.Combine(directory, names[0]));
    }
}
