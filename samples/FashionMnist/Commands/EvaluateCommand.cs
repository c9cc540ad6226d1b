using System.Globalization;

namespace Vae.Samples.Fashion.Commands;

internal sealed record EvaluateSettings(string Checkpoint, int ImportanceSamples, string? Data, string Device, int Threads, int? Limit);

/// <summary>
/// The test split's ELBO and the importance-sampled estimate of log p(x) (Burda et al.'s bound with K samples,
/// tighter than the ELBO and approaching log p(x) as K grows), both in nats per image.
/// </summary>
internal static class EvaluateCommand
{
    public const int DefaultImportanceSamples = 1000;

    public static int Run(EvaluateSettings settings, AppConsole console, CancellationToken cancellationToken)
    {
        PathChecks.InputFile(settings.Checkpoint, "--checkpoint");
        PathChecks.DataFolder(settings.Data);
        using var device = Vae.Device.FromName(settings.Device, settings.Threads);
        using var model = Models.Load(device, settings.Checkpoint);
        var data = FashionData.Load(settings.Data, null, console.Error, needTrain: false);
        var test = settings.Limit is int n && n < data.TestCount ? data.Test[..(n * Models.ImagePixels)] : data.Test;
        var labels = Evaluation.LabelsFor(model, data.TestLabels[..(test.Length / Models.ImagePixels)]);
        int count = test.Length / Models.ImagePixels;
        console.Note($"evaluating {model.Architecture} on {count:N0} test images from '{data.Source}' ({device.Name})");
        if (model.Architecture.Quantizer is not null)
        {
            // A VQ-VAE has no likelihood bound to estimate: the figures of its epoch line instead.
            var usage = model.CodeUsage(test);
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test_mse {Evaluation.MeanSquaredError(model, test):F5}"));
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test_perplexity {usage.Perplexity:F1}"));
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"codes_used {usage.CodesUsed} of {usage.Counts.Length}"));
            return 0;
        }

        double elbo = -Evaluation.TestNegativeElbo(model, test, data.TestLabels[..(test.Length / Models.ImagePixels)]);
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test_elbo {elbo:F2}"));
        var (active, _) = Vae.Evaluation.Metrics.ActiveUnits(model, test, labels);
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"active_units {active} of {model.Architecture.Latent}"));
        console.Out.Flush();

        // K decoder passes per image: minutes on a CPU at the default K. Time the first images (about 1% of the work,
        // a result thrown away) and say how long the whole estimate will take before starting it.
        int k = settings.ImportanceSamples;
        int probe = ProbeImages(count);
        if (probe > 0)
        {
            var probeClock = System.Diagnostics.Stopwatch.StartNew();
            model.NegativeLogLikelihood(test[..(probe * Models.ImagePixels)], labels.Length == 0 ? labels : labels[..probe], k, seed: 0, null, cancellationToken);
            double expected = probeClock.Elapsed.TotalSeconds / probe * count;
            console.Note(string.Create(CultureInfo.InvariantCulture,
                $"log-likelihood with K = {k} on {count:N0} images: expect about {Duration(expected)} (timed on {probe} image{(probe == 1 ? "" : "s")}; --importance-samples sets K, and the time grows with it)"));
            console.Error.Flush();
        }

        var progress = new PercentProgress(console.Error, count, $"log-likelihood ({k} importance samples)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double nll = model.NegativeLogLikelihood(test, labels, k, seed: 0, progress, cancellationToken);
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test_log_likelihood {-nll:F2}"));
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"importance_seconds {clock.Elapsed.TotalSeconds:F1}"));
        console.Note(string.Create(CultureInfo.InvariantCulture,
            $"nats per image: ELBO {elbo:F2} <= log p(x) ~ {-nll:F2} (K = {settings.ImportanceSamples}); the gap of {-nll - elbo:F2} nats measures how far q(z|x) is from the true posterior."));
        return 0;
    }

    /// <summary>Images timed before the estimate: about 1% of the set, at least 1 and at most 64.</summary>
    internal static int ProbeImages(int count) => Math.Min(count, Math.Clamp(count / 100, 1, 64));

    /// <summary>Seconds as people read them: "40 s", "6.5 min", "1.2 h".</summary>
    internal static string Duration(double seconds) => seconds switch
    {
        < 90 => string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, Math.Round(seconds)):F0} s"),
        < 5400 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:F1} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600:F1} h"),
    };

    /// <summary>
    /// Writes "what: 40% (about 2.1 min left)" lines at each tenth, synchronously (Progress&lt;T&gt; would post to the
    /// thread pool).
    /// </summary>
    private sealed class PercentProgress(TextWriter writer, int total, string what) : IProgress<int>
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private int _shown;

        public void Report(int value)
        {
            int tenth = total == 0 ? 10 : (int)(10L * value / total);
            if (tenth <= _shown) return;
            _shown = tenth;
            string left = value >= total || value <= 0
                ? ""
                : $" (about {Duration(_clock.Elapsed.TotalSeconds / value * (total - value))} left)";
            writer.WriteLine($"{what}: {10 * tenth}%{left}");
        }
    }
}
