using System.Globalization;
using System.Text.RegularExpressions;
using Vae.Files;

namespace Vae.Samples.Tests;

/// <summary>Two steps of <c>train --model conv</c> (the default --latent 2 of that model) on the shipped data, shared by the tests that inspect them.</summary>
public sealed class ConvTrainedRun : IDisposable
{
    public ConvTrainedRun()
    {
        Folder = AppRunner.TempFolder("conv");
        Result = AppRunner.Run("train", "--model", "conv", "--epochs", "1", "--limit", "128", "--batch", "64", "--threads", "2",
            "--data", AppRunner.ShippedData, "--out", Folder);
    }

    internal AppRun Result { get; }
    public string Folder { get; }
    public string Checkpoint => Path.Combine(Folder, "checkpoint.safetensors");

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>
/// <c>--model conv</c>: the convolutional model of ../shared/peers/torch_conv_vae.py trains with the dense model's epoch
/// line, resumes, draws every picture, runs on OpenCL, and the combinations that are not compiled are usage errors.
/// </summary>
public sealed partial class ConvModelTests(ConvTrainedRun run) : IClassFixture<ConvTrainedRun>
{
    private const int Usage = 2;

    [GeneratedRegex(@"^epoch (\d+) train_seconds (\d+\.\d{3}) train_negative_elbo (\d+\.\d{2}) test_negative_elbo (\d+\.\d{2})$")]
    private static partial Regex EpochLine();

