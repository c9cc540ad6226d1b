using System.Globalization;

namespace Vae.Samples.Fashion.Progress;

/// <summary>Shows training as it goes: a live progress bar on a terminal, one parseable line per epoch otherwise.</summary>
internal abstract class EpochReporter
{
    public static EpochReporter Create(AppConsole console) =>
        console.Interactive ? new TerminalEpochReporter(console.Ansi) : new LineEpochReporter(console.Out);

    /// <summary>Runs one epoch of training, passing <paramref name="train"/> a progress sink (or none).</summary>
    public abstract EpochResult Train(int epoch, int examples, Func<IProgress<TrainingProgress>?, EpochResult> train);

    /// <summary>Shows an epoch's figures once the test set has been evaluated.</summary>
    public abstract void Completed(EpochFigures figures);
}

/// <summary>
/// For redirected output: nothing while training, then exactly
/// <c>epoch N train_seconds X train_negative_elbo Y test_negative_elbo Z</c> per epoch, invariant culture, or for a
/// VQ-VAE <c>epoch N train_seconds X train_mse Y test_mse Z test_perplexity P codes_used U</c>, the line and the
/// precision of the PyTorch peers (torch_vae.py, torch_vqvae.py).
/// </summary>
internal sealed class LineEpochReporter(TextWriter output) : EpochReporter
{
    public override EpochResult Train(int epoch, int examples, Func<IProgress<TrainingProgress>?, EpochResult> train) => train(null);

    public override void Completed(EpochFigures f)
    {
        output.WriteLine(f.Codes is { } codes
            ? string.Create(CultureInfo.InvariantCulture,
                $"epoch {f.Epoch} train_seconds {f.Seconds:F3} train_mse {f.Train:F5} test_mse {f.Test:F5} test_perplexity {codes.Perplexity:F1} codes_used {codes.CodesUsed}")
            : string.Create(CultureInfo.InvariantCulture,
                $"epoch {f.Epoch} train_seconds {f.Seconds:F3} train_negative_elbo {f.Train:F2} test_negative_elbo {f.Test:F2}"));
        // A reader on the other end of a pipe sees each epoch when it ends, not when the buffer fills.
        output.Flush();
    }
}
