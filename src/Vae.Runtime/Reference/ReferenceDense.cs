namespace Vae.Reference;

/// <summary>
/// The reference of a fully connected layer's affine map in double precision, one row at a time, with PyTorch's
/// weight layout W[out, in]. The counterpart of <c>Kernels/Cpu/Linear.cs</c> without its fused activation: the
/// non-linearity is <see cref="ReferenceActivations"/>, applied by the caller.
/// </summary>
public static class ReferenceDense
{
    /// <summary>pre[o] = bias[o] + sum_i weight[o, i] input[i].</summary>
    /// <param name="weight">[out, in], row-major.</param>
    /// <param name="bias">[out].</param>
    /// <param name="input">[in].</param>
    /// <returns>[out].</returns>
    public static double[] Forward(ReadOnlySpan<double> weight, ReadOnlySpan<double> bias, ReadOnlySpan<double> input)
    {
        int outs = bias.Length, ins = input.Length;
        CheckWeight(weight, outs, ins);
        var y = new double[outs];
        for (int o = 0; o < outs; o++)
        {
            double sum = bias[o];
            for (int i = 0; i < ins; i++) sum += weight[o * ins + i] * input[i];
            y[o] = sum;
        }
        return y;
    }

    /// <summary>
    /// Given dL/dpre of one row, adds that row's share to dL/dW (dOutput[o] input[i]) and dL/dbias (dOutput[o]), so
    /// calling it for every row of a batch sums the batch, and returns dL/dinput.
    /// </summary>
    /// <param name="weight">[out, in], row-major.</param>
    /// <param name="input">[in]: the row the forward pass read.</param>
    /// <param name="dOutput">[out]: dL/dpre.</param>
    /// <param name="dWeight">[out, in]: accumulated.</param>
    /// <param name="dBias">[out]: accumulated.</param>
    /// <returns>[in].</returns>
    public static double[] Backward(ReadOnlySpan<double> weight, ReadOnlySpan<double> input, ReadOnlySpan<double> dOutput,
        Span<double> dWeight, Span<double> dBias)
    {
        int outs = dOutput.Length, ins = input.Length;
        CheckWeight(weight, outs, ins);
        if (dWeight.Length != weight.Length) throw new ArgumentException($"dWeight has {dWeight.Length} values for a [{outs}, {ins}] weight.", nameof(dWeight));
        if (dBias.Length != outs) throw new ArgumentException($"dBias has {dBias.Length} values for {outs} outputs.", nameof(dBias));
        var dIn = new double[ins];
        for (int o = 0; o < outs; o++)
        {
            dBias[o] += dOutput[o];
            for (int i = 0; i < ins; i++)
            {
                dWeight[o * ins + i] += dOutput[o] * input[i];
                dIn[i] += dOutput[o] * weight[o * ins + i];
            }
        }
        return dIn;
    }

    private static void CheckWeight(ReadOnlySpan<double> weight, int outs, int ins)
    {
        if (weight.Length != outs * ins)
            throw new ArgumentException($"The weight has {weight.Length} values; a [{outs}, {ins}] layer needs {outs * ins}.", nameof(weight));
    }
}
