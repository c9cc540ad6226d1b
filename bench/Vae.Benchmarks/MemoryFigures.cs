using System.Diagnostics;
using Vae.Data;

namespace Vae.Benchmarks;

/// <summary>
/// Peak memory of training from the in-memory floats against the streaming IDX source, on the full training set,
/// and the test ELBO each reaches (the same shuffle seed, so the same batches: the two should agree exactly).
/// </summary>
internal static class MemoryFigures
{
    public static void Run(string directory, bool stream, int epochs)
    {
        using var device = Device.Cpu(2);
        using var model = new BenchVae(device, 1);
        var trainer = new Trainer(model, new Adam(1e-3f), 128, 1);
        var clock = Stopwatch.StartNew();
        if (stream)
        {
            using var source = FashionMnist.OpenStreaming(directory, train: true);
            trainer.Fit(source, epochs);
        }
        else
        {
            var (images, _) = FashionMnist.Load(directory, train: true);
            trainer.Fit(images.ToFloats(), epochs);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        // Read before the test set is loaded, which both paths hold in memory alike.
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        var (test, _) = FashionMnist.Load(directory, train: false);
        double elbo = Evaluation.Metrics.Elbo(model, test.ToFloats());
        Console.WriteLine($"source {(stream ? "streaming-idx" : "in-memory")} epochs {epochs} peak_working_set_mib {peak / 1048576.0:F1} train_seconds {seconds:F1} test_elbo {elbo:F4}");
    }
}
