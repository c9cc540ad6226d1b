using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// A dense layer alone (affine map, then activation): the double reference against central differences, and the
/// CPU's fused <see cref="Linear.Forward{TAct}"/> / <see cref="Linear.Backward{TAct}"/> on a team of two threads
/// against the reference.
/// </summary>
public unsafe class DenseOpTests
{
    public static IEnumerable<object[]> Activations() => Enum.GetValues<Activation>().Select(a => new object[] { a });

    [Theory]
    [MemberData(nameof(Activations))]
    public void Reference_layer_gradient_matches_central_differences(Activation activation)
    {
        const int ins = 4, outs = 3;
        var rng = new Random(17 + (int)activation);
        // Weights of +-2.5 on inputs of +-3 spread pre-activations by up to +-30; biases of +-45 on the first two
        // units put one in each saturated tail whatever the draw (|pre| >= 15).
        var w = ToDouble(Uniform(rng, outs * ins, -2.5, 2.5));
        var b = ToDouble(Uniform(rng, outs, -2.5, 2.5));
        b[0] = 45;
        b[1] = -45;
        var x = ToDouble(Uniform(rng, ins, -3, 3));
        var c = ToDouble(Uniform(rng, outs, -1, 1));

        // L = sum_o c_o f(W x + b)_o, a scalar whose gradient is the layer's backward pass with dL/dy = c.
        double L(double[] wv, double[] bv, double[] xv)
        {
            var y = ReferenceActivations.Forward(activation, ReferenceDense.Forward(wv, bv, xv));
            double sum = 0;
            for (int o = 0; o < outs; o++) sum += c[o] * y[o];
            return sum;
        }
        var pre = ReferenceDense.Forward(w, b, x);
        var dPre = ReferenceActivations.Backward(activation, pre, c);
        var dW = new double[w.Length];
        var dB = new double[outs];
        var dX = ReferenceDense.Backward(w, x, dPre, dW, dB);
        // The terms of L: c times each output, and c times the affine sums that f's slope passes through.
        var terms = ReferenceDense.Forward(Abs(w), Abs(b), Abs(x));
        double magnitude = 0;
        for (int o = 0; o < outs; o++) magnitude += Math.Abs(c[o]) * (Math.Abs(ReferenceActivations.Activate(activation, pre[o])) + 2 * terms[o]);

        GradientMatchesCentralDifferences(v => L(v, b, x), w, dW, magnitude, $"{activation} dW");
        GradientMatchesCentralDifferences(v => L(w, v, x), b, dB, magnitude, $"{activation} db");
        GradientMatchesCentralDifferences(v => L(w, b, v), x, dX, magnitude, $"{activation} dx");
        Assert.True(pre[0] >= 15 && pre[1] <= -15, "both tails should be saturated");
    }

    [Fact]
    public void Reference_backward_accumulates_rows()
    {
        double[] w = [1, 2, 3, 4, 5, 6]; // [2, 3]
        var dW = new double[6];
        var dB = new double[2];
        ReferenceDense.Backward(w, [1, 0, -1], [1, 2], dW, dB);
        var dx = ReferenceDense.Backward(w, [0, 1, 0], [-1, 1], dW, dB);
        Assert.Equal([1, -1, -1, 2, 1, -2], dW);
        Assert.Equal([0, 3], dB);
        Assert.Equal([3, 3, 3], dx);
        Assert.Equal([0.5 + 1 * 1 + 2 * 1 + 3 * 2, -1 + 4 * 1 + 5 * 1 + 6 * 2], ReferenceDense.Forward(w, [0.5, -1], [1, 1, 2]));
    }

