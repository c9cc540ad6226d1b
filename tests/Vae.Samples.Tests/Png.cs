using System.Buffers.Binary;

namespace Vae.Samples.Tests;

/// <summary>Just enough PNG reading to check a file is one: the signature and the IHDR chunk that must follow it.</summary>
internal static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

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
}
