using System.Numerics;
using System.Runtime.Intrinsics;
using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// Every activation alone: the double reference against its own differences (central, and complex-step where the
/// function is saturated), then every CPU operator, scalar and vector path, against the reference.
/// </summary>
public class ActivationOpTests
{
    public static IEnumerable<object[]> Activations() => Enum.GetValues<Activation>().Select(a => new object[] { a });

    /// <summary>Saturated points in both tails, moderate points, and the neighbourhood of 0.</summary>
    private static readonly double[] ReferencePoints =
        [-80, -30, -15, -10, -5, -2, -1, -0.75, -0.3, -1e-3, 1e-3, 0.3, 0.75, 1, 2, 5, 10, 15, 30, 80];

    [Theory]
    [MemberData(nameof(Activations))]
    public void Reference_derivative_matches_central_differences(Activation activation)
    {
        foreach (double a in ReferencePoints)
        {
            double h = Step(a);
            double fPlus = ReferenceActivations.Activate(activation, a + h), fMinus = ReferenceActivations.Activate(activation, a - h);
            double numeric = (fPlus - fMinus) / (2 * h);
            double analytic = ReferenceActivations.Derivative(activation, a);
            // The terms of f: the value itself, and the 1 of exp(a) - 1 and log(1 + e).
            double magnitude = Math.Max(1, Math.Max(Math.Abs(fPlus), Math.Abs(fMinus)));
            Within(numeric, analytic, 1e-7 * Math.Abs(analytic) + 1e-14 * magnitude / h, $"{activation}'({a})");
        }
    }

    /// <summary>
    /// In a saturated tail central differences cannot tell 1e-70 from 1e-16 (f is constant to double precision), and
    /// a slope of 1e-16 times a cubic is exactly the kind of error a tail can hide. The complex step
    /// f'(a) = Im f(a + ih) / h subtracts nothing, so it gives the derivative to relative rounding even there.
    /// </summary>
    [Theory]
    [MemberData(nameof(Activations))]
    public void Reference_derivative_matches_the_complex_step_to_relative_precision_in_the_tails(Activation activation)
    {
        const double h = 1e-30;
        foreach (double a in ReferencePoints)
        {
            double expected = ComplexForward(activation, new Complex(a, h)).Imaginary / h;
            double actual = ReferenceActivations.Derivative(activation, a);
            Within(expected, actual, 1e-12 * Math.Abs(expected) + 1e-300, $"{activation}'({a}) against the complex step");
        }
        // Saturation that must not be mistaken for zero: these slopes are tiny but representable.
        if (activation == Activation.Tanh) Assert.True(ReferenceActivations.Derivative(activation, 30) is > 3e-26 and < 4e-26);
        if (activation == Activation.Gelu) Assert.True(ReferenceActivations.Derivative(activation, -5) is < -1e-6 and > -1e-5);
    }

