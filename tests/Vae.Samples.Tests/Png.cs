using System.Buffers.Binary;
using System.IO.Compression;

namespace Vae.Samples.Tests;

/// <summary>
/// Just enough PNG reading for the sample's pictures: the signature and the IHDR chunk that must follow it, and the
/// pixels of the 8-bit, non-interlaced, unfiltered images the runtime's writer makes (chunk CRCs are the runtime's
/// PNG tests' business).
/// </summary>
internal static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A decoded image: colour type 0 (gray, one byte a pixel) or 2 (RGB, three).</summary>
    public sealed record Image(int Width, int Height, int ColorType, byte[] Pixels)
    {
        public (byte R, byte G, byte B) Rgb(int x, int y)
        {
            int i = ((y * Width) + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>The image's width and height; fails the test when the file is not a PNG.</summary>
    public static (int Width, int Height) Size(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 33, $"{path} is too short for a PNG ({bytes.Length} bytes).");
        Assert.Equal(Signature, bytes[..8]);
        Assert.Equal(13u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(8)));
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return ((int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(16)), (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(20)));
    }

    /// <summary>The image's pixels; fails the test when the file is not a PNG this reader understands.</summary>
    public static Image Read(string path)
    {
        var (width, height) = Size(path);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(8, bytes[24]);  // bit depth
        int colorType = bytes[25];
        Assert.Equal(0, bytes[28]);  // not interlaced
        int channels = colorType switch { 0 => 1, 2 => 3, _ => throw new InvalidDataException($"{path}: colour type {colorType}") };

        using var idat = new MemoryStream();
        bool ended = false;
        for (int pos = 8; pos < bytes.Length && !ended;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(bytes, pos + 4, 4);
            if (type == "IDAT")
            {
                idat.Write(bytes, pos + 8, length);
            }

            ended = type == "IEND";
            pos += 12 + length;
        }

        Assert.True(ended, $"{path} has no IEND chunk.");
        idat.Position = 0;
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress))
        {
            zlib.CopyTo(raw);
        }

        byte[] rows = raw.ToArray();
        int stride = width * channels;
        Assert.Equal((stride + 1) * height, rows.Length);
        var pixels = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, rows[y * (stride + 1)]); // filter type None, all the writer emits
            rows.AsSpan((y * (stride + 1)) + 1, stride).CopyTo(pixels.AsSpan(y * stride));
        }

        return new Image(width, height, colorType, pixels);
    }
}
