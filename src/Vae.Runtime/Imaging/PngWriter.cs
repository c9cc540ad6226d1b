using System.Buffers.Binary;
using System.IO.Compression;

namespace Vae.Imaging;

/// <summary>
/// Minimal PNG encoder (PNG specification, ISO/IEC 15948): 8-bit grayscale or 8-bit RGB, no interlacing,
/// filter type 0 (None) on every row. Enough for sample grids and training curves without an imaging dependency.
/// </summary>
public static class PngWriter
{
    private const byte ColorTypeGray = 0;
    private const byte ColorTypeRgb = 2;

    // IDAT payloads are cut at this size so memory stays bounded however large the image is.
    private const int IdatChunkSize = 64 * 1024;

    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Writes an 8-bit grayscale PNG. <paramref name="pixels"/> holds exactly width*height bytes, row-major, top row first.</summary>
    public static void WriteGray(Stream output, int width, int height, ReadOnlySpan<byte> pixels)
        => Write(output, width, height, pixels, ColorTypeGray, 1, nameof(pixels));

    /// <summary>Writes an 8-bit RGB PNG. <paramref name="rgb"/> holds exactly width*height*3 bytes (R, G, B per pixel), row-major.</summary>
    public static void WriteRgb(Stream output, int width, int height, ReadOnlySpan<byte> rgb)
        => Write(output, width, height, rgb, ColorTypeRgb, 3, nameof(rgb));

    /// <summary>
    /// Saves an 8-bit grayscale PNG to <paramref name="path"/>, creating the folder if needed. The file is written
    /// under a temporary name in the same folder and then renamed over the target, so a crash never leaves a partial image.
    /// </summary>
    public static void SaveGray(string path, int width, int height, ReadOnlySpan<byte> pixels)
    {
        // Validate before touching the file system so a bad call leaves no temporary file behind.
        Validate(width, height, pixels.Length, 1, nameof(pixels));
        Save(path, width, height, pixels, ColorTypeGray, 1, nameof(pixels));
    }

    /// <summary>Saves an 8-bit RGB PNG atomically; see <see cref="SaveGray"/>.</summary>
    public static void SaveRgb(string path, int width, int height, ReadOnlySpan<byte> rgb)
    {
        Validate(width, height, rgb.Length, 3, nameof(rgb));
        Save(path, width, height, rgb, ColorTypeRgb, 3, nameof(rgb));
    }

    private static void Save(string path, int width, int height, ReadOnlySpan<byte> data, byte colorType, int channels, string dataName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"'{path}' has no parent folder to write into.", nameof(path));
        Directory.CreateDirectory(directory);

        // Same folder as the target: File.Move is then a rename on one volume, which replaces the old file in one step.
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Write(stream, width, height, data, colorType, channels, dataName);

                // Reach the disk before the rename, otherwise a power loss could leave a renamed but empty file.
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

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original exception matters more than a leftover temporary file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Validate(int width, int height, int length, int channels, string dataName)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);

        long expected = (long)width * height * channels;
        if (length != expected)
        {
            string layout = channels == 1 ? "width*height" : $"width*height*{channels}";
            throw new ArgumentException(
                $"Pixel buffer has {length} bytes but {layout} = {expected} are required for a {width}x{height} image.",
                dataName);
        }
    }

    private static void Write(Stream output, int width, int height, ReadOnlySpan<byte> data, byte colorType, int channels, string dataName)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!output.CanWrite)
        {
            throw new ArgumentException("The output stream is not writable.", nameof(output));
        }

        Validate(width, height, data.Length, channels, dataName);

        output.Write(Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;          // bit depth
        ihdr[9] = colorType;
        ihdr[10] = 0;         // compression method: deflate
        ihdr[11] = 0;         // filter method: adaptive (per-row filter byte)
        ihdr[12] = 0;         // no interlace
        WriteChunk(output, "IHDR"u8, ihdr);

        int stride = width * channels;
        using (var idat = new IdatStream(output))
        {
            // The zlib wrapper (header + Adler-32) is exactly what the PNG spec requires inside IDAT.
            using (var zlib = new ZLibStream(idat, CompressionLevel.Optimal, leaveOpen: true))
            {
                ReadOnlySpan<byte> filterNone = [0];
                for (int y = 0; y < height; y++)
                {
                    zlib.Write(filterNone);
                    zlib.Write(data.Slice(y * stride, stride));
                }
            }
        }

        WriteChunk(output, "IEND"u8, ReadOnlySpan<byte>.Empty);
    }

    private static void WriteChunk(Stream output, ReadOnlySpan<byte> type, ReadOnlySpan<byte> payload)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, payload.Length);
        output.Write(word);
        output.Write(type);
        output.Write(payload);

        // The CRC covers the chunk type and data, not the length field.
        uint crc = UpdateCrc(0xFFFFFFFFu, type);
        crc = UpdateCrc(crc, payload) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    /// <summary>Reflected CRC-32 (polynomial 0xEDB88320), the variant the PNG spec prescribes.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data) => UpdateCrc(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;

    private static uint UpdateCrc(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] table = CrcTable;
        foreach (byte b in data)
        {
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    /// <summary>
    /// Write-only stream that packages whatever the compressor produces into IDAT chunks of bounded size,
    /// so the compressed image never has to be held in memory as a whole.
    /// </summary>
    private sealed class IdatStream(Stream output) : Stream
    {
        private readonly byte[] _buffer = new byte[IdatChunkSize];
        private int _count;
        private bool _disposed;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => !_disposed;
        public override long Length => throw new NotSupportedException();
        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            while (!buffer.IsEmpty)
            {
                int n = Math.Min(buffer.Length, _buffer.Length - _count);
                buffer[..n].CopyTo(_buffer.AsSpan(_count));
                _count += n;
                buffer = buffer[n..];
                if (_count == _buffer.Length)
                {
                    EmitChunk();
                }
            }
        }

        public override void WriteByte(byte value) => Write([value]);

        // Flushing the compressor must not cut a chunk early; chunks are emitted when full or on dispose.
        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                if (_count > 0)
                {
                    EmitChunk();
                }
            }

            base.Dispose(disposing);
        }

        private void EmitChunk()
        {
            WriteChunk(output, "IDAT"u8, _buffer.AsSpan(0, _count));
            _count = 0;
        }
    }
}
