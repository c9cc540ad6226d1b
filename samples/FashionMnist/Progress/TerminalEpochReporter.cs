using System.Globalization;
using Spectre.Console;

namespace Vae.Samples.Fashion.Progress;

/// <summary>A Spectre.Console progress bar per epoch with the running loss and throughput, then a summary line.</summary>
internal sealed class TerminalEpochReporter(IAnsiConsole console) : EpochReporter
{
    public override EpochResult Train(int epoch, int examples, Func<IProgress<TrainingProgress>?, EpochResult> train)
    {
        EpochResult? result = null;
        console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Describe(epoch, null), maxValue: examples);
                result = train(new TaskProgress(task, epoch));
                task.Value = examples;
            });
        return result!;
    }

    public override void Completed(EpochFigures f) =>
        console.MarkupLine(f.Codes is { } codes
            ? string.Create(CultureInfo.InvariantCulture,
                $"epoch [bold]{f.Epoch}[/]  train MSE [blue]{f.Train:F5}[/]  test MSE [red]{f.Test:F5}[/] per pixel  perplexity {codes.Perplexity:F1}, " +
                $"{codes.CodesUsed} of {codes.Counts.Length} codes used  ({f.Seconds:F1} s training)")
            : string.Create(CultureInfo.InvariantCulture,
                $"epoch [bold]{f.Epoch}[/]  train -ELBO [blue]{f.Train:F2}[/]  test -ELBO [red]{f.Test:F2}[/] nats  ({f.Seconds:F1} s training)"));

    private static string Describe(int epoch, TrainingProgress? p) => p is { } r
        ? string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}  loss {r.Loss,7:F2}  {r.ExamplesPerSecond,7:F0} examples/s")
        : $"epoch {epoch}";

    /// <summary>Called on the training thread; Spectre's tasks may be updated from any thread.</summary>
    private sealed class TaskProgress(ProgressTask task, int epoch) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            task.Value = value.ExamplesDone;
            task.Description = Describe(epoch, value);
        }
    }
}