    public static IEnumerable<object[]> Shapes()
    {
        // (rows, in, out): sizes 1, tails of the 8-wide vectors and the GEMM tiles, and both ways of splitting the
        // work between the two threads (rows when there are many, columns when there are few).
        (int, int, int)[] shapes = [(1, 1, 1), (3, 5, 7), (9, 17, 33), (40, 65, 19), (2, 33, 70)];
        foreach (var activation in Enum.GetValues<Activation>())
        foreach (var (rows, ins, outs) in shapes)
            yield return [activation, rows, ins, outs];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Cpu_linear_forward_and_backward_match_the_reference(Activation activation, int rows, int ins, int outs)
    {
        switch (activation)
        {
            case Activation.Identity: Check<IdentityActivation>(activation, rows, ins, outs); break;
            case Activation.Relu: Check<ReluActivation>(activation, rows, ins, outs); break;
            case Activation.LeakyRelu: Check<LeakyReluActivation>(activation, rows, ins, outs); break;
            case Activation.Elu: Check<EluActivation>(activation, rows, ins, outs); break;
            case Activation.Tanh: Check<TanhActivation>(activation, rows, ins, outs); break;
            case Activation.Sigmoid: Check<SigmoidActivation>(activation, rows, ins, outs); break;
            case Activation.Softplus: Check<SoftplusActivation>(activation, rows, ins, outs); break;
            case Activation.Gelu: Check<GeluActivation>(activation, rows, ins, outs); break;
            case Activation.Silu: Check<SiluActivation>(activation, rows, ins, outs); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    private static void Check<TAct>(Activation activation, int rows, int ins, int outs) where TAct : struct, IActivation
    {
        var rng = new Random(rows * 10007 + ins * 101 + outs);
        // Weights of +-12 / sqrt(in) on inputs of +-3: pre-activations with a spread of about 12, out to +-40.
        double bound = 12 / Math.Sqrt(ins);
        var x = new PinnedFloats(Uniform(rng, rows * ins, -3, 3));
        var w = new PinnedFloats(Uniform(rng, outs * ins, -bound, bound));
        var bias = new PinnedFloats(Uniform(rng, outs, -bound, bound));
        var dOut = Uniform(rng, rows * outs, -1, 1);
        var pre = new PinnedFloats(rows * outs);
        var output = new PinnedFloats(rows * outs);
        var packed = new PinnedFloats(ins * outs);
        var dW = new PinnedFloats(outs * ins);
        var dB = new PinnedFloats(outs);
        var dX = new PinnedFloats(rows * ins);
        // The generated code lets dPre alias dOutput; so does this test, the way the kernels are really called.
        var dPre = new PinnedFloats(dOut);
        using var threads = new CpuThreads(2);
        Linear.Forward<TAct>(threads, rows, ins, outs, x, w, bias, pre, output, packed);
        Linear.Backward<TAct>(threads, rows, ins, outs, dPre, pre, output, x, w, dW, dB, dX, dPre);

        var wd = ToDouble(w.Values.AsSpan(0, outs * ins));
        var bd = ToDouble(bias.Values.AsSpan(0, outs));
        var expectedDW = new double[outs * ins];
        var expectedDB = new double[outs];
        var boundDW = new double[outs * ins];
        var boundDB = new double[outs];
        // Summation bound of the float GEMMs: n U per term for sums of n terms (the longest sum is over rows or out).
        double gemm = (Math.Max(rows, outs) + 2) * U;
        for (int r = 0; r < rows; r++)
        {
            var xr = ToDouble(x.Values.AsSpan(r * ins, ins));
            // pre: the affine map, within (in + 2) U of the sum of the magnitudes of its terms.
            var expectedPre = ReferenceDense.Forward(wd, bd, xr);
            var preBound = ReferenceDense.Forward(Abs(wd), Abs(bd), Abs(xr));
            var dPreExpected = new double[outs];
            var dPreBound = new double[outs];
            for (int o = 0; o < outs; o++)
            {
                int at = r * outs + o;
                Within(expectedPre[o], pre.Values[at], (ins + 2) * U * preBound[o] + FloatFloor, $"{typeof(TAct).Name} pre[{r}, {o}]");
                // The epilogue and the backward derivative are judged at the float pre-activation the GEMM produced.
                double a = pre.Values[at];
                Within(ReferenceActivations.Activate(activation, a), output.Values[at], ActivationTolerance(activation, a, derivative: false),
                    $"{typeof(TAct).Name} output[{r}, {o}] at {a:R}");
                dPreExpected[o] = dOut[at] * ReferenceActivations.Derivative(activation, a);
                dPreBound[o] = gemm * Math.Abs(dPreExpected[o]) + Math.Abs(dOut[at]) * ActivationTolerance(activation, a, derivative: true);
            }
            var expectedDx = ReferenceDense.Backward(wd, xr, dPreExpected, expectedDW, expectedDB);
            var boundDx = ReferenceDense.Backward(Abs(wd), Abs(xr), dPreBound, boundDW, boundDB);
            for (int i = 0; i < ins; i++)
                Within(expectedDx[i], dX.Values[r * ins + i], boundDx[i] + FloatFloor, $"{typeof(TAct).Name} dx[{r}, {i}]");
        }
        for (int i = 0; i < outs * ins; i++) Within(expectedDW[i], dW.Values[i], boundDW[i] + FloatFloor, $"{typeof(TAct).Name} dW[{i / ins}, {i % ins}]");
        for (int o = 0; o < outs; o++) Within(expectedDB[o], dB.Values[o], boundDB[o] + FloatFloor, $"{typeof(TAct).Name} db[{o}]");
    }
}
