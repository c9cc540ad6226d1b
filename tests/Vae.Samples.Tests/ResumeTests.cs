using Vae.Files;

namespace Vae.Samples.Tests;

/// <summary>--resume continues a run exactly: the same seeds, epoch order, noise, optimiser state and step.</summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _folder = AppRunner.TempFolder("resume");

    [Fact]
    public void One_epoch_then_one_resumed_epoch_equals_two_straight_epochs_bit_for_bit()
    {
        string split = Path.Combine(_folder, "split"), straight = Path.Combine(_folder, "straight");
        string[] common = ["--data", AppRunner.ShippedData, "--limit", "2000", "--batch", "128"];

        Succeeds(AppRunner.Run(["train", "--epochs", "1", "--out", split, .. common]));
        var resumed = Succeeds(AppRunner.Run(["train", "--epochs", "1", "--resume", Path.Combine(split, "checkpoint.safetensors"), .. common]));
        var twice = Succeeds(AppRunner.Run(["train", "--epochs", "2", "--out", straight, .. common]));

        // The resumed run counts on from epoch 2 and reports what the straight run reported for epoch 2 (except time).
        Assert.StartsWith("epoch 2 ", Assert.Single(resumed.StdoutLines));
        Assert.Equal(Figures(twice.StdoutLines[1]), Figures(resumed.StdoutLines[0]));

        var a = SafeTensors.ReadFile(Path.Combine(split, "checkpoint.safetensors"));
        var b = SafeTensors.ReadFile(Path.Combine(straight, "checkpoint.safetensors"));
        Assert.Equal(b.Tensors.Select(t => t.Name), a.Tensors.Select(t => t.Name));
        foreach (var t in b.Tensors)
        {
            Assert.Equal(t.Shape, a[t.Name].Shape);
            // Compare bits, not values: -0 vs 0 or a different NaN would be a difference too.
            Assert.True(t.Data.Select(BitConverter.SingleToInt32Bits).SequenceEqual(a[t.Name].Data.Select(BitConverter.SingleToInt32Bits)),
                $"Tensor {t.Name} differs between the resumed and the straight run.");
        }
        foreach (string key in new[] { Checkpoint.StepKey, Checkpoint.SeedKey, "epochs_completed", "shuffle_seed", "test_negative_elbo" })
            Assert.Equal(b.Metadata[key], a.Metadata[key]);
        Assert.Equal("2", a.Metadata["epochs_completed"]);
        Assert.Equal(2, a.Metadata["train_negative_elbo"].Split(',').Length);
    }

    [Fact]
    public void Resuming_with_another_latent_size_is_refused()
    {
        string run = Path.Combine(_folder, "first");
        Succeeds(AppRunner.Run("train", "--epochs", "1", "--limit", "500", "--out", run, "--data", AppRunner.ShippedData));
        var result = AppRunner.Run("train", "--epochs", "1", "--latent", "10", "--resume", Path.Combine(run, "checkpoint.safetensors"), "--data", AppRunner.ShippedData);
        Assert.Equal(2, result.ExitCode); // options that contradict the checkpoint: a usage error
        Assert.Contains("Latent = 20", result.Stderr);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static AppRun Succeeds(AppRun run)
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        return run;
    }

    /// <summary>The line without its timing.</summary>
    private static string Figures(string line) => string.Join(' ', line.Split(' ').Where((_, i) => i is not (2 or 3)));
}
