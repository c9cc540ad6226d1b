namespace Vae.Reference;

/// <summary>
/// The reference of the square-kernel convolutions in double precision, one example at a time, written from the
/// definitions: Conv2d, out[oc, oy, ox] = b[oc] + sum W[oc, ic, ky, kx] x[ic, oy s - p + ky, ox s - p + kx]; and
/// ConvTranspose2d, its adjoint, which adds W[ic, oc, ky, kx] x[ic, iy, ix] into out[oc, iy s - p + ky, ix s - p + kx].
/// The counterpart of <c>Kernels/Cpu/Convolution.cs</c>.
/// </summary>
public static class ReferenceConvolution
{
    /// <summary>The layer's output for one example's input image.</summary>
    public static double[] Forward(ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, ReadOnlySpan<double> input, ConvolutionDescriptor c, bool transposed)
    {
        var output = new double[c.Out.Size];
        for (int oc = 0; oc < c.Out.Channels; oc++)
        for (int i = 0; i < c.Out.Height * c.Out.Width; i++) output[oc * c.Out.Height * c.Out.Width + i] = bias[oc];
        // Every (input position, tap) pair contributes once; the two kinds differ only in which side strides.
        var w = weight.ToArray();
        var x = input.ToArray();
        ForEachTap(c, transposed, (oc, ic, ky, kx, inAt, outAt, weightAt) => output[outAt] += w[weightAt] * x[inAt]);
        return output;
    }

    /// <summary>Accumulates dW and db for one example and returns dInput, given dL/d(pre-activation output).</summary>
    public static double[] Backward(ReadOnlySpan<double> weight, ReadOnlySpan<double> input, ReadOnlySpan<double> dOut, ConvolutionDescriptor c, bool transposed,
        Span<double> dWeight, Span<double> dBias)
    {
        var dIn = new double[c.In.Size];
        int area = c.Out.Height * c.Out.Width;
        for (int oc = 0; oc < c.Out.Channels; oc++)
        for (int i = 0; i < area; i++) dBias[oc] += dOut[oc * area + i];
        var w = weight.ToArray();
        var x = input.ToArray();
        var d = dOut.ToArray();
        var dw = new double[dWeight.Length];
        ForEachTap(c, transposed, (oc, ic, ky, kx, inAt, outAt, weightAt) =>
        {
            dw[weightAt] += d[outAt] * x[inAt];
            dIn[inAt] += d[outAt] * w[weightAt];
        });
        for (int i = 0; i < dw.Length; i++) dWeight[i] += dw[i];
        return dIn;
    }

    private delegate void Tap(int oc, int ic, int ky, int kx, int inAt, int outAt, int weightAt);

    /// <summary>Visits every product of the layer: which input value, output value and weight each multiply-add joins.</summary>
    private static void ForEachTap(ConvolutionDescriptor c, bool transposed, Tap tap)
    {
        int k = c.Kernel;
        for (int ic = 0; ic < c.In.Channels; ic++)
        for (int oc = 0; oc < c.Out.Channels; oc++)
        for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
        {
            int weightAt = transposed ? ((ic * c.Out.Channels + oc) * k + ky) * k + kx : ((oc * c.In.Channels + ic) * k + ky) * k + kx;
            if (transposed)
            {
                for (int iy = 0; iy < c.In.Height; iy++)
                for (int ix = 0; ix < c.In.Width; ix++)
                {
                    int oy = iy * c.Stride - c.Padding + ky, ox = ix * c.Stride - c.Padding + kx;
                    if (oy < 0 || oy >= c.Out.Height || ox < 0 || ox >= c.Out.Width) continue;
                    tap(oc, ic, ky, kx, (ic * c.In.Height + iy) * c.In.Width + ix, (oc * c.Out.Height + oy) * c.Out.Width + ox, weightAt);
                }
            }
            else
            {
                for (int oy = 0; oy < c.Out.Height; oy++)
                for (int ox = 0; ox < c.Out.Width; ox++)
                {
                    int iy = oy * c.Stride - c.Padding + ky, ix = ox * c.Stride - c.Padding + kx;
                    if (iy < 0 || iy >= c.In.Height || ix < 0 || ix >= c.In.Width) continue;
                    tap(oc, ic, ky, kx, (ic * c.In.Height + iy) * c.In.Width + ix, (oc * c.Out.Height + oy) * c.Out.Width + ox, weightAt);
                }
            }
        }
    }
}
