using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Vae.Imaging;
using Xunit;

namespace Vae.Runtime.Tests.Imaging;

public sealed class PngWriterTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "vae-png-tests-" + Guid.NewGuid().ToString("N"));

    public PngWriterTests() => Directory.CreateDirectory(_folder);

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    [Fact]
    public void Gray_RoundTripsExactPixels()
    {
        const int width = 7, height = 5;
        var pixels = new byte[width * height];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 37);
        }

        var png = Encode(s => PngWriter.WriteGray(s, width, height, pixels));
        var image = MiniPng.Decode(png);

        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        Assert.Equal(8, image.BitDepth);
        Assert.Equal(0, image.ColorType);
        Assert.Equal(0, image.Compression);
        Assert.Equal(0, image.FilterMethod);
        Assert.Equal(0, image.Interlace);
        Assert.All(image.RowFilters, f => Assert.Equal(0, f));
        Assert.Equal(pixels, image.Pixels);
        Assert.Equal(["IHDR", "IDAT", "IEND"], image.ChunkTypes);
    }

    [Fact]
    public void Rgb_RoundTripsExactPixels()
    {
        const int width = 4, height = 3;
        var rgb = new byte[width * height * 3];
        new Random(5).NextBytes(rgb);

        var image = MiniPng.Decode(Encode(s => PngWriter.WriteRgb(s, width, height, rgb)));

        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        Assert.Equal(2, image.ColorType);
        Assert.Equal(8, image.BitDepth);
        Assert.Equal(height, image.RowFilters.Count);
        Assert.Equal(rgb, image.Pixels);
    }

    [Fact]
    public void LargeImage_IsSplitIntoSeveralValidIdatChunks()
    {
        // Random data does not compress, so the IDAT stream exceeds one 64 KiB chunk.
        const int width = 300, height = 300;
        var rgb = new byte[width * height * 3];
        new Random(11).NextBytes(rgb);

        var image = MiniPng.Decode(Encode(s => PngWriter.WriteRgb(s, width, height, rgb)));

        Assert.True(image.ChunkTypes.Count(t => t == "IDAT") > 1);
        Assert.Equal(rgb, image.Pixels);
    }

    [Fact]
    public void Crc32_MatchesTheStandardCheckValue()
    {
        // "123456789" -> 0xCBF43926 is the published check value of this CRC-32 variant.
        Assert.Equal(0xCBF43926u, PngWriter.Crc32("123456789"u8));
        Assert.Equal(0xCBF43926u, MiniPng.BitwiseCrc32("123456789"u8));
    }

    [Fact]
    public void SaveGray_WritesFileAndLeavesNoTemporaryFiles()
    {
        string path = Path.Combine(_folder, "sub", "image.png");
        PngWriter.SaveGray(path, 2, 2, [1, 2, 3, 4]);
        PngWriter.SaveGray(path, 3, 1, [9, 8, 7]); // overwrite

        var image = MiniPng.Decode(File.ReadAllBytes(path));
        Assert.Equal(3, image.Width);
        Assert.Equal(1, image.Height);
        Assert.Equal(new byte[] { 9, 8, 7 }, image.Pixels);
        Assert.Equal([path], Directory.GetFiles(Path.Combine(_folder, "sub")));
    }

    [Fact]
    public void SaveRgb_WritesDecodableFile()
    {
        string path = Path.Combine(_folder, "rgb.png");
        PngWriter.SaveRgb(path, 1, 2, [255, 0, 0, 0, 0, 255]);
        var image = MiniPng.Decode(File.ReadAllBytes(path));
        Assert.Equal(new byte[] { 255, 0, 0, 0, 0, 255 }, image.Pixels);
    }

    [Fact]
    public void ArgumentErrors_AreReportedAndWriteNothing()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentOutOfRangeException>(() => PngWriter.WriteGray(stream, 0, 1, []));
        Assert.Throws<ArgumentOutOfRangeException>(() => PngWriter.WriteGray(stream, 1, -1, []));
        var ex = Assert.Throws<ArgumentException>(() => PngWriter.WriteGray(stream, 2, 2, new byte[3]));
        Assert.Equal("pixels", ex.ParamName);
        Assert.Contains("4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PngWriter.WriteRgb(stream, 2, 2, new byte[4]));
        Assert.Equal("rgb", ex.ParamName);
        Assert.Contains("12", ex.Message);
        Assert.Throws<ArgumentNullException>(() => PngWriter.WriteGray(null!, 1, 1, [0]));
        Assert.Throws<ArgumentException>(() => PngWriter.WriteGray(new MemoryStream([], writable: false), 1, 1, [0]));
        Assert.Equal(0, stream.Length);

        Assert.Throws<ArgumentException>(() => PngWriter.SaveGray(Path.Combine(_folder, "bad.png"), 2, 2, new byte[5]));
        Assert.Throws<ArgumentException>(() => PngWriter.SaveGray(" ", 1, 1, [0]));
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void ImageGrid_PlacesTileKAtItsCell()
    {
        // Five 2x3 tiles, 3 columns, scale 2, padding 1: tile k is filled with (k + 1) / 10 except pixel (0,0) = 1.
        const int count = 5, tw = 2, th = 3, columns = 3, scale = 2, padding = 1;
        var images = new float[count * tw * th];
        for (int k = 0; k < count; k++)
        {
            images.AsSpan(k * tw * th, tw * th).Fill((k + 1) / 10f);
            images[k * tw * th] = 1f;
        }

        var grid = ImageGrid.Compose(images, count, tw, th, columns, scale, padding, background: 7);
        int cellW = tw * scale + padding, cellH = th * scale + padding;
        Assert.Equal(padding + (columns * cellW), grid.Width);
        Assert.Equal(padding + (2 * cellH), grid.Height);
        Assert.Equal(3, grid.Columns);
        Assert.Equal(2, grid.Rows);

        var covered = new bool[grid.Width * grid.Height];
        for (int k = 0; k < count; k++)
        {
            int left = padding + ((k % columns) * cellW);
            int top = padding + ((k / columns) * cellH);
            for (int y = 0; y < th * scale; y++)
            {
                for (int x = 0; x < tw * scale; x++)
                {
                    int source = ((y / scale) * tw) + (x / scale);
                    byte expected = source == 0 ? (byte)255 : (byte)MathF.Floor(((k + 1) / 10f * 255f) + 0.5f); // round half up
                    int at = ((top + y) * grid.Width) + left + x;
                    Assert.Equal(expected, grid.Pixels[at]);
                    covered[at] = true;
                }
            }
        }

        // Everything else, including the empty sixth cell, is background.
        for (int i = 0; i < covered.Length; i++)
        {
            if (!covered[i])
            {
                Assert.Equal(7, grid.Pixels[i]);
            }
        }

        // The saved PNG carries the same pixels.
        string path = Path.Combine(_folder, "grid.png");
        grid.Save(path);
        var decoded = MiniPng.Decode(File.ReadAllBytes(path));
        Assert.Equal(grid.Width, decoded.Width);
        Assert.Equal(grid.Pixels.ToArray(), decoded.Pixels);
    }

    [Fact]
    public void ImageGrid_ClampsValuesAndMapsNaNToBlack()
    {
        float[] images = [float.NaN, -3f, 0f, 0.5f, 1f, 42f, float.PositiveInfinity, float.NegativeInfinity];
        var grid = ImageGrid.Compose(images, 1, 8, 1, 1, scale: 1, padding: 0);
        Assert.Equal(new byte[] { 0, 0, 0, 128, 255, 255, 255, 0 }, grid.Pixels.ToArray());
    }

    [Fact]
    public void ImageGrid_FewerImagesThanColumnsNarrowsTheGrid()
    {
        var grid = ImageGrid.Compose(new float[2 * 4], 2, 2, 2, columns: 10, scale: 1, padding: 2);
        Assert.Equal(2, grid.Columns);
        Assert.Equal(2 + (2 * (2 + 2)), grid.Width);
    }

    [Fact]
    public void ImageGrid_StaticSaveWritesPng()
    {
        string path = Path.Combine(_folder, "samples.png");
        ImageGrid.Save(path, new float[6 * 28 * 28], 6, 28, 28, columns: 4);
        var decoded = MiniPng.Decode(File.ReadAllBytes(path));
        Assert.Equal(2 + (4 * ((28 * 2) + 2)), decoded.Width); // default scale 2, padding 2
        Assert.Equal(2 + (2 * ((28 * 2) + 2)), decoded.Height);
        Assert.Equal(0, decoded.ColorType);
    }

    [Fact]
    public void ImageGrid_ArgumentErrors()
    {
        var ex = Assert.Throws<ArgumentException>(() => ImageGrid.Compose(new float[7], 2, 2, 2, 1));
        Assert.Equal("images", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Compose(new float[4], 0, 2, 2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Compose(new float[4], 1, 2, 2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Compose(new float[4], 1, 2, 2, 1, scale: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageGrid.Compose(new float[4], 1, 2, 2, 1, padding: -1));
    }

    private static byte[] Encode(Action<Stream> write)
    {
        using var stream = new MemoryStream();
        write(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// Independent test-side PNG reader: checks the signature and every chunk CRC (bitwise, no table, so it shares
    /// nothing with the writer), then inflates the IDAT stream and strips the per-row filter bytes.
    /// Only filter type 0 is accepted, which is all the writer emits.
    /// </summary>
    private static class MiniPng
    {
        public sealed record Image(
            int Width, int Height, int BitDepth, int ColorType, int Compression, int FilterMethod, int Interlace,
            List<string> ChunkTypes, List<byte> RowFilters, byte[] Pixels);

        public static uint BitwiseCrc32(ReadOnlySpan<byte> data)
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in data)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++)
                {
                    crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
                }
            }

            return ~crc;
        }

        public static Image Decode(byte[] file)
        {
            byte[] signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
            Assert.True(file.AsSpan(0, 8).SequenceEqual(signature), "PNG signature");

            var types = new List<string>();
            var idat = new MemoryStream();
            byte[]? ihdr = null;
            int pos = 8;
            while (pos < file.Length)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
                string type = Encoding.ASCII.GetString(file, pos + 4, 4);
                var typeAndData = file.AsSpan(pos + 4, 4 + length);
                uint stored = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 8 + length));
                Assert.Equal(BitwiseCrc32(typeAndData), stored);

                types.Add(type);
                var data = file.AsSpan(pos + 8, length);
                if (type == "IHDR")
                {
                    ihdr = data.ToArray();
                }
                else if (type == "IDAT")
                {
                    idat.Write(data);
                }

                pos += 12 + length;
            }

            Assert.Equal(file.Length, pos);
            Assert.Equal("IHDR", types[0]);
            Assert.Equal("IEND", types[^1]);
            Assert.NotNull(ihdr);
            Assert.Equal(13, ihdr.Length);

            int width = BinaryPrimitives.ReadInt32BigEndian(ihdr);
            int height = BinaryPrimitives.ReadInt32BigEndian(ihdr.AsSpan(4));
            int colorType = ihdr[9];
            int channels = colorType switch { 0 => 1, 2 => 3, _ => throw new InvalidDataException($"color type {colorType}") };

            idat.Position = 0;
            using var inflated = new MemoryStream();
            using (var zlib = new ZLibStream(idat, CompressionMode.Decompress))
            {
                zlib.CopyTo(inflated);
            }

            byte[] raw = inflated.ToArray();
            int stride = width * channels;
            Assert.Equal((stride + 1) * height, raw.Length);

            var filters = new List<byte>();
            var pixels = new byte[stride * height];
            for (int y = 0; y < height; y++)
            {
                filters.Add(raw[y * (stride + 1)]);
                Assert.Equal(0, raw[y * (stride + 1)]);
                raw.AsSpan((y * (stride + 1)) + 1, stride).CopyTo(pixels.AsSpan(y * stride));
            }

            return new Image(width, height, ihdr[8], colorType, ihdr[10], ihdr[11], ihdr[12], types, filters, pixels);
        }
    }
}
