using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// The tolerance rules of the op tier, in one place.
/// <para>
/// A float32 primitive is compared with its double reference evaluated on the very same float inputs. Float32 keeps
/// each rounding within U = 2^-24 of the value rounded, so the rule is: the error may be k U times the magnitude of
/// the values the float formula combines, never times a fixed constant. That magnitude is, per op, the result itself,
/// plus how much the result moves when an input moves by one part in 2^24 (|a f'(a)|: the float formula rounds its
/// inputs' intermediates, e.g. a^3 or the argument of exp), plus the terms a formula adds or subtracts when they
/// are larger than the result (exp(a) - 1 is only accurate relative to 1), plus, for sums of n terms, n times the sum
/// of the terms' magnitudes (the worst case of float summation, whatever the order). Results below float's smallest
/// normal number, 2^-126, have no relative precision and are compared to that absolute floor.
/// </para>
/// <para>
/// A double reference is compared with central differences of itself with step h relative to the input. The
/// difference quotient carries rounding of about 2^-52 |terms of f| / h and truncation of order h^2 f''' / 6,
/// so the rule is 1e-7 relative to the derivative plus 1e-14 |terms of f| / h absolute. Where a function is
/// saturated that absolute part dominates: finite differences only show that the derivative is tiny there.
/// </para>
/// </summary>
internal static class OpChecks
{
    /// <summary>Float32's unit roundoff.</summary>
    public const double U = 1.0 / (1 << 24);

    /// <summary>Float32's smallest normal number: below it a float result keeps no relative precision.</summary>
    public const double FloatFloor = 1.1754943508222875e-38;

    /// <summary>Relative step of the central differences: a power of two, so a +- h is exact.</summary>
    public const double RelativeStep = 1.0 / (1 << 20);

    public static double Step(double at) => RelativeStep * Math.Max(1, Math.Abs(at));

    /// <summary>Asserts |actual - expected| &lt;= tolerance, with a message that says by how much it is off.</summary>
    public static void Within(double expected, double actual, double tolerance, string what)
    {
        double error = Math.Abs(actual - expected);
        Assert.True(error <= tolerance && !double.IsNaN(actual),
            $"{what}: expected {expected:R}, got {actual:R}, error {error:G3} > tolerance {tolerance:G3}");
    }

    /// <summary>
    /// Checks an analytic gradient against central differences of <paramref name="f"/>, one coordinate at a time;
    /// <paramref name="magnitude"/> bounds the size of the terms f adds up (its rounding is relative to them).
    /// </summary>
    public static void GradientMatchesCentralDifferences(Func<double[], double> f, double[] at, ReadOnlySpan<double> analytic, double magnitude, string what)
    {
        Assert.Equal(at.Length, analytic.Length);
        for (int i = 0; i < at.Length; i++)
        {
            double h = Step(at[i]);
            var plus = (double[])at.Clone();
            var minus = (double[])at.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (f(plus) - f(minus)) / (2 * h);
            double tolerance = 1e-7 * Math.Abs(analytic[i]) + 1e-14 * Math.Max(magnitude, 1) / h;
            Within(numeric, analytic[i], tolerance, $"{what}[{i}] at {at[i]:R} (analytic vs central difference)");
        }
    }

    /// <summary>
    /// How far a float32 evaluation of an activation (<paramref name="derivative"/>: of its derivative) may stray
    /// from the double reference at the float input <paramref name="a"/>, by the rule above.
    /// </summary>
    public static double ActivationTolerance(Activation activation, double a, bool derivative)
    {
        Func<double, double> g = derivative
            ? v => ReferenceActivations.Derivative(activation, v)
            : v => ReferenceActivations.Activate(activation, v);
        double value = g(a);
        // |a g'(a)| from a relative perturbation of the input: what one rounding of an intermediate can move.
        const double r = 1.0 / (1 << 20);
        double sensitivity = Math.Abs(g(a * (1 + r)) - g(a * (1 - r))) / (2 * r);
        return 8 * U * (Math.Abs(value) + sensitivity + CancelledTerms(activation, a, derivative)) + FloatFloor;
    }

    /// <summary>
    /// The size of the terms the CPU's float formula adds or subtracts before its result, where they are larger
    /// than the result: exp(a) - 1 and y + 1 in ELU's left half, y (1 - y) of the sigmoid, log(1 + e) of the
    /// softplus, and GELU's slope, a sum of (1 + tanh u) / 2 and a term of the opposite sign left of the origin.
    /// </summary>
    private static double CancelledTerms(Activation activation, double a, bool derivative) => activation switch
    {
        Activation.Elu => a > 0 ? 0 : 1,
        Activation.Sigmoid => derivative ? 1 : 0,
        Activation.Softplus => derivative ? 0 : 1,
        Activation.Gelu => derivative ? 1 : 0,
        // SiLU's slope s (1 + a (1 - s)) adds a s (1 - s) to s; they cancel where the slope crosses zero near a = -1.28.
        Activation.Silu => derivative ? (1 + Math.Abs(a)) / (1 + Math.Exp(-a)) : 0,
        Activation.Identity or Activation.Relu or Activation.LeakyRelu or Activation.Tanh => 0,
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };

    /// <summary>Deterministic uniform values in [lo, hi).</summary>
    public static float[] Uniform(Random rng, int n, double lo, double hi)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return v;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var d = new double[values.Length];
        for (int i = 0; i < d.Length; i++) d[i] = values[i];
        return d;
    }

    public static double[] Abs(ReadOnlySpan<double> values)
    {
        var d = new double[values.Length];
        for (int i = 0; i < d.Length; i++) d[i] = Math.Abs(values[i]);
        return d;
    }
}

/// <summary>
/// A float array on the pinned heap, so the CPU primitives can take its address as <see cref="Floats"/> for as long
/// as the test holds it.
/// </summary>
internal sealed unsafe class PinnedFloats
{
    public PinnedFloats(int length) => Values = GC.AllocateArray<float>(Math.Max(1, length), pinned: true);

    public PinnedFloats(ReadOnlySpan<float> values) : this(values.Length) => values.CopyTo(Values);

    public float[] Values { get; }

    public Floats Address => new((float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Values)));

    public static implicit operator Floats(PinnedFloats p) => p.Address;
}
