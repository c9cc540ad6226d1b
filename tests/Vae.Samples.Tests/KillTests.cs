using System.Diagnostics;
using Vae.Files;
using Vae.Samples.Fashion;
using Vae.Samples.Fashion.Commands;
using Xunit.Abstractions;

namespace Vae.Samples.Tests;

/// <summary>
/// SIGKILL gives a program no chance to clean up. Training killed at seeded random moments, and at moments chosen
/// to fall inside a checkpoint write (a temporary file is being written), must always leave a checkpoint that loads,
/// whose parameters, optimiser state and metadata belong to one epoch, and <c>--resume</c> must finish the run with
/// the very parameters of a run that was never killed.
/// </summary>
public sealed class KillTests(ITestOutputHelper output) : IDisposable
{
    // 256 images in batches of 128: two steps an epoch, so most of the time goes to the test evaluation and the
    // checkpoint write, which the kills are meant to hit.
    private const int Limit = 256;
    private const int StepsPerEpoch = 2;
    private const int TotalEpochs = 8;
    private const int Runs = 6;

    private readonly string _folder = AppRunner.TempFolder("kill");

    private string[] Common => ["--data", AppRunner.ShippedData, "--limit", Limit.ToString(), "--batch", "128", "--threads", "2"];

    [Fact]
    public void Sigkill_at_random_moments_and_during_checkpoint_writes_leaves_a_loadable_checkpoint_and_resume_finishes()
    {
        if (!OperatingSystem.IsLinux()) return;
        // The first epoch, then the reference: the same run continued to the end without interruption.
        string start = Path.Combine(_folder, "start"), reference = Path.Combine(_folder, "reference");
        Succeeds(AppRunner.Run(["train", "--epochs", "1", "--out", start, .. Common]));
        Directory.CreateDirectory(reference);
        File.Copy(Path.Combine(start, TrainCommand.CheckpointName), Path.Combine(reference, TrainCommand.CheckpointName));
        Succeeds(AppRunner.Run(["train", "--resume", Path.Combine(reference, TrainCommand.CheckpointName), "--epochs", (TotalEpochs - 1).ToString(), .. Common]));
        var expected = SafeTensors.ReadFile(Path.Combine(reference, TrainCommand.CheckpointName));

        var random = new Random(20141);
        int duringWrites = 0;
        for (int run = 0; run < Runs; run++)
        {
            string folder = Path.Combine(_folder, $"run{run}");
            string checkpoint = Path.Combine(folder, TrainCommand.CheckpointName);
            Directory.CreateDirectory(folder);
            File.Copy(Path.Combine(start, TrainCommand.CheckpointName), checkpoint);

            // Three kinds of moment, each seeded: any time from the start (start-up, data loading, the first steps);
            // a random time after the first epoch line (steps, evaluation, writes); the instant the k-th checkpoint
            // write of the run has begun.
            var kind = (KillAt)(run % 3);
            int delayMs = kind == KillAt.AfterStart ? random.Next(50, 800) : random.Next(0, 300), write = random.Next(1, 5);
            string moment = kind switch
            {
                KillAt.AfterStart => $"{delayMs} ms after the start",
                KillAt.AfterFirstEpoch => $"{delayMs} ms after the first epoch's line",
                _ => $"during checkpoint write {write}",
            };
            var clock = Stopwatch.StartNew();
            using (var app = AppProcess.Start(["train", "--resume", checkpoint, "--epochs", (TotalEpochs - 1).ToString(), .. Common]))
            {
                if (kind == KillAt.DuringWrite) WaitForWrite(app, folder, write);
                else
                {
                    if (kind == KillAt.AfterFirstEpoch) app.WaitForStdout(l => l.StartsWith("epoch "), TimeSpan.FromMinutes(1));
                    Thread.Sleep(delayMs);
                }
                bool finished = app.HasExited;
                app.KillNow();
                Assert.True(app.WaitForExit(TimeSpan.FromSeconds(30)), "SIGKILL did not end the process.");
                Assert.False(finished && app.ExitCode != 0, $"Run {run} failed before the kill.\n{app}");
            }
            var leftovers = Directory.EnumerateFiles(folder, TrainCommand.CheckpointName + ".tmp-*").ToArray();
            if (leftovers.Length > 0) duringWrites++;

            // What the kill left: one epoch's worth of everything, loadable.
            var file = SafeTensors.ReadFile(checkpoint);
            int epochs = int.Parse(file.Metadata["epochs_completed"]);
            long step = long.Parse(file.Metadata[Checkpoint.StepKey]);
            output.WriteLine($"run {run}: killed {moment} " +
                             $"(the process lived {clock.ElapsedMilliseconds} ms); checkpoint at epoch {epochs}, step {step}; " +
                             $"{leftovers.Length} partial file(s) left by the kill");
            Assert.InRange(epochs, 1, TotalEpochs);
            Assert.Equal(StepsPerEpoch * epochs, step);
            Assert.Equal(epochs, file.Metadata["train_negative_elbo"].Split(',').Length);
            using (var device = Device.Cpu(1))
            using (var model = Models.Load(device, checkpoint, new Adam()))
                Assert.Equal(step, model.Step);

            // Resume to the end: the parameters are those of the run that was never killed, bit for bit.
            if (epochs < TotalEpochs)
                Succeeds(AppRunner.Run(["train", "--resume", checkpoint, "--epochs", (TotalEpochs - epochs).ToString(), .. Common]));
            var final = SafeTensors.ReadFile(checkpoint);
            Assert.Equal(TotalEpochs.ToString(), final.Metadata["epochs_completed"]);
            foreach (var t in expected.Tensors)
                Assert.True(t.Data.Select(BitConverter.SingleToInt32Bits).SequenceEqual(final[t.Name].Data.Select(BitConverter.SingleToInt32Bits)),
                    $"Run {run}: tensor {t.Name} differs from the uninterrupted run after resuming.");
            Assert.Empty(Directory.EnumerateFiles(folder, TrainCommand.CheckpointName + ".tmp-*")); // the resume swept them up
        }
        output.WriteLine($"{duringWrites} of {Runs} kills interrupted a checkpoint write");
        Assert.True(duringWrites >= 1, "No kill landed inside a checkpoint write, so the test did not exercise one.");
    }

    private enum KillAt
    {
        AfterStart,
        AfterFirstEpoch,
        DuringWrite,
    }

    /// <summary>Returns as soon as the <paramref name="count"/>-th distinct temporary checkpoint has appeared.</summary>
    private static void WaitForWrite(AppProcess app, string folder, int count)
    {
        var seen = new HashSet<string>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromMinutes(1) && !app.HasExited)
        {
            foreach (var f in Directory.EnumerateFiles(folder, TrainCommand.CheckpointName + ".tmp-*")) seen.Add(f);
            if (seen.Count >= count) return;
            Thread.Sleep(1);
        }
    }

    private static void Succeeds(AppRun run) => Assert.True(run.ExitCode == 0, run.ToString());

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
