namespace Vae.Runtime.Tests.Files;

/// <summary>The byte-level edits every fuzzer starts from: bit flips, truncation and appended junk.</summary>
internal static class ByteEdits
{
    /// <summary>Edit <paramref name="kind"/> (0 flips, 1 truncation, 2 appended bytes) of a copy the caller owns.</summary>
    public static (string What, byte[] Bytes) Apply(Random r, byte[] b, int kind)
    {
        switch (kind)
        {
            case 0:
            {
                int flips = 1 + r.Next(4);
                for (int i = 0; i < flips; i++) b[r.Next(b.Length)] ^= (byte)(1 << r.Next(8));
                return ($"{flips} bit flips", b);
            }
            case 1:
            {
                int length = r.Next(b.Length);
                return ($"truncated to {length}", b[..length]);
            }
            case 2:
            {
                var tail = new byte[1 + r.Next(16)];
                r.NextBytes(tail);
                return ($"{tail.Length} bytes appended", [.. b, .. tail]);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Only edits 0, 1 and 2 are shared.");
        }
    }
}