    /// <summary>The activations in complex arithmetic, each written from its definition with the branch on Re z.</summary>
    private static Complex ComplexForward(Activation activation, Complex z)
    {
        static Complex HalfOnePlusTanh(Complex u) => u.Real >= 0
            ? 1 / (1 + Complex.Exp(-2 * u))
            : Complex.Exp(2 * u) / (1 + Complex.Exp(2 * u));
        return activation switch
        {
            Activation.Identity => z,
            Activation.Relu => z.Real > 0 ? z : Complex.Zero,
            Activation.LeakyRelu => z.Real > 0 ? z : 0.01 * z,
            Activation.Elu => z.Real > 0 ? z : Complex.Exp(z) - 1,
            Activation.Tanh => 2 * HalfOnePlusTanh(z) - 1,
            Activation.Sigmoid => HalfOnePlusTanh(z / 2),
            Activation.Softplus => z.Real > 0 ? z + Complex.Log(1 + Complex.Exp(-z)) : Complex.Log(1 + Complex.Exp(z)),
            Activation.Gelu => z * HalfOnePlusTanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)),
            Activation.Silu => z * HalfOnePlusTanh(z / 2),
            _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
        };
    }

    [Fact]
    public void Reference_values_in_the_tails_are_exact_limits()
    {
        Assert.Equal(-1.0, ReferenceActivations.Activate(Activation.Elu, -80));
        Assert.Equal(80.0, ReferenceActivations.Activate(Activation.Softplus, 80));
        Assert.Equal(0.0, ReferenceActivations.Activate(Activation.Gelu, -30));
        Assert.Equal(30.0, ReferenceActivations.Activate(Activation.Gelu, 30));
        Assert.Equal(Math.Exp(-80) / (1 + Math.Exp(-80)), ReferenceActivations.Activate(Activation.Sigmoid, -80), 1e-50);
        Assert.Equal(1.0, ReferenceActivations.Derivative(Activation.Gelu, 80));
    }

    /// <summary>A grid through both saturated tails, the transitions, and values near 0 and near float's limits.</summary>
    private static float[] Grid()
    {
        var grid = new List<float> { 0f };
        for (int i = -96; i <= 96; i++) grid.Add(i * 0.125f + 0.0371f);
        foreach (float v in new[] { 1e-6f, 1e-3f, 0.1f, 15f, 17.5f, 20f, 30f, 50f, 80f, 88f, 100f, 1e4f, 1e12f })
        {
            grid.Add(v);
            grid.Add(-v);
        }
        while (grid.Count % 8 != 0) grid.Add(-0.5f); // whole vectors for the Vector256 path
        return grid.ToArray();
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Cpu_operator_matches_the_reference_on_every_path(Activation activation)
    {
        switch (activation)
        {
            case Activation.Identity: Check<IdentityActivation>(activation); break;
            case Activation.Relu: Check<ReluActivation>(activation); break;
            case Activation.LeakyRelu: Check<LeakyReluActivation>(activation); break;
            case Activation.Elu: Check<EluActivation>(activation); break;
            case Activation.Tanh: Check<TanhActivation>(activation); break;
            case Activation.Sigmoid: Check<SigmoidActivation>(activation); break;
            case Activation.Softplus: Check<SoftplusActivation>(activation); break;
            case Activation.Gelu: Check<GeluActivation>(activation); break;
            case Activation.Silu: Check<SiluActivation>(activation); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    private static void Check<TAct>(Activation activation) where TAct : struct, IActivation
    {
        var grid = Grid();
        foreach (float a in grid)
        {
            float y = TAct.Forward(a);
            Within(ReferenceActivations.Activate(activation, a), y, ActivationTolerance(activation, a, derivative: false), $"{typeof(TAct).Name}.Forward({a:R})");
            // The kernels hand the derivative the forward's own float output, so it is checked with that y.
            Within(ReferenceActivations.Derivative(activation, a), TAct.Derivative(a, y), ActivationTolerance(activation, a, derivative: true), $"{typeof(TAct).Name}.Derivative({a:R})");
        }
        if (!TAct.IsVectorized) return;
        for (int i = 0; i < grid.Length; i += 8)
        {
            var a = Vector256.Create(grid, i);
            var y = TAct.Forward(a);
            var dy = TAct.Derivative(a, y);
            for (int lane = 0; lane < 8; lane++)
            {
                float ai = grid[i + lane];
                Within(ReferenceActivations.Activate(activation, ai), y[lane], ActivationTolerance(activation, ai, derivative: false), $"{typeof(TAct).Name}.Forward(Vector256) lane {lane} at {ai:R}");
                Within(ReferenceActivations.Derivative(activation, ai), dy[lane], ActivationTolerance(activation, ai, derivative: true), $"{typeof(TAct).Name}.Derivative(Vector256) lane {lane} at {ai:R}");
            }
        }
    }

    /// <summary>The tolerance rule is tight enough to see the slope GELU had when tanh stopped one ulp short of -1.</summary>
    [Fact]
    public void Tolerance_rejects_a_gelu_slope_from_a_tanh_one_ulp_short_of_minus_one()
    {
        const float a = -6f, c = GeluActivation.C, k = GeluActivation.K;
        float t = -MathF.BitDecrement(1f); // -(1 - 2^-24): the float just inside -1
        float slope = 0.5f * (1f + t) + 0.5f * a * (1f - t * t) * c * (1f + 3f * k * a * a);
        double expected = ReferenceActivations.Derivative(Activation.Gelu, a);
        Assert.True(Math.Abs(slope - expected) > ActivationTolerance(Activation.Gelu, a, derivative: true),
            $"slope {slope:R} vs {expected:R} would pass");
    }
}
