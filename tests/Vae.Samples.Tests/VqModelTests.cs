using System.Globalization;
using System.Text.RegularExpressions;
using Vae.Files;
using Vae.Samples.Fashion;
using Vae.Samples.Fashion.Pictures;

namespace Vae.Samples.Tests;

/// <summary>
/// Two epochs of <c>train --model vq</c> (the peer's defaults) on 128 shipped images, two steps each, and the first of
/// them alone, to resume from: shared by the tests that inspect them.
/// </summary>
public sealed class VqTrainedRun : IDisposable
{
    public VqTrainedRun()
    {
        Folder = AppRunner.TempFolder("vq");
        Result = AppRunner.Run([.. Train, "--epochs", "1", "--out", Folder]);
        TwoEpochsFolder = AppRunner.TempFolder("vq-two");
        TwoEpochs = AppRunner.Run([.. Train, "--epochs", "2", "--out", TwoEpochsFolder]);
    }

    internal static readonly string[] Train = ["train", "--model", "vq", "--limit", "128", "--batch", "64", "--threads", "2", "--data", AppRunner.ShippedData];

    internal AppRun Result { get; }
    internal AppRun TwoEpochs { get; }
    public string Folder { get; }
    public string TwoEpochsFolder { get; }
    public string Checkpoint => Path.Combine(Folder, "checkpoint.safetensors");

    public void Dispose()
    {
        Directory.Delete(Folder, recursive: true);
        Directory.Delete(TwoEpochsFolder, recursive: true);
    }
}

/// <summary>
/// <c>--model vq</c>: the VQ-VAE of ../shared/peers/torch_vqvae.py prints the peer's epoch line, resumes exactly, draws
/// its reconstructions and code maps, refuses the pictures and options of the Gaussian models and the combinations
/// that are not compiled as usage errors, and says so in one line when a device does not run it.
/// </summary>
public sealed partial class VqModelTests(VqTrainedRun run) : IClassFixture<VqTrainedRun>
{
    private const int Usage = 2;

    [GeneratedRegex(@"^epoch (\d+) train_seconds (\d+\.\d{3}) train_mse (\d+\.\d{5}) test_mse (\d+\.\d{5}) test_perplexity (\d+\.\d) codes_used (\d+)$")]
    private static partial Regex EpochLine();

