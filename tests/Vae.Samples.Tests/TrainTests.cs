using System.Globalization;
using System.Text.RegularExpressions;
using Vae.Files;

namespace Vae.Samples.Tests;

/// <summary>The train command end to end, in-process, on the 8,000/2,000 split of the shipped test images.</summary>
public sealed partial class TrainTests(TrainedRun run) : IClassFixture<TrainedRun>
{
    [GeneratedRegex(@"^epoch (\d+) train_seconds (\d+\.\d{3}) train_negative_elbo (\d+\.\d{2}) test_negative_elbo (\d+\.\d{2})$")]
    private static partial Regex EpochLine();

    [Fact]
    public void Prints_exactly_one_parseable_line_per_epoch_with_plausible_figures()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.ToString());
        var line = Assert.Single(run.Result.StdoutLines);
        var match = EpochLine().Match(line);
        Assert.True(match.Success, $"Not the epoch line format: '{line}'");
        Assert.Equal("1", match.Groups[1].Value);
        double seconds = Number(match, 2), train = Number(match, 3), test = Number(match, 4);
        Assert.InRange(seconds, 0.001, 60);
        // From about 545 nats (784 ln 2) untrained down to about 240 when converged; one epoch on 8,000 images lands between.
        Assert.InRange(train, 150, 545);
        Assert.InRange(test, 150, 400);
    }

    [Fact]
    public void Says_on_stderr_that_the_shipped_test_split_is_cut_in_two()
    {
        Assert.Contains("first 8,000 images", run.Result.Stderr.Replace('\u00A0', ','));
        Assert.Contains("last 2,000", run.Result.Stderr.Replace('\u00A0', ','));
    }

    [Fact]
    public void Writes_a_checkpoint_with_the_run_metadata()
    {
        var file = SafeTensors.ReadFile(run.Checkpoint);
        Assert.Equal("1", file.Metadata["epochs_completed"]);
        Assert.Equal("1", file.Metadata["shuffle_seed"]);
        Assert.Equal("20", file.Metadata["latent"]);
        Assert.Equal("63", file.Metadata[Checkpoint.StepKey]); // ceil(8000 / 128) steps
        Assert.Contains(file.Tensors, t => t.Name == "encoder.0.weight" && t.Shape.SequenceEqual([400, 784]));
        Assert.Contains(file.Tensors, t => t.Name == "optimizer.decoder.out.weight.exp_avg_sq");
    }

    [Fact]
    public void Writes_the_pictures_as_pngs_of_the_expected_sizes()
    {
        // 28-pixel tiles drawn at twice their size with 2-pixel gaps: a grid of c columns is 2 + 58 c wide.
        Assert.Equal((2 + 16 * 58, 2 + 2 * 58), Png.Size(Path.Combine(run.Folder, "reconstructions.png")));
        Assert.Equal((2 + 8 * 58, 2 + 8 * 58), Png.Size(Path.Combine(run.Folder, "samples.png")));
        Assert.Equal((2 + 10 * 58, 2 + 8 * 58), Png.Size(Path.Combine(run.Folder, "interpolation.png")));
        Assert.Equal((2 + 11 * 58, 2 + 10 * 58), Png.Size(Path.Combine(run.Folder, "traversal.png")));
        Assert.Equal((640, 400), Png.Size(Path.Combine(run.Folder, "curves.png")));
        Assert.False(File.Exists(Path.Combine(run.Folder, "manifold.png")), "The manifold is drawn only for Latent = 2.");
    }

    [Theory]
    [InlineData("sample", false)]
    [InlineData("reconstruct", true)]
    [InlineData("interpolate", true)]
    [InlineData("traverse", true)]
    public void Picture_commands_draw_from_the_checkpoint(string command, bool readsData)
    {
        string png = Path.Combine(run.Folder, command + "-cmd.png");
        string[] args = ["--checkpoint", run.Checkpoint, "--out", png, "--seed", "3"];
        var result = AppRunner.Run([command, .. args, .. (readsData ? new[] { "--data", AppRunner.ShippedData } : [])]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Stdout);
        Assert.True(Png.Size(png).Width > 0);
    }

    [Fact]
    public void Manifold_refuses_a_model_whose_latent_space_is_not_two_dimensional()
    {
        string png = Path.Combine(run.Folder, "manifold-cmd.png");
        var result = AppRunner.Run("manifold", "--checkpoint", run.Checkpoint, "--out", png);
        Assert.Equal(2, result.ExitCode); // the wrong command for this checkpoint: a usage error
        Assert.Contains("Latent = 20", result.Stderr);
        Assert.Contains("--latent 2", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.False(File.Exists(png));
    }

    [Fact]
    public void Evaluate_prints_the_elbo_and_a_tighter_log_likelihood_estimate()
    {
        var result = AppRunner.Run("evaluate", "--checkpoint", run.Checkpoint, "--importance-samples", "20",
            "--data", AppRunner.ShippedData, "--limit", "200");
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.StdoutLines;
        Assert.Equal(new[] { "test_elbo", "active_units", "test_log_likelihood", "importance_seconds" }, lines.Select(l => l.Split(' ')[0]));
        double elbo = Value(lines[0], "test_elbo"), logLikelihood = Value(lines[2], "test_log_likelihood");
        Assert.Matches(@"^active_units \d+ of 20$", lines[1]);
        Assert.InRange(elbo, -400, -150);
        // The importance-sampled bound is at least the ELBO (in expectation; the gap is several nats here).
        Assert.InRange(logLikelihood, elbo, -150);

        // Before the long part, what it will cost (timed on 2 of the 200 images), then a line per tenth done (here the
        // 200 images are one chunk of the device, so one line).
        Assert.Matches(@"log-likelihood with K = 20 on 200 images: expect about \d+(\.\d)? (s|min|h) \(timed on 2 images", result.Stderr);
        int estimate = result.Stderr.IndexOf("expect about", StringComparison.Ordinal);
        int done = result.Stderr.IndexOf("log-likelihood (20 importance samples): 100%", StringComparison.Ordinal);
        Assert.True(estimate >= 0 && done > estimate, result.ToString());
    }

    private static double Number(Match m, int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static double Value(string line, string key)
    {
        var parts = line.Split(' ');
        Assert.Equal(2, parts.Length);
        Assert.Equal(key, parts[0]);
        return double.Parse(parts[1], CultureInfo.InvariantCulture);
    }
}
