using System.Globalization;
using Xunit;

namespace Vae.Samples.Tests;

/// <summary>The sample's objectives: the importance-weighted bounds train and resume, free bits and KL warm-up run, and mismatched flags are refused.</summary>
public class ObjectiveTests
{
    [Theory]
    [InlineData("iwae")]
    [InlineData("dreg")]
    public void Importance_weighted_models_train_evaluate_and_resume(string objective)
    {
        string dir = AppRunner.TempFolder(objective);
        var first = AppRunner.Run("train", "--objective", objective, "--importance-samples", "5", "--epochs", "1", "--limit", "1000",
            "--data", AppRunner.ShippedData, "--out", dir, "--threads", "2");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("bound over K = 5", first.Stderr);
        Assert.Matches(@"^epoch 1 train_seconds \d+\.\d{3} train_negative_elbo \d+\.\d{2} test_negative_elbo \d+\.\d{2}$", first.StdoutLines.Single());

        // The checkpoint carries the objective: resuming picks the same compiled model without being told.
        var second = AppRunner.Run("train", "--resume", Path.Combine(dir, "checkpoint.safetensors"), "--epochs", "1", "--limit", "1000",
            "--data", AppRunner.ShippedData, "--threads", "2");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.StartsWith("epoch 2 ", second.StdoutLines.Single());

        var evaluation = AppRunner.Run("evaluate", "--checkpoint", Path.Combine(dir, "checkpoint.safetensors"), "--importance-samples", "10",
            "--data", AppRunner.ShippedData, "--limit", "100");
        Assert.True(evaluation.ExitCode == 0, evaluation.ToString());
        double elbo = double.Parse(evaluation.StdoutLines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        double logLikelihood = double.Parse(evaluation.StdoutLines[2].Split(' ')[1], CultureInfo.InvariantCulture);
        Assert.True(logLikelihood > elbo, evaluation.ToString());
    }

    [Fact]
    public void Free_bits_and_kl_warmup_train_and_are_saved_for_resume()
    {
        string dir = AppRunner.TempFolder("freebits");
        var run = AppRunner.Run("train", "--free-bits", "0.25", "--kl-warmup", "10", "--epochs", "1", "--limit", "1000",
            "--data", AppRunner.ShippedData, "--out", dir, "--threads", "2");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("free bits 0.25, warm-up 10 steps", run.Stderr);
        var metadata = Vae.Files.Checkpoint.ReadMetadata(Path.Combine(dir, "checkpoint.safetensors"));
        Assert.Equal("0.25", metadata["free_bits"]);
        Assert.Equal("10", metadata["kl_warmup_steps"]);
    }

    [Theory]
    [InlineData("--objective", "iwae", "--free-bits", "0.5")]
    [InlineData("--objective", "dreg", "--kl-warmup", "100")]
    [InlineData("--importance-samples", "5")]
    [InlineData("--objective", "iwae", "--importance-samples", "7")]
    [InlineData("--objective", "vq")]
    public void Mismatched_objective_flags_are_refused_with_one_line(params string[] flags)
    {
        var result = AppRunner.Run(["train", "--epochs", "1", "--limit", "100", "--data", AppRunner.ShippedData, "--out", AppRunner.TempFolder("bad"), .. flags]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Empty(result.StdoutLines);
    }
}

/// <summary>The conditional model in the sample: trains with the labels, draws a row per class or one class, and refuses --class elsewhere.</summary>
public class ConditionalSampleTests
{
    [Fact]
    public void The_conditional_model_trains_and_draws_each_class()
    {
        string dir = AppRunner.TempFolder("conditional");
        var train = AppRunner.Run("train", "--conditional", "--epochs", "1", "--limit", "1000", "--data", AppRunner.ShippedData, "--out", dir, "--threads", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("conditional on 10 classes", train.Stderr);
        string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
        Assert.Equal(10, Vae.Files.Checkpoint.ReadArchitecture(checkpoint)!.Classes);

        string rows = Path.Combine(dir, "rows.png"), seven = Path.Combine(dir, "seven.png");
        Assert.Equal(0, AppRunner.Run("sample", "--checkpoint", checkpoint, "--out", rows).ExitCode);
        Assert.Equal(0, AppRunner.Run("sample", "--checkpoint", checkpoint, "--class", "7", "--out", seven).ExitCode);
        Assert.True(File.Exists(rows) && File.Exists(seven));
        Assert.NotEqual(File.ReadAllBytes(rows), File.ReadAllBytes(seven));

        var bad = AppRunner.Run("sample", "--checkpoint", checkpoint, "--class", "10", "--out", Path.Combine(dir, "bad.png"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--class", bad.Stderr);
    }

    [Fact]
    public void The_conditional_conv_model_trains_and_draws_one_class()
    {
        string dir = AppRunner.TempFolder("conditional-conv");
        var train = AppRunner.Run("train", "--model", "conv", "--conditional", "--epochs", "1", "--limit", "256", "--data", AppRunner.ShippedData, "--out", dir, "--threads", "2");
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("conditional on 10 classes", train.Stderr);
        string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
        var architecture = Vae.Files.Checkpoint.ReadArchitecture(checkpoint)!;
        Assert.Equal(10, architecture.Classes);
        Assert.NotNull(architecture.Image);
        // The label joins the flattened 64x7x7 map: the dense encoder layer reads 3136 + 10 values.
        Assert.Equal(new[] { 16, 3146 }, architecture.Tensor("encoder.2.weight").Shape);

        string three = Path.Combine(dir, "three.png");
        var sample = AppRunner.Run("sample", "--checkpoint", checkpoint, "--class", "3", "--out", three);
        Assert.True(sample.ExitCode == 0, sample.ToString());
        Assert.True(File.Exists(three));
        // Latent = 2: the manifold of one class; a conditional manifold without a class is a usage error.
        string manifold = Path.Combine(dir, "manifold.png");
        var grid = AppRunner.Run("manifold", "--checkpoint", checkpoint, "--class", "3", "--out", manifold);
        Assert.True(grid.ExitCode == 0, grid.ToString());
        Assert.True(File.Exists(manifold));
        var noClass = AppRunner.Run("manifold", "--checkpoint", checkpoint, "--out", Path.Combine(dir, "bad.png"));
        Assert.Equal(2, noClass.ExitCode);
        Assert.Contains("--class", noClass.Stderr);
        var evaluate = AppRunner.Run("evaluate", "--checkpoint", checkpoint, "--importance-samples", "2", "--limit", "64", "--data", AppRunner.ShippedData, "--threads", "2");
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
    }
}

/// <summary>Resume reads the run's own metadata through the runtime's validating getters.</summary>
public class ResumeMetadataTests
{
    [Theory]
    [InlineData("learning_rate", "NaN")]
    [InlineData("learning_rate", "-0.5")]
    [InlineData("kl_weight", "Infinity")]
    [InlineData("batch_size", "0")]
    [InlineData("free_bits", "-1")]
    public void A_resumed_run_refuses_a_bad_saved_setting_in_one_line(string key, string value)
    {
        string dir = AppRunner.TempFolder("badmeta");
        string path = Path.Combine(dir, "checkpoint.safetensors");
        using (var device = Device.Cpu(1))
        using (var model = new Vae.Samples.Fashion.FashionVae(device, 1))
            Vae.Files.Checkpoint.Save(model, path, new Adam(), new Dictionary<string, string> { [key] = value, ["epochs_completed"] = "1" });
        var result = AppRunner.Run("train", "--resume", path, "--epochs", "1", "--limit", "100", "--data", AppRunner.ShippedData);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(key, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.Empty(result.StdoutLines);
    }
}
