using System.Runtime.CompilerServices;

namespace Vae.Noise;

/// <summary>
/// Counter-based random numbers (Philox4x32-10, Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC11)
/// and the project's reparameterisation-noise convention built on it.
/// </summary>
/// <remarks>
/// A counter-based generator is used because every noise value is a pure function of
/// (seed, step, example, sample, latent index): the CPU reference, OpenCL and CUDA back ends can all draw the same
/// epsilon without sharing generator state, and a training step can be replayed exactly.
/// The uniform and Box-Muller steps are deliberately plain single-precision arithmetic so they can be written
/// identically in OpenCL C and CUDA C. The integer part (Philox and the uniform mapping) is bit-exact everywhere;
/// log/sqrt/sin/cos come from each platform's math library, so normals agree across back ends to a few ulp, not bitwise.
/// </remarks>
public static class Philox
{
    // Round multipliers and Weyl key increments from the Random123 paper / reference implementation.
    private const uint M0 = 0xD2511F53;
    private const uint M1 = 0xCD9E8D57;
    private const uint W0 = 0x9E3779B9;
    private const uint W1 = 0xBB67AE85;

    // 2^-24: the top 24 bits of a 32-bit word become a float without rounding.
    private const float UniformScale = 1f / 16777216f;

    // Written as a float literal (not 2 * MathF.PI evaluated in double) so every back end uses the same bits.
    private const float TwoPi = 6.2831855f;

    /// <summary>Philox4x32 with 10 rounds: maps a 128-bit counter and a 64-bit key to 128 random bits.</summary>
    public static (uint X0, uint X1, uint X2, uint X3) Philox4x32_10(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        // The key is bumped between rounds (nine times for ten rounds), never before the first one.
        Round(ref c0, ref c1, ref c2, ref c3, k0, k1);
        for (int r = 1; r < 10; r++)
        {
            k0 += W0;
            k1 += W1;
            Round(ref c0, ref c1, ref c2, ref c3, k0, k1);
        }

        return (c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref uint x0, ref uint x1, ref uint x2, ref uint x3, uint k0, uint k1)
    {
        ulong p0 = Math.BigMul(M0, x0);
        ulong p1 = Math.BigMul(M1, x2);
        uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
        uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;

        uint n0 = hi1 ^ x1 ^ k0;
        uint n2 = hi0 ^ x3 ^ k1;
        x0 = n0;
        x1 = lo1;
        x2 = n2;
        x3 = lo0;
    }

    /// <summary>
    /// One standard-normal epsilon of the project convention. Intended for tests and reference code;
    /// bulk callers should use <see cref="FillNormal(ulong, uint, int, int, int, int, Span{float})"/>, which shares one Philox call between four latent indices.
    /// </summary>
    public static float Normal(ulong seed, uint step, uint example, uint sample, int latentIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(latentIndex);
        var (n0, n1, n2, n3) = Group(seed, step, example, sample, (uint)latentIndex >> 2);
        return (latentIndex & 3) switch
        {
            0 => n0,
            1 => n1,
            2 => n2,
            _ => n3,
        };
    }

    /// <summary>
    /// Fills <paramref name="eps"/>, laid out [example, sample, latent] row-major, with standard-normal draws.
    /// The example number in the counter is <c>firstExample + e</c>, so a mini-batch drawn in pieces matches one drawn whole.
    /// Only the first <c>examples * samples * latent</c> elements are written.
    /// </summary>
    public static unsafe void FillNormal(ulong seed, uint step, int firstExample, int examples, int samples, int latent, Kernels.Cpu.Floats eps) =>
        FillNormal(seed, step, firstExample, examples, samples, latent, new Span<float>(eps, checked(examples * samples * latent)));

    /// <summary>
    /// Fills <paramref name="eps"/>, laid out [example, sample, latent] row-major, with standard-normal draws (see the overload above).
    /// </summary>
    public static void FillNormal(ulong seed, uint step, int firstExample, int examples, int samples, int latent, Span<float> eps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstExample);
        ArgumentOutOfRangeException.ThrowIfNegative(examples);
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegative(latent);

        // long arithmetic so an overflowing product is reported as "too short" instead of wrapping to a small size.
        long needed = (long)examples * samples * latent;
        if (eps.Length < needed)
        {
            throw new ArgumentException(
                $"eps has {eps.Length} elements but examples*samples*latent = {examples}*{samples}*{latent} = {needed} are required.",
                nameof(eps));
        }

        int offset = 0;
        for (int e = 0; e < examples; e++)
        {
            uint example = (uint)(firstExample + e);
            for (int s = 0; s < samples; s++)
            {
                Span<float> row = eps.Slice(offset, latent);
                int j = 0;
                for (; j + 4 <= latent; j += 4)
                {
                    var (n0, n1, n2, n3) = Group(seed, step, example, (uint)s, (uint)j >> 2);
                    row[j] = n0;
                    row[j + 1] = n1;
                    row[j + 2] = n2;
                    row[j + 3] = n3;
                }

                if (j < latent)
                {
                    // A partial last group still draws all four values and keeps the first ones, so index j always
                    // gets n[j % 4] of group j / 4 whatever the latent size.
                    var (n0, n1, n2, _) = Group(seed, step, example, (uint)s, (uint)j >> 2);
                    int rest = latent - j;
                    row[j] = n0;
                    if (rest > 1) row[j + 1] = n1;
                    if (rest > 2) row[j + 2] = n2;
                }

                offset += latent;
            }
        }
    }

    /// <summary>
    /// Maps 32 random bits to a float in (0, 1]: the top 24 bits plus one half, times 2^-24.
    /// Note the float addition rounds to even above 2^23, so the largest input gives exactly 1.0 (log = 0, no NaN),
    /// and the smallest gives 2^-25, so the logarithm is always finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ToUniform(uint r) => ((r >> 8) + 0.5f) * UniformScale;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float N0, float N1, float N2, float N3) Group(ulong seed, uint step, uint example, uint sample, uint group)
    {
        var (r0, r1, r2, r3) = Philox4x32_10(group, sample, example, step, (uint)seed, (uint)(seed >> 32));
        var (n0, n1) = BoxMuller(ToUniform(r0), ToUniform(r1));
        var (n2, n3) = BoxMuller(ToUniform(r2), ToUniform(r3));
        return (n0, n1, n2, n3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (float A, float B) BoxMuller(float uRadius, float uAngle)
    {
        float radius = MathF.Sqrt(-2f * MathF.Log(uRadius));
        float angle = TwoPi * uAngle;
        return (radius * MathF.Cos(angle), radius * MathF.Sin(angle));
    }
}
