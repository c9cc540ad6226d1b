using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using Vae.Data;
using Vae.Runtime.Tests.Files;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Data;

/// <summary>
/// Seeded, bounded fuzzing of the IDX readers: mutated images and labels files, raw and gzip (flips, truncations,
/// header and dimension edits, corrupt and concatenated gzip members, gzip around mutated content), read from memory,
/// a pipe and disk. Each read must return consistent images with pixels in [0, 1] or fail with an
/// <see cref="InvalidDataException"/> naming the source. VAE_FUZZ_SEED and VAE_FUZZ_INPUTS override the seed and count.
/// </summary>
public sealed class IdxFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int DefaultInputs = 1500;
    private const int DefaultSeed = 14;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-idx-fuzz-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static byte[] Header(int magic, params uint[] dims)
    {
        var bytes = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        return bytes;
    }

    private static byte[] Gzip(byte[] raw, CompressionLevel level = CompressionLevel.Fastest)
    {
        var outStream = new MemoryStream();
        using (var gz = new GZipStream(outStream, level, leaveOpen: true)) gz.Write(raw);
        return outStream.ToArray();
    }

    private static byte[] Images(Random r, int count, int rows, int columns)
    {
        var pixels = new byte[count * rows * columns];
        r.NextBytes(pixels);
        return [.. Header(0x803, (uint)count, (uint)rows, (uint)columns), .. pixels];
    }

    private static byte[] Labels(Random r, int count)
    {
        var labels = new byte[count];
        for (int i = 0; i < count; i++) labels[i] = (byte)r.Next(10);
        return [.. Header(0x801, (uint)count), .. labels];
    }

    private static readonly uint[] Dimensions = [0, 1, 2, 3, 4, 5, 27, 28, 29, 4096, 4097, 100_000_000, 100_000_001, uint.MaxValue, 0x80000000];
    private static readonly int[] Magics = [0x803, 0x801, 0x802, 0x804, 0x903, 0xD03, 0x0E01, 0x1F8B0803, -1, 0];

    /// <summary>One edit of the uncompressed content.</summary>
    private static (string, byte[]) MutateRaw(Random r, byte[] raw)
    {
        var b = (byte[])raw.Clone();
        if (b.Length < 8)
        {
            // What an earlier edit cut short: only growing it makes sense.
            var more = new byte[1 + r.Next(16)];
            r.NextBytes(more);
            return ($"{more.Length} bytes appended to {b.Length}", [.. b, .. more]);
        }
        int kind = r.Next(7);
        if (kind < 3) return ByteEdits.Apply(r, b, kind);
        switch (kind)
        {
            case 3:
            {
                int magic = Magics[r.Next(Magics.Length)];
                BinaryPrimitives.WriteInt32BigEndian(b, magic);
                return ($"magic 0x{magic:X8}", b);
            }
            case 4:
            {
                int slots = Math.Max(1, Math.Min(3, (b.Length - 4) / 4));
                int slot = r.Next(slots);
                uint value = r.Next(3) == 0 ? (uint)r.Next() : Dimensions[r.Next(Dimensions.Length)];
                if (4 + 4 * slot + 4 <= b.Length) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + 4 * slot), value);
                return ($"dimension {slot} = {value}", b);
            }
            case 5:
            {
                // A header that agrees with itself but not with the data: one side grows or shrinks by one.
                int slot = b.Length >= 16 && r.Next(2) == 0 ? 1 + r.Next(2) : 0;
                if (4 + 4 * slot + 4 > b.Length) return ("nothing", b);
                uint v = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4 + 4 * slot));
                uint changed = r.Next(2) == 0 ? v + 1 : v - 1;
                BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4 + 4 * slot), changed);
                return ($"dimension {slot} {v} -> {changed}", b);
            }
            default:
            {
                int at = r.Next(b.Length);
                int count = Math.Min(b.Length - at, 1 + r.Next(32));
                r.NextBytes(b.AsSpan(at, count));
                return ($"{count} random bytes at {at}", b);
            }
        }
    }

    /// <summary>One edit of a gzip file's bytes.</summary>
    private static (string, byte[]) MutateGzip(Random r, byte[] gz, byte[] raw)
    {
        var b = (byte[])gz.Clone();
        switch (r.Next(7))
        {
            case 0:
            {
                int at = r.Next(b.Length);
                b[at] ^= (byte)(1 << r.Next(8));
                return ($"gzip bit flip at {at}", b);
            }
            case 1:
            {
                int length = r.Next(b.Length);
                return ($"gzip truncated to {length}", b[..length]);
            }
            case 2:
            {
                // The CRC32 or the length in the 8-byte trailer.
                int at = b.Length - 1 - r.Next(8);
                b[at] ^= (byte)(1 + r.Next(255));
                return ($"gzip trailer byte {at}", b);
            }
            case 3:
                return ("two gzip members", [.. b, .. Gzip(raw)]);
            case 4:
            {
                var tail = new byte[1 + r.Next(16)];
                r.NextBytes(tail);
                return ($"{tail.Length} bytes after the gzip member", [.. b, .. tail]);
            }
            case 5:
            {
                // Header flags byte: claims of extra fields, names and comments that are not there.
                b[3] = (byte)r.Next(256);
                return ($"gzip flags 0x{b[3]:X2}", b);
            }
            default:
            {
                var junk = new byte[r.Next(64)];
                r.NextBytes(junk);
                return ("gzip magic then junk", [0x1F, 0x8B, .. junk]);
            }
        }
    }

    private static string? SoundImages(IdxImages images)
    {
        if (images.Count < 1 || images.Rows < 1 || images.Columns < 1) return $"{images.Count} images of {images.Rows}x{images.Columns}";
        if (images.Rows > 4096 || images.Columns > 4096) return $"images of {images.Rows}x{images.Columns}";
        if ((long)images.Count * images.Rows * images.Columns != images.Pixels.Length) return $"{images.Pixels.Length} pixels for {images.Count}x{images.Rows}x{images.Columns}";
        foreach (float v in images.ToFloats())
            if (!(v >= 0f && v <= 1f)) return $"a pixel of {v}";
        return null;
    }

    [Fact]
    public void Mutated_idx_files_read_soundly_or_fail_cleanly()
    {
        int seed = CheckpointFuzzTests.Setting("VAE_FUZZ_SEED", DefaultSeed);
        int inputs = CheckpointFuzzTests.Setting("VAE_FUZZ_INPUTS", DefaultInputs);
        var r = new Random(seed);
        var tally = new FuzzTally("IDX fuzz", seed);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "fuzzed-idx");
        int gzipInputs = 0;

        for (int i = 0; i < inputs; i++)
        {
            bool images = r.Next(2) == 0;
            byte[] raw = images ? Images(r, 1 + r.Next(6), 1 + r.Next(5), 1 + r.Next(5)) : Labels(r, 1 + r.Next(20));
            string what;
            byte[] bytes;
            switch (r.Next(4))
            {
                case 0:
                    (what, bytes) = MutateRaw(r, raw);
                    break;
                case 1:
                {
                    // Gzip around mutated content: the decompressed stream carries the damage.
                    (what, var inner) = MutateRaw(r, raw);
                    what = $"gzip of ({what})";
                    bytes = Gzip(inner);
                    break;
                }
                case 2:
                {
                    var level = r.Next(2) == 0 ? CompressionLevel.Fastest : CompressionLevel.SmallestSize;
                    (what, bytes) = MutateGzip(r, Gzip(raw, level), raw);
                    break;
                }
                default:
                {
                    (string first, byte[] once) = MutateRaw(r, raw);
                    (string second, bytes) = MutateRaw(r, once);
                    what = $"{first}; then {second}";
                    if (r.Next(2) == 0)
                    {
                        bytes = Gzip(bytes);
                        what = $"gzip of ({what})";
                    }
                    break;
                }
            }
            if (bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B) gzipInputs++;

            string kind = images ? "images" : "labels";
            string mutation = $"#{i} {kind}: {what}";
            string source = $"fuzz-{i}.idx";
            tally.NewInput();
            tally.Run("ReadImages(stream)", mutation, source, () => SoundImages(IdxReader.ReadImages(new MemoryStream(bytes), source)));
            tally.Run("ReadLabels(stream)", mutation, source, () => IdxReader.ReadLabels(new MemoryStream(bytes), source).Length > 0 ? null : "no labels");
            tally.Run("ReadImages(pipe)", mutation, source,
                () => SoundImages(IdxReader.ReadImages(new NonSeekableStream(chunk: 1 + i % 11, data: bytes), source)));
            if (i % 4 == 0)
            {
                File.WriteAllBytes(path, bytes);
                tally.Run("ReadImages(path)", mutation, path, () => SoundImages(IdxReader.ReadImages(path)));
                tally.Run("ReadLabels(path)", mutation, path, () => IdxReader.ReadLabels(path).Length > 0 ? null : "no labels");
            }
        }
        tally.Report(output, clock.Elapsed);
        output.WriteLine($"{gzipInputs} of the {tally.Tries} inputs were gzip");
        Assert.True(tally.Tries >= 1000 || inputs < 1000);
        Assert.True(gzipInputs > inputs / 4, "the fuzzer should feed the gzip path too");
        Assert.True(tally.Successes > 0 && tally.CleanErrors > 0, "the fuzzer should reach both outcomes");
    }
}
