using Vae.Kernels.Cpu;
using Vae.Reference;
using Xunit;
using static Vae.Runtime.Tests.Ops.OpChecks;

namespace Vae.Runtime.Tests.Ops;

/// <summary>
/// One convolution layer alone: the CPU's im2col-and-GEMM kernels (<see cref="Convolution"/>) against the double
/// reference, on shapes large enough to reach every path of the register tiles (channel counts past a tile, panels
/// deeper than one depth block, ragged edges, strides 1 to 3, paddings, output padding), and a team of two threads
/// against a single thread bit for bit.
/// </summary>
public unsafe class ConvolutionOpTests
{
    // (transposed, in C, H, W, out C, k, stride, padding, output padding)
    private static readonly (bool T, int C, int H, int W, int O, int K, int S, int P, int Op)[] Layers =
    [
        (false, 3, 13, 17, 40, 3, 1, 1, 0),   // a wide panel: 221 positions, 27 deep
        (false, 40, 13, 17, 36, 4, 2, 2, 0),  // 640 deep: four depth blocks; 7 x 9 out
        (false, 1, 28, 28, 32, 3, 2, 1, 0),   // the Keras encoder's first layer
        (false, 5, 9, 11, 3, 5, 3, 0, 0),     // stride 3, no padding: taps that never reach the right edge
        (false, 2, 6, 6, 17, 1, 1, 0, 0),     // 1 x 1
        (true, 64, 7, 7, 33, 3, 2, 1, 1),     // the Keras decoder's first transposed layer, 33 channels out
        (true, 32, 28, 28, 1, 3, 1, 1, 0),    // one channel out of 32: the Keras output layer
        (true, 3, 5, 4, 7, 5, 3, 2, 2),       // stride 3 with output padding 2
    ];

