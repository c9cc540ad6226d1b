namespace Vae.Reference;

/// <summary>
/// PyTorch's BatchNorm2d(C) (eps 1e-5, momentum 0.1, affine) in double precision, over a batch of rows, each an
/// image [channels, area] flattened (area = height * width). Training mode normalises each channel by the batch's
/// mean and biased variance over rows and positions and moves the running statistics (the variance's unbiased);
/// evaluation mode uses the running statistics. The counterpart of <c>Kernels/Cpu/BatchNorm.cs</c>.
/// </summary>
public static class ReferenceBatchNorm
{
    /// <summary>BatchNorm2d's default eps.</summary>
    public const double Epsilon = 1e-5;

    /// <summary>BatchNorm2d's default momentum: running = (1 - momentum) running + momentum batch.</summary>
    public const double Momentum = 0.1;

    /// <summary>
    /// Training mode: y = weight (x - mean) / sqrt(var + eps) + bias with the batch's per-channel mean and biased
    /// variance, returned in <paramref name="mean"/> and <paramref name="variance"/>; moves
    /// <paramref name="runningMean"/> and <paramref name="runningVar"/> in place (the latter by the unbiased variance,
    /// n / (n - 1) times the biased one, n = rows * area).
    /// </summary>
    /// <exception cref="ArgumentException">A channel has a single value (n = 1), whose unbiased variance is undefined; PyTorch refuses it too.</exception>
    public static double[][] TrainingForward(IReadOnlyList<double[]> x, int channels, int area, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias,
        Span<double> runningMean, Span<double> runningVar, out double[] mean, out double[] variance)
    {
        long n = (long)x.Count * area;
        if (n < 2) throw new ArgumentException("Expected more than 1 value per channel when training.", nameof(x));
        mean = new double[channels];
        variance = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            foreach (var row in x)
                for (int i = 0; i < area; i++) sum += row[c * area + i];
            double m = sum / n;
            double squares = 0;
            foreach (var row in x)
                for (int i = 0; i < area; i++) squares += (row[c * area + i] - m) * (row[c * area + i] - m);
            mean[c] = m;
            variance[c] = squares / n;
            runningMean[c] = (1 - Momentum) * runningMean[c] + Momentum * m;
            runningVar[c] = (1 - Momentum) * runningVar[c] + Momentum * squares / (n - 1);
        }
        return Normalize(x, channels, area, weight, bias, mean, variance);
    }

    /// <summary>Evaluation mode: y = weight (x - running_mean) / sqrt(running_var + eps) + bias.</summary>
    public static double[][] EvaluationForward(IReadOnlyList<double[]> x, int channels, int area, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias,
        ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar) =>
        Normalize(x, channels, area, weight, bias, runningMean, runningVar);

    private static double[][] Normalize(IReadOnlyList<double[]> x, int channels, int area, ReadOnlySpan<double> weight, ReadOnlySpan<double> bias,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> variance)
    {
        var y = new double[x.Count][];
        for (int r = 0; r < x.Count; r++)
        {
            y[r] = new double[channels * area];
            for (int c = 0; c < channels; c++)
            {
                double scale = 1 / Math.Sqrt(variance[c] + Epsilon);
                for (int i = 0; i < area; i++) y[r][c * area + i] = weight[c] * ((x[r][c * area + i] - mean[c]) * scale) + bias[c];
            }
        }
        return y;
    }

    /// <summary>
    /// Training-mode backward through the batch statistics: adds dL/dweight and dL/dbias to <paramref name="dWeight"/>
    /// and <paramref name="dBias"/> and returns dL/dx = weight / sqrt(var + eps) (dy - mean(dy) - x_hat mean(dy x_hat)),
    /// the means over rows and positions; <paramref name="mean"/> and <paramref name="variance"/> are the forward pass's.
    /// </summary>
    public static double[][] TrainingBackward(IReadOnlyList<double[]> x, IReadOnlyList<double[]> dy, int channels, int area, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, Span<double> dWeight, Span<double> dBias)
    {
        long n = (long)x.Count * area;
        var dx = new double[x.Count][];
        for (int r = 0; r < x.Count; r++) dx[r] = new double[channels * area];
        for (int c = 0; c < channels; c++)
        {
            double scale = 1 / Math.Sqrt(variance[c] + Epsilon);
            double sum = 0, weighted = 0;
            for (int r = 0; r < x.Count; r++)
            for (int i = 0; i < area; i++)
            {
                double g = dy[r][c * area + i];
                sum += g;
                weighted += g * (x[r][c * area + i] - mean[c]) * scale;
            }
            dWeight[c] += weighted;
            dBias[c] += sum;
            for (int r = 0; r < x.Count; r++)
            for (int i = 0; i < area; i++)
            {
                double xHat = (x[r][c * area + i] - mean[c]) * scale;
                dx[r][c * area + i] = weight[c] * scale * (dy[r][c * area + i] - sum / n - xHat * weighted / n);
            }
        }
        return dx;
    }

    /// <summary>
    /// Evaluation-mode backward (the running statistics are constants): adds dL/dweight and dL/dbias and returns
    /// dL/dx = weight / sqrt(running_var + eps) dy.
    /// </summary>
    public static double[][] EvaluationBackward(IReadOnlyList<double[]> x, IReadOnlyList<double[]> dy, int channels, int area, ReadOnlySpan<double> weight,
        ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, Span<double> dWeight, Span<double> dBias)
    {
        var dx = new double[x.Count][];
        for (int r = 0; r < x.Count; r++)
        {
            dx[r] = new double[channels * area];
            for (int c = 0; c < channels; c++)
            {
                double scale = 1 / Math.Sqrt(runningVar[c] + Epsilon);
                for (int i = 0; i < area; i++)
                {
                    double g = dy[r][c * area + i];
                    dWeight[c] += g * (x[r][c * area + i] - runningMean[c]) * scale;
                    dBias[c] += g;
                    dx[r][c * area + i] = weight[c] * scale * g;
                }
            }
        }
        return dx;
    }
}
