using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vae.Kernels.Cpu;

/// <summary>
/// An element-wise non-linearity as a static operator, so the GEMM epilogues that take it as a type argument are
/// specialised by the JIT (the TensorPrimitives pattern: one driver, one small struct per operator).
/// </summary>
public interface IActivation
{
    /// <summary>y = f(a).</summary>
    static abstract float Forward(float a);

    /// <summary>dy/da, from the pre-activation and the output (whichever is cheaper).</summary>
    static abstract float Derivative(float a, float y);

    /// <summary>Whether <see cref="Forward(Vector256{float})"/> is a true vector path.</summary>
    static abstract bool IsVectorized { get; }

    /// <summary>Vector form of <see cref="Forward(float)"/>; only called when <see cref="IsVectorized"/>.</summary>
    static abstract Vector256<float> Forward(Vector256<float> a);

    /// <summary>Vector form of <see cref="Derivative(float, float)"/>; only called when <see cref="IsVectorized"/>.</summary>
    static abstract Vector256<float> Derivative(Vector256<float> a, Vector256<float> y);
}

/// <summary>y = a.</summary>
public readonly struct IdentityActivation : IActivation
{
    public static bool IsVectorized => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => 1f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Forward(Vector256<float> a) => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => Vector256<float>.One;
}

/// <summary>y = max(a, 0).</summary>
public readonly struct ReluActivation : IActivation
{
    public static bool IsVectorized => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => a > 0f ? a : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => a > 0f ? 1f : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Forward(Vector256<float> a) => Vector256.Max(a, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) =>
        Vector256.GreaterThan(a, Vector256<float>.Zero) & Vector256<float>.One;
}

/// <summary>y = a for a &gt; 0, else 0.01 a.</summary>
public readonly struct LeakyReluActivation : IActivation
{
    /// <summary>PyTorch's default negative slope.</summary>
    public const float Slope = 0.01f;
    public static bool IsVectorized => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => a > 0f ? a : Slope * a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => a > 0f ? 1f : Slope;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Forward(Vector256<float> a) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256<float>.Zero), a, a * Vector256.Create(Slope));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256<float>.Zero), Vector256<float>.One, Vector256.Create(Slope));
}

/// <summary>y = a for a &gt; 0, else exp(a) - 1.</summary>
public readonly struct EluActivation : IActivation
{
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => a > 0f ? a : MathF.Exp(a) - 1f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => a > 0f ? 1f : y + 1f;
    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>y = tanh(a).</summary>
public readonly struct TanhActivation : IActivation
{
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => MathF.Tanh(a);
    /// <summary>1 - tanh(a)^2 as 4e / (1 + e)^2 with e = exp(-2|a|): 1 - y*y would cancel to garbage in the tails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float a, float y)
    {
        float e = MathF.Exp(-2f * MathF.Abs(a));
        return 4f * e / ((1f + e) * (1f + e));
    }
    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>y = 1 / (1 + exp(-a)).</summary>
public readonly struct SigmoidActivation : IActivation
{
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => 1f / (1f + MathF.Exp(-a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => y * (1f - y);
    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>y = log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)), which never overflows.</summary>
public readonly struct SoftplusActivation : IActivation
{
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(float a) => MathF.Max(a, 0f) + MathF.Log(1f + MathF.Exp(-MathF.Abs(a)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Derivative(float a, float y) => 1f / (1f + MathF.Exp(-a));
    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>GELU in its tanh form, chosen over the erf form so that every target computes the same function.</summary>
public readonly struct GeluActivation : IActivation
{
    /// <summary>sqrt(2 / pi).</summary>
    public const float C = 0.7978845608f;
    /// <summary>The cubic coefficient of the tanh approximation.</summary>
    public const float K = 0.044715f;
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(float a) => a * Half(C * (a + K * a * a * a));

    /// <summary>
    /// d/da from (1 + tanh u) / 2 and 1 - tanh(u)^2 written with e = exp(-2|u|), so neither depends on tanh
    /// reaching exactly +-1 in the tails (a tanh one ulp short leaves 1 - t*t at 1e-7 where it should be 1e-70).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float a, float y)
    {
        float u = C * (a + K * a * a * a);
        float e = MathF.Exp(-2f * MathF.Abs(u));
        float sech2 = 4f * e / ((1f + e) * (1f + e));
        return Half(u) + 0.5f * a * sech2 * C * (1f + 3f * K * a * a);
    }

    /// <summary>(1 + tanh u) / 2 = 1 / (1 + exp(-2u)), in the form that cannot overflow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half(float u)
    {
        float e = MathF.Exp(-2f * MathF.Abs(u));
        return u >= 0f ? 1f / (1f + e) : e / (1f + e);
    }
    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>SiLU (swish): y = a s with s = sigmoid(a); dy/da = s (1 + a (1 - s)). The sigmoid is taken in its stable form.</summary>
public readonly struct SiluActivation : IActivation
{
    public static bool IsVectorized => false;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Forward(float a) => a * Sigmoid(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(float a, float y)
    {
        float s = Sigmoid(a);
        return s * (1f + a * (1f - s));
    }

    /// <summary>1 / (1 + exp(-a)) with e = exp(-|a|), which overflows in neither tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sigmoid(float a)
    {
        float e = MathF.Exp(-MathF.Abs(a));
        return a >= 0f ? 1f / (1f + e) : e / (1f + e);
    }

    public static Vector256<float> Forward(Vector256<float> a) => throw new NotSupportedException();
    public static Vector256<float> Derivative(Vector256<float> a, Vector256<float> y) => throw new NotSupportedException();
}

/// <summary>Loops over whole buffers that the layer kernels share.</summary>
internal static unsafe class ActivationLoops
{
    /// <summary>dPre[i] = dOut[i] f'(pre[i], out[i]) for i in [begin, end), eight at a time when the activation has a vector form; dPre may alias dOut.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Derivative<TAct>(float* dOut, float* pre, float* output, float* dPre, long begin, long end) where TAct : struct, IActivation
    {
        long i = begin;
        if (TAct.IsVectorized)
            for (; i + 8 <= end; i += 8)
                (Vector256.Load(dOut + i) * TAct.Derivative(Vector256.Load(pre + i), Vector256.Load(output + i))).Store(dPre + i);
        for (; i < end; i++) dPre[i] = dOut[i] * TAct.Derivative(pre[i], output[i]);
    }
}