    public static IEnumerable<object[]> Cases()
    {
        for (int layer = 0; layer < Layers.Length; layer++)
        foreach (int rows in new[] { 1, 7 })
        foreach (var activation in new[] { Activation.Identity, Activation.Relu, Activation.Tanh })
            yield return [layer, rows, activation];
        yield return [1, 33, Activation.Relu];
        yield return [5, 33, Activation.Relu];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cpu_convolution_matches_the_reference_and_one_thread(int layer, int rows, Activation activation)
    {
        switch (activation)
        {
            case Activation.Identity: Check<IdentityActivation>(layer, rows, activation); break;
            case Activation.Relu: Check<ReluActivation>(layer, rows, activation); break;
            case Activation.Tanh: Check<TanhActivation>(layer, rows, activation); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    private static ConvolutionShape Shape(int layer)
    {
        var l = Layers[layer];
        int oh = l.T ? (l.H - 1) * l.S - 2 * l.P + l.K + l.Op : (l.H + 2 * l.P - l.K) / l.S + 1;
        int ow = l.T ? (l.W - 1) * l.S - 2 * l.P + l.K + l.Op : (l.W + 2 * l.P - l.K) / l.S + 1;
        return new ConvolutionShape(l.C, l.H, l.W, l.O, oh, ow, l.K, l.S, l.P, l.T);
    }

    private sealed class Result
    {
        public required PinnedFloats Pre, Output, DW, DB, DX;
    }

    private static Result Run<TAct>(int threadCount, ConvolutionShape s, int rows, PinnedFloats x, PinnedFloats w, PinnedFloats bias, float[] dOut)
        where TAct : struct, IActivation
    {
        var r = new Result
        {
            Pre = new PinnedFloats(rows * s.OutFeatures), Output = new PinnedFloats(rows * s.OutFeatures),
            DW = new PinnedFloats(s.InChannels * s.OutChannels * s.Kernel * s.Kernel), DB = new PinnedFloats(s.OutChannels),
            DX = new PinnedFloats(rows * s.InFeatures),
        };
        // The generated code lets dPre alias dOutput; so does this test, the way the kernels are really called.
        var dPre = new PinnedFloats(dOut);
        using var threads = new CpuThreads(threadCount);
        if (s.Transposed)
        {
            Convolution.TransposedForward<TAct>(threads, rows, s.InChannels, s.InHeight, s.InWidth, s.OutChannels, s.OutHeight, s.OutWidth,
                s.Kernel, s.Stride, s.Padding, x, w, bias, r.Pre, r.Output);
            Convolution.TransposedBackward<TAct>(threads, rows, s.InChannels, s.InHeight, s.InWidth, s.OutChannels, s.OutHeight, s.OutWidth,
                s.Kernel, s.Stride, s.Padding, dPre, r.Pre, r.Output, x, w, r.DW, r.DB, r.DX, dPre);
        }
        else
        {
            Convolution.Forward<TAct>(threads, rows, s.InChannels, s.InHeight, s.InWidth, s.OutChannels, s.OutHeight, s.OutWidth,
                s.Kernel, s.Stride, s.Padding, x, w, bias, r.Pre, r.Output);
            Convolution.Backward<TAct>(threads, rows, s.InChannels, s.InHeight, s.InWidth, s.OutChannels, s.OutHeight, s.OutWidth,
                s.Kernel, s.Stride, s.Padding, dPre, r.Pre, r.Output, x, w, r.DW, r.DB, r.DX, dPre);
        }
        return r;
    }

    private static void Check<TAct>(int layer, int rows, Activation activation) where TAct : struct, IActivation
    {
        var s = Shape(layer);
        var c = new ConvolutionDescriptor(s.OutChannels, s.Kernel, s.Stride, s.Padding, Layers[layer].Op, activation,
            new ImageShape(s.InChannels, s.InHeight, s.InWidth), new ImageShape(s.OutChannels, s.OutHeight, s.OutWidth));
        var rng = new Random(layer * 1009 + rows * 31 + (int)activation);
        int weights = s.InChannels * s.OutChannels * s.Kernel * s.Kernel;
        int fanIn = (s.Transposed ? s.OutChannels : s.InChannels) * s.Kernel * s.Kernel;
        double bound = 3 / Math.Sqrt(fanIn);
        var x = new PinnedFloats(Uniform(rng, rows * s.InFeatures, -2, 2));
        var w = new PinnedFloats(Uniform(rng, weights, -bound, bound));
        var bias = new PinnedFloats(Uniform(rng, s.OutChannels, -0.5, 0.5));
        var dOut = Uniform(rng, rows * s.OutFeatures, -1, 1);

        var two = Run<TAct>(2, s, rows, x, w, bias, dOut);
        var one = Run<TAct>(1, s, rows, x, w, bias, dOut);
        string what = $"{(s.Transposed ? "ConvTranspose2d" : "Conv2d")} {s} rows {rows} {activation}";
        BitwiseEqual(one.Pre, two.Pre, what + " pre");
        BitwiseEqual(one.DW, two.DW, what + " dW");
        BitwiseEqual(one.DB, two.DB, what + " db");
        BitwiseEqual(one.DX, two.DX, what + " dx");

        var wd = ToDouble(w.Values.AsSpan(0, weights));
        var bd = ToDouble(bias.Values.AsSpan(0, s.OutChannels));
        var expectedDW = new double[weights];
        var expectedDB = new double[s.OutChannels];
        var boundDW = new double[weights];
        var boundDB = new double[s.OutChannels];
        int taps = s.Kernel * s.Kernel;
        // Summation bound of the float products: n U per term for sums of n terms (the longest: the weight gradient's
        // sum over every example's positions, or an output's sum over channels and taps).
        double sums = (Math.Max((long)rows * Math.Max(s.InHeight * s.InWidth, s.OutHeight * s.OutWidth), (long)Math.Max(s.InChannels, s.OutChannels) * taps) + 2) * U;
        for (int r = 0; r < rows; r++)
        {
            var xr = ToDouble(x.Values.AsSpan(r * s.InFeatures, s.InFeatures));
            var expectedPre = ReferenceConvolution.Forward(wd, bd, xr, c, s.Transposed);
            var preBound = ReferenceConvolution.Forward(Abs(wd), Abs(bd), Abs(xr), c, s.Transposed);
            var dPreExpected = new double[s.OutFeatures];
            var dPreBound = new double[s.OutFeatures];
            for (int o = 0; o < s.OutFeatures; o++)
            {
                int at = r * s.OutFeatures + o;
                Within(expectedPre[o], two.Pre.Values[at], sums * preBound[o] + FloatFloor, $"{what} pre[{r}, {o}]");
                // The epilogue and the derivative are judged at the float pre-activation the product produced.
                double a = two.Pre.Values[at];
                Within(ReferenceActivations.Activate(activation, a), two.Output.Values[at], ActivationTolerance(activation, a, derivative: false), $"{what} output[{r}, {o}]");
                dPreExpected[o] = dOut[at] * ReferenceActivations.Derivative(activation, a);
                dPreBound[o] = sums * Math.Abs(dPreExpected[o]) + Math.Abs(dOut[at]) * ActivationTolerance(activation, a, derivative: true);
            }
            var expectedDx = ReferenceConvolution.Backward(wd, xr, dPreExpected, c, s.Transposed, expectedDW, expectedDB);
            var boundDx = ReferenceConvolution.Backward(Abs(wd), Abs(xr), dPreBound, c, s.Transposed, boundDW, boundDB);
            for (int i = 0; i < s.InFeatures; i++)
                Within(expectedDx[i], two.DX.Values[r * s.InFeatures + i], boundDx[i] + FloatFloor, $"{what} dx[{r}, {i}]");
        }
        for (int i = 0; i < weights; i++) Within(expectedDW[i], two.DW.Values[i], boundDW[i] + FloatFloor, $"{what} dW[{i}]");
        for (int o = 0; o < s.OutChannels; o++) Within(expectedDB[o], two.DB.Values[o], boundDB[o] + FloatFloor, $"{what} db[{o}]");
    }

    private static void BitwiseEqual(PinnedFloats expected, PinnedFloats actual, string what)
    {
        for (int i = 0; i < expected.Values.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected.Values[i]) != BitConverter.SingleToInt32Bits(actual.Values[i]))
                Assert.Fail($"{what}[{i}]: {actual.Values[i]:R} with two threads, {expected.Values[i]:R} with one");
    }

    /// <summary>
    /// The scatter of a transposed panel position by position (cache-friendly) gives the big image of the column-at-a-time
    /// scatter bit for bit: every element receives its taps in the same order. Every layer shape above (the adjoint is a
    /// ConvTranspose2d's forward and a Conv2d's input gradient), with values whose sums round.
    /// </summary>
    [Fact]
    public void Scattering_by_positions_equals_scattering_by_columns_bit_for_bit()
    {
        var random = new Random(5);
        for (int layer = 0; layer < Layers.Length; layer++)
        {
            var shape = Shape(layer);
            bool t = shape.Transposed;
            // The panel is [small positions, big channels x k x k], seen from the Conv2d side.
            int depth = (t ? shape.OutChannels : shape.InChannels) * shape.Kernel * shape.Kernel;
            int positions = t ? shape.InHeight * shape.InWidth : shape.OutHeight * shape.OutWidth;
            var panel = new float[depth * positions];
            for (int i = 0; i < panel.Length; i++) panel[i] = (float)(random.NextDouble() * 2 - 1) * (1 + i % 13);
            var byColumns = Convolution.ScatterTransposedPanel(shape, panel, byColumns: true);
            var byRows = Convolution.ScatterTransposedPanel(shape, panel, byColumns: false);
            Assert.Contains(byRows, value => value != 0);
            for (int i = 0; i < byRows.Length; i++)
                if (BitConverter.SingleToInt32Bits(byColumns[i]) != BitConverter.SingleToInt32Bits(byRows[i]))
                    Assert.Fail($"{shape}: big[{i}] is {byRows[i]:R} by positions, {byColumns[i]:R} by columns");
        }
    }
}