    [Fact]
    public void Trains_with_the_peers_epoch_line_and_finite_figures()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.ToString());
        var match = EpochLine().Match(Assert.Single(run.Result.StdoutLines));
        Assert.True(match.Success, run.Result.ToString());
        Assert.Equal("1", match.Groups[1].Value);
        double seconds = Number(match, 2), train = Number(match, 3), test = Number(match, 4), perplexity = Number(match, 5);
        int used = int.Parse(match.Groups[6].Value, CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 0, 60);
        // Pixels are in [0, 1]: an untrained decoder's error is about mean(x^2), 0.17 on Fashion-MNIST.
        Assert.InRange(train, 1e-3, 0.5);
        Assert.InRange(test, 1e-3, 0.5);
        Assert.InRange(used, 1, 128);
        Assert.InRange(perplexity, 1, used);
        Assert.Contains("1x28x28-32x14x14(Relu)-64x7x7(Relu)-16x7x7(Identity)-[49x16 of 128 codes]-16x7x7-64x14x14(Relu)-32x28x28(Relu)-1x28x28 MeanSquaredError", run.Result.Stderr);
        Assert.Contains("codebook of 128 x 16 by EMA (decay 0.99), no restarts", run.Result.Stderr);
    }

    [Fact]
    public void The_checkpoint_holds_the_peers_layers_and_the_codebook_state()
    {
        var file = SafeTensors.ReadFile(run.Checkpoint);
        (string Name, int[] Shape)[] expected =
        [
            ("encoder.0.weight", [32, 1, 4, 4]), ("encoder.0.bias", [32]),
            ("encoder.1.weight", [64, 32, 4, 4]), ("encoder.1.bias", [64]),
            ("encoder.2.weight", [16, 64, 1, 1]), ("encoder.2.bias", [16]),
            ("quantizer.codebook", [128, 16]), ("quantizer.cluster_size", [128]), ("quantizer.embed_sum", [128, 16]),
            ("quantizer.idle", [128]), ("quantizer.initialized", [1]),
            ("decoder.0.weight", [16, 64, 4, 4]), ("decoder.0.bias", [64]),
            ("decoder.1.weight", [64, 32, 4, 4]), ("decoder.1.bias", [32]),
            ("decoder.out.weight", [32, 1, 3, 3]), ("decoder.out.bias", [1]),
        ];
        var tensors = file.Tensors.Where(t => !t.Name.StartsWith("optimizer.", StringComparison.Ordinal)).ToArray();
        Assert.Equal(expected.Select(e => e.Name).Order(), tensors.Select(t => t.Name).Order());
        foreach (var (name, shape) in expected) Assert.Equal(shape, tensors.Single(t => t.Name == name).Shape);
        // The peer's trained parameters: sum(p.numel() for p in model.parameters() if p.requires_grad) with EMA.
        Assert.Equal(83_953, Checkpoint.ReadArchitecture(run.Checkpoint)!.ParameterCount);
        Assert.Single(file.Metadata["train_mse"].Split(','));
        Assert.False(file.Metadata.ContainsKey("train_negative_elbo"));
    }

    [Fact]
    public void The_training_figure_is_the_reconstruction_error_before_each_step_as_the_peer_measures_it()
    {
        // One image 100 times: whatever the shuffle, batches of 64 and 36 copies. The figure is the batch-weighted mean of
        // the error before each step, which the same steps taken by hand reproduce. Both models take a first step
        // beforehand, which sets the codebook to encoder outputs (the measuring pass before a fresh model's first step
        // sees the codebook before that).
        var image = FashionData.Load(AppRunner.ShippedData, 1, TextWriter.Null).Train;
        var data = Enumerable.Repeat(image, 100).SelectMany(x => x).ToArray();
        using var device = Device.Cpu(2);
        using var byHand = new FashionVq128x16(device, 3);
        var adam = new Adam(1e-3f);
        byHand.TrainStep(data.AsSpan(0, 64 * 784), adam);
        double first = Fashion.Evaluation.MeanSquaredError(byHand, image);
        byHand.TrainStep(data.AsSpan(0, 64 * 784), adam);
        double second = Fashion.Evaluation.MeanSquaredError(byHand, image);
        byHand.TrainStep(data.AsSpan(0, 36 * 784), adam);

        using var model = new FashionVq128x16(device, 3);
        var trainer = new Trainer(model, new Adam(1e-3f), 64);
        model.TrainStep(data.AsSpan(0, 64 * 784), trainer.Optimizer);
        var meter = new TrainingErrorMeter(model, new Vae.Data.InMemoryBatchSource(data, 784), 64);
        var result = trainer.TrainEpoch(meter);
        Assert.Equal((64 * first + 36 * second) / 100, meter.MeanSquaredError, 1e-6);
        Assert.Equal(byHand.GetParameters(), model.GetParameters());
        // The library's loss adds the commitment term to the reconstruction error.
        Assert.True(result.TrainLoss > meter.MeanSquaredError, $"loss {result.TrainLoss}, error {meter.MeanSquaredError}");
        Assert.InRange(meter.Seconds, 0, result.Seconds);
    }

    [Fact]
    public void Training_draws_the_reconstructions_code_maps_and_curves_only()
    {
        Assert.Equal((2 + 16 * 58, 2 + 2 * 58), Png.Size(Path.Combine(run.Folder, "reconstructions.png")));
        Assert.Equal((2 + 16 * 58, 2 + 3 * 58), Png.Size(Path.Combine(run.Folder, "codes.png")));
        Assert.True(File.Exists(Path.Combine(run.Folder, "curves.png")));
        foreach (string gaussian in new[] { "samples.png", "interpolation.png", "traversal.png", "manifold.png" })
            Assert.False(File.Exists(Path.Combine(run.Folder, gaussian)), gaussian);
    }

    [Fact]
    public void The_code_map_paints_each_position_in_its_codes_colour_between_the_image_and_its_decoding()
    {
        string png = Path.Combine(run.Folder, "codes-cmd.png");
        var result = AppRunner.Run("codes", "--checkpoint", run.Checkpoint, "--out", png, "--data", AppRunner.ShippedData);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Stdout);
        // The default seed is the training run's: the same picture.
        Assert.Equal(File.ReadAllBytes(Path.Combine(run.Folder, "codes.png")), File.ReadAllBytes(png));

        var image = Png.Read(png);
        Assert.Equal(2, image.ColorType);
        // Every code of the largest compiled codebook has a colour of its own, none of them dark.
        var colours = Enumerable.Range(0, 512).Select(Figures.CodeColour).ToArray();
        Assert.Equal(512, colours.Distinct().Count());
        Assert.All(colours, c => Assert.True(Math.Max(c.R, Math.Max(c.G, c.B)) >= 140, $"{c}"));
        var test = FashionData.Load(AppRunner.ShippedData, null, TextWriter.Null, needTrain: false).Test;
        using var device = Device.Cpu(1);
        using var model = Models.Load(device, run.Checkpoint);
        var picked = Figures.Pick(test, 16, 1);
        foreach (int tile in new[] { 0, 7, 15 })
        {
            var x = test.AsSpan(picked[tile] * 784, 784).ToArray();
            int[] codes = model.EncodeCodes(x);
            Assert.Equal(49, codes.Length);
            for (int row = 0; row < 7; row++)
            for (int column = 0; column < 7; column++)
            {
                // Tile `tile` of the middle row; each code is a 4 x 4 cell at twice the size, centre pixel.
                int px = 2 + tile * 58 + column * 8 + 4, py = 2 + 58 + row * 8 + 4;
                Assert.Equal(Figures.CodeColour(codes[row * 7 + column]), image.Rgb(px, py));
            }
            // The top row is the test image in gray.
            var (r, g, b) = image.Rgb(2 + tile * 58 + 2 * 14, 2 + 2 * 14);
            Assert.True(r == g && g == b);
        }
    }

    [Fact]
    public void Reconstruct_and_evaluate_work_from_the_checkpoint_with_the_epoch_lines_figures()
    {
        string png = Path.Combine(run.Folder, "reconstruct-cmd.png");
        var picture = AppRunner.Run("reconstruct", "--checkpoint", run.Checkpoint, "--out", png, "--data", AppRunner.ShippedData);
        Assert.True(picture.ExitCode == 0, picture.ToString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(run.Folder, "reconstructions.png")), File.ReadAllBytes(png));

        var evaluated = AppRunner.Run("evaluate", "--checkpoint", run.Checkpoint, "--data", AppRunner.ShippedData, "--threads", "2");
        Assert.True(evaluated.ExitCode == 0, evaluated.ToString());
        var line = EpochLine().Match(run.Result.StdoutLines.Single());
        Assert.Equal($"test_mse {line.Groups[4].Value}", evaluated.StdoutLines[0]);
        Assert.Equal($"test_perplexity {line.Groups[5].Value}", evaluated.StdoutLines[1]);
        Assert.Equal($"codes_used {line.Groups[6].Value} of 128", evaluated.StdoutLines[2]);
    }

    [Theory]
    [InlineData("sample")]
    [InlineData("interpolate")]
    [InlineData("traverse")]
    [InlineData("manifold")]
    public void Pictures_of_a_gaussian_latent_are_usage_errors_for_a_vq_checkpoint(string command)
    {
        string png = Path.Combine(run.Folder, command + "-refused.png");
        var result = AppRunner.Run(command, "--checkpoint", run.Checkpoint, "--out", png);
        AssertUsageError(result, $"{command} needs a Gaussian latent");
        Assert.Contains("reconstruct and codes", result.Stderr);
        Assert.False(File.Exists(png));
    }

    [Fact]
    public void Code_maps_of_a_gaussian_checkpoint_are_a_usage_error()
    {
        string dir = AppRunner.TempFolder("vq-codes-of-dense");
        try
        {
            string checkpoint = Path.Combine(dir, "dense.safetensors");
            using (var device = Device.Cpu(1))
            using (var model = new FashionVae(device, 1))
                Checkpoint.Save(model, checkpoint);
            var result = AppRunner.Run("codes", "--checkpoint", checkpoint, "--out", Path.Combine(dir, "c.png"), "--data", AppRunner.ShippedData);
            AssertUsageError(result, "codes draws a VQ-VAE's code maps");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Resuming_continues_exactly_as_the_uninterrupted_run()
    {
        Assert.True(run.TwoEpochs.ExitCode == 0, run.TwoEpochs.ToString());
        string dir = AppRunner.TempFolder("vq-resume");
        try
        {
            string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
            File.Copy(run.Checkpoint, checkpoint);
            var resumed = AppRunner.Run("train", "--resume", checkpoint, "--epochs", "1", "--limit", "128", "--threads", "2", "--data", AppRunner.ShippedData);
            Assert.True(resumed.ExitCode == 0, resumed.ToString());
            var line = EpochLine().Match(Assert.Single(resumed.StdoutLines));
            var straight = EpochLine().Match(run.TwoEpochs.StdoutLines[1]);
            Assert.True(line.Success && straight.Success, resumed.ToString());
            Assert.Equal("2", line.Groups[1].Value);
            // Everything but the time: the codebook's EMA state, idle counters and Adam's moments came back bit for bit.
            for (int g = 3; g <= 6; g++) Assert.Equal(straight.Groups[g].Value, line.Groups[g].Value);
            var metadata = Checkpoint.ReadMetadata(checkpoint);
            Assert.Equal("2", metadata["epochs_completed"]);
            Assert.Equal(2, metadata["test_mse"].Split(',').Length);
            Assert.Equal(
                SafeTensors.ReadFile(Path.Combine(run.TwoEpochsFolder, "checkpoint.safetensors")).Tensors.Single(t => t.Name == "quantizer.codebook").Data,
                SafeTensors.ReadFile(checkpoint).Tensors.Single(t => t.Name == "quantizer.codebook").Data);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public static TheoryData<string[], string> NotCompiled => new()
    {
        { ["--model", "vq", "--codes", "256"], "--model vq is not compiled for --codes 256; compiled: --codes 128 or 512, --dim 16 or 64, --commitment 0.25, --decay 0.99 or 0" },
        { ["--model", "vq", "--dim", "32"], "--model vq is not compiled for --dim 32" },
        { ["--model", "vq", "--commitment", "1"], "--model vq is not compiled for --commitment 1" },
        { ["--model", "vq", "--decay", "0.5"], "--model vq is not compiled for --decay 0.5" },
        { ["--model", "vq", "--restart-after", "50"], "--restart-after 0 or 100 (0: none), in every combination" },
        { ["--model", "vq", "--latent", "20"], "--latent 20 does not apply to --model vq" },
        { ["--model", "vq", "--beta", "2"], "--beta does not apply to --model vq" },
        { ["--model", "vq", "--objective", "iwae"], "--objective iwae does not apply to --model vq" },
        { ["--model", "vq", "--free-bits", "1"], "--free-bits does not apply to --model vq" },
        { ["--model", "vq", "--conditional"], "--conditional does not apply to --model vq" },
        { ["--model", "vq", "--distributed"], "--distributed does not apply to --model vq" },
        { ["--codes", "512"], "--codes applies to --model vq only; --model dense has a Gaussian latent" },
        { ["--model", "conv", "--decay", "0"], "--decay applies to --model vq only; --model conv" },
        { ["--model", "vq", "--decay", "-1"], "--decay must be a finite number >= 0" },
        { ["--model", "vq", "--codes", "1"], "--codes must be a whole number >= 2" },
    };

    [Theory]
    [MemberData(nameof(NotCompiled))]
    public void A_vq_model_that_is_not_compiled_or_an_option_it_lacks_is_a_one_line_usage_error(string[] flags, string fragment)
    {
        string dir = AppRunner.TempFolder("vq-usage");
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

    public static TheoryData<string[], string> ResumeMismatches => new()
    {
        { ["--codes", "512"], "--codes 512 does not match the checkpoint" },
        { ["--decay", "0"], "--decay 0 does not match the checkpoint" },
        { ["--model", "dense"], "--model dense does not match the checkpoint" },
        { ["--latent", "20"], "--latent 20 does not apply to --model vq" },
    };

    [Theory]
    [MemberData(nameof(ResumeMismatches))]
    public void Resuming_a_vq_checkpoint_with_other_settings_is_a_usage_error(string[] flags, string fragment)
    {
        var result = AppRunner.Run(["train", "--resume", run.Checkpoint, "--epochs", "1", "--data", AppRunner.ShippedData, .. flags]);
        AssertUsageError(result, fragment);
        Assert.Equal("1", Checkpoint.ReadMetadata(run.Checkpoint)["epochs_completed"]);
    }

    [Fact]
    public void OpenCL_evaluates_the_vq_checkpoint_as_the_CPU_does_or_refuses_it_in_one_line_naming_the_cpu()
    {
        // Evaluating 64 test images loads the model on the device as training does (Models.Load), in a second or two.
        string[] args = ["evaluate", "--checkpoint", run.Checkpoint, "--limit", "64", "--data", AppRunner.ShippedData];
        var cpu = AppRunner.Run([.. args, "--device", "cpu", "--threads", "2"]);
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        var openCl = AppRunner.Run([.. args, "--device", "opencl"]);
        if (openCl.ExitCode == 1 && openCl.Stderr.Contains("OpenCL") && Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") != "1") return;
        if (openCl.ExitCode == 0)
        {
            // Every target chooses the same codes for the same weights; the decoder differs by float rounding only.
            Assert.Equal(cpu.StdoutLines[1..], openCl.StdoutLines[1..]);
            double a = Value(cpu, "test_mse"), b = Value(openCl, "test_mse");
            Assert.InRange(b, a - 1e-4, a + 1e-4);
            return;
        }
        // A library whose devices refuse VQ-VAEs: one line, a usage error, naming the way out.
        AssertUsageError(openCl, "--model vq does not run on OpenCL");
        Assert.Contains("use --device cpu.", openCl.Stderr);
    }

    private static void AssertUsageError(AppRun result, string fragment)
    {
        Assert.True(result.ExitCode == Usage, result.ToString());
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string line = Assert.Single(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(fragment, line);
        Assert.Empty(result.Stdout);
    }

    private static double Number(Match m, int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static double Value(AppRun result, string key) =>
        double.Parse(result.StdoutLines.Single(l => l.StartsWith(key + " ", StringComparison.Ordinal)).Split(' ')[1], CultureInfo.InvariantCulture);
}