    [Fact]
    public void Trains_with_the_dense_models_epoch_line_and_a_finite_elbo()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.ToString());
        var match = EpochLine().Match(Assert.Single(run.Result.StdoutLines));
        Assert.True(match.Success, run.Result.ToString());
        Assert.Equal("1", match.Groups[1].Value);
        double train = Number(match, 3), test = Number(match, 4);
        // Untrained, a Bernoulli decoder costs about 784 ln 2 = 543 nats; two steps of Adam move little from there.
        Assert.True(double.IsFinite(train) && double.IsFinite(test), run.Result.ToString());
        Assert.InRange(train, 300, 600);
        Assert.InRange(test, 300, 600);
        Assert.Contains("1x28x28-32x14x14(Relu)-64x7x7(Relu)-16(Relu)-[2]-3136(Relu)-64x7x7-64x14x14(Relu)-32x28x28(Relu)-1x28x28 Bernoulli", run.Result.Stderr);
    }

    [Fact]
    public void The_checkpoint_holds_the_peers_layers_with_latent_two()
    {
        var file = SafeTensors.ReadFile(run.Checkpoint);
        Assert.Equal("2", file.Metadata["latent"]);
        // torch_conv_vae.py's ConvVAE(2), layer by layer, under the library's PyTorch names (Conv2d [out, in, kh, kw],
        // ConvTranspose2d [in, out, kh, kw], Linear [out, in]).
        (string Name, int[] Shape)[] expected =
        [
            ("encoder.0.weight", [32, 1, 3, 3]), ("encoder.0.bias", [32]),
            ("encoder.1.weight", [64, 32, 3, 3]), ("encoder.1.bias", [64]),
            ("encoder.2.weight", [16, 3136]), ("encoder.2.bias", [16]),
            ("encoder.mu.weight", [2, 16]), ("encoder.mu.bias", [2]),
            ("encoder.logvar.weight", [2, 16]), ("encoder.logvar.bias", [2]),
            ("decoder.0.weight", [3136, 2]), ("decoder.0.bias", [3136]),
            ("decoder.1.weight", [64, 64, 3, 3]), ("decoder.1.bias", [64]),
            ("decoder.2.weight", [64, 32, 3, 3]), ("decoder.2.bias", [32]),
            ("decoder.out.weight", [32, 1, 3, 3]), ("decoder.out.bias", [1]),
        ];
        var parameters = file.Tensors.Where(t => !t.Name.StartsWith("optimizer.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(expected.Select(e => e.Name).Order(), parameters.Select(t => t.Name).Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, parameters.Single(t => t.Name == name).Shape);
        var architecture = Checkpoint.ReadArchitecture(run.Checkpoint)!;
        Assert.Equal(134_165, architecture.ParameterCount); // sum(p.numel() for p in ConvVAE(2).parameters()) in PyTorch
        Assert.Equal("1x28x28", architecture.Image?.ToString());
        Assert.Equal(Likelihood.Bernoulli, architecture.Likelihood);
    }

    [Fact]
    public void Training_draws_every_picture_the_manifold_included()
    {
        Assert.Equal((2 + 16 * 58, 2 + 2 * 58), Png.Size(Path.Combine(run.Folder, "reconstructions.png")));
        Assert.Equal((2 + 8 * 58, 2 + 8 * 58), Png.Size(Path.Combine(run.Folder, "samples.png")));
        Assert.Equal((2 + 10 * 58, 2 + 8 * 58), Png.Size(Path.Combine(run.Folder, "interpolation.png")));
        Assert.Equal((2 + 11 * 58, 2 + 2 * 58), Png.Size(Path.Combine(run.Folder, "traversal.png")));
        Assert.Equal((1 + 20 * 29, 1 + 20 * 29), Png.Size(Path.Combine(run.Folder, "manifold.png")));
    }

    [Theory]
    [InlineData("sample", false)]
    [InlineData("reconstruct", true)]
    [InlineData("interpolate", true)]
    [InlineData("traverse", true)]
    [InlineData("manifold", false)]
    public void Picture_commands_draw_from_the_conv_checkpoint(string command, bool readsData)
    {
        string png = Path.Combine(run.Folder, command + "-cmd.png");
        string[] args = [command, "--checkpoint", run.Checkpoint, "--out", png];
        if (command != "manifold") args = [.. args, "--seed", "3"];
        if (readsData) args = [.. args, "--data", AppRunner.ShippedData];
        var result = AppRunner.Run(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Stdout);
        Assert.True(Png.Size(png).Width > 0);
        if (command == "manifold") Assert.Equal(File.ReadAllBytes(Path.Combine(run.Folder, "manifold.png")), File.ReadAllBytes(png));
    }

    [Fact]
    public void Resuming_picks_the_conv_model_from_the_checkpoint()
    {
        string dir = AppRunner.TempFolder("conv-resume");
        try
        {
            string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
            File.Copy(run.Checkpoint, checkpoint);
            var resumed = AppRunner.Run("train", "--resume", checkpoint, "--epochs", "1", "--limit", "128", "--threads", "2", "--data", AppRunner.ShippedData);
            Assert.True(resumed.ExitCode == 0, resumed.ToString());
            var match = EpochLine().Match(Assert.Single(resumed.StdoutLines));
            Assert.True(match.Success && match.Groups[1].Value == "2", resumed.ToString());
            Assert.Equal("2", Checkpoint.ReadMetadata(checkpoint)["epochs_completed"]);
            Assert.NotNull(Checkpoint.ReadArchitecture(checkpoint)!.Image);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void OpenCL_evaluates_the_conv_checkpoint_as_the_CPU_does()
    {
        string[] args = ["evaluate", "--checkpoint", run.Checkpoint, "--importance-samples", "2", "--limit", "64", "--data", AppRunner.ShippedData];
        var cpu = AppRunner.Run([.. args, "--device", "cpu", "--threads", "2"]);
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        var openCl = AppRunner.Run([.. args, "--device", "opencl"]);
        if (openCl.ExitCode == 1 && openCl.Stderr.Contains("OpenCL") && Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") != "1") return;
        Assert.True(openCl.ExitCode == 0, openCl.ToString());
        // The same weights and the same Philox noise: the targets differ by float rounding only.
        foreach (string key in new[] { "test_elbo", "test_log_likelihood" })
            Assert.InRange(Value(openCl, key), Value(cpu, key) - 0.05, Value(cpu, key) + 0.05);
    }

    public static TheoryData<string[], string> NotCompiled => new()
    {
        { ["--model", "cnn"], "--model must be one of dense, conv, vq; got 'cnn'" },
        { ["--model", "conv", "--conditional", "--latent", "20"], "The conditional convolutional model is compiled for --latent 2" },
        { ["--model", "conv", "--conditional", "--objective", "iwae"], "--model conv trains the ELBO only" },
        { ["--model", "conv", "--objective", "iwae"], "--model conv trains the ELBO only" },
        { ["--model", "conv", "--objective", "dreg", "--importance-samples", "50"], "--model conv trains the ELBO only" },
        { ["--model", "conv", "--latent", "5"], "--model conv is compiled for --latent 2 and 20" },
        { ["--latent", "7"], "2, 5, 10, 20, 32, 64 (--model dense); 2, 20 (--model conv)" },
    };

    [Theory]
    [MemberData(nameof(NotCompiled))]
    public void A_model_that_is_not_compiled_is_a_one_line_usage_error(string[] flags, string fragment)
    {
        string dir = AppRunner.TempFolder("conv-usage");
        try
        {
            var result = AppRunner.Run(["train", "--epochs", "1", "--limit", "64", "--data", AppRunner.ShippedData, "--out", Path.Combine(dir, "run"), .. flags]);
            AssertUsageError(result, fragment);
            Assert.False(Directory.Exists(Path.Combine(dir, "run")), "A usage error creates nothing.");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Resuming_a_conv_checkpoint_as_another_model_is_a_usage_error()
    {
        var result = AppRunner.Run("train", "--resume", run.Checkpoint, "--model", "dense", "--epochs", "1", "--data", AppRunner.ShippedData);
        AssertUsageError(result, "--model dense does not match");
        Assert.Equal("1", Checkpoint.ReadMetadata(run.Checkpoint)["epochs_completed"]);
    }

    private static void AssertUsageError(AppRun result, string fragment)
    {
        Assert.True(result.ExitCode == Usage, result.ToString());
        string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(fragment, line);
        Assert.Empty(result.Stdout);
    }

    private static double Number(Match m, int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static double Value(AppRun result, string key) =>
        double.Parse(result.StdoutLines.Single(l => l.StartsWith(key + " ", StringComparison.Ordinal)).Split(' ')[1], CultureInfo.InvariantCulture);
}
