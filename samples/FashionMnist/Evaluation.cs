using System.Diagnostics;
using Vae.Data;
using Vae.Evaluation;

namespace Vae.Samples.Fashion;

/// <summary>
/// What an epoch reports. For the Gaussian models, <paramref name="Train"/> and <paramref name="Test"/> are negative
/// ELBOs in nats per image; for a VQ-VAE they are mean squared errors per pixel and <paramref name="Codes"/> is the
/// codebook's use over every test position.
/// </summary>
internal sealed record EpochFigures(int Epoch, double Seconds, double Train, double Test, CodebookUsage? Codes = null);

/// <summary>Figures reported on the test split.</summary>
internal static class Evaluation
{
    /// <summary>
    /// The mean negative ELBO in nats per image with KL weight 1 and one sample (whatever --beta, --free-bits or
    /// --objective trains with), so the figure is always a bound on -log p(x) (-log p(x|y) for the conditional model)
    /// and runs of every kind compare.
    /// </summary>
    public static double TestNegativeElbo(VaeModel model, float[] test, int[] testLabels) =>
        -Metrics.Elbo(model, test, LabelsFor(model, testLabels));

    /// <summary>The labels when the model is conditional, none otherwise (an unconditional model takes none).</summary>
    public static int[] LabelsFor(VaeModel model, int[] labels) => model.Architecture.IsConditional ? labels : [];

    /// <summary>
    /// A VQ-VAE's mean squared error per pixel between <paramref name="images"/> and their reconstructions from their
    /// codes (the peer's F.mse_loss summed over the set, over its number of pixels), in double.
    /// </summary>
    public static double MeanSquaredError(VaeModel model, float[] images)
    {
        var reconstruction = new float[images.Length];
        model.Reconstruct(images, reconstruction);
        return SquaredError(images, reconstruction) / images.Length;
    }

    /// <summary>The sum of squared differences, in double.</summary>
    public static double SquaredError(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = (double)x[i] - y[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>
    /// An epoch's figures once it has trained: for a Gaussian model, the training loss and the test negative ELBO; for
    /// a VQ-VAE, <paramref name="meter"/>'s training error (its time taken off the epoch's), the test error and the
    /// codebook's use on the test images (<see cref="VaeModel.CodeUsage"/>). <paramref name="evaluate"/> false (the
    /// ranks other than 0 of a distributed run) leaves the test figures NaN.
    /// </summary>
    public static EpochFigures Epoch(VaeModel model, EpochResult result, TrainingErrorMeter? meter, FashionData data, bool evaluate)
    {
        if (model.Architecture.Quantizer is null)
            return new EpochFigures(result.Epoch, result.Seconds, result.TrainLoss, evaluate ? TestNegativeElbo(model, data.Test, data.TestLabels) : double.NaN);
        ArgumentNullException.ThrowIfNull(meter);
        return new EpochFigures(result.Epoch, Math.Max(0, result.Seconds - meter.Seconds), meter.MeanSquaredError,
            evaluate ? MeanSquaredError(model, data.Test) : double.NaN, evaluate ? model.CodeUsage(data.Test) : null);
    }
}

/// <summary>
/// The PyTorch peer's train_mse for a VQ-VAE: the mean squared error per pixel of each training batch's reconstruction
/// by the model as it is when the batch is trained on, averaged over the epoch. The library's training loss adds the
/// commitment term to it, so the meter measures it itself: it hands the trainer each example and, once a batch is
/// complete (the trainer copies a batch's examples just before its step), reconstructs that batch with the model
/// before the step. <see cref="Seconds"/> is the time this took, which the epoch's train_seconds leaves out, as the
/// peer's timing leaves out its evaluation.
/// </summary>
/// <remarks>
/// The reconstruction runs the model's evaluation pass: the same parameters and codebook as the training pass of that
/// step (the EMA update and any restarts follow the backward pass), so the figure is the peer's, except on a fresh
/// model's first batch, whose training pass first sets the codebook to encoder outputs (the untrained decoder makes
/// that batch's error about the same either way).
/// </remarks>
internal sealed class TrainingErrorMeter(VaeModel model, IBatchSource source, int batchSize) : IBatchSource
{
    private readonly float[] _batch = new float[batchSize * source.ExampleLength];
    private readonly float[] _reconstruction = new float[batchSize * source.ExampleLength];
    private readonly Stopwatch _clock = new();
    private int _filled, _done;
    private double _sum;

    public int Count => source.Count;
    public int ExampleLength => source.ExampleLength;
    public bool HasLabels => source.HasLabels;
    public int LabelOf(int index) => source.LabelOf(index);

    public void CopyExample(int index, Span<float> destination)
    {
        source.CopyExample(index, destination);
        _clock.Start();
        int length = ExampleLength;
        destination.CopyTo(_batch.AsSpan(_filled * length, length));
        if (++_filled == Math.Min(batchSize, Count - _done))
        {
            var x = _batch.AsSpan(0, _filled * length);
            var y = _reconstruction.AsSpan(0, _filled * length);
            model.Reconstruct(x, y);
            _sum += Evaluation.SquaredError(x, y);
            _done += _filled;
            _filled = 0;
        }
        _clock.Stop();
    }

    /// <summary>Mean squared error per pixel over the examples of the batches completed so far.</summary>
    public double MeanSquaredError => _done == 0 ? double.NaN : _sum / ((double)_done * ExampleLength);

    /// <summary>Time spent measuring.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;
}
