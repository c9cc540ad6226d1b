using Vae.Files;

namespace Vae.Samples.Tests;

/// <summary>A checkpoint of one short epoch, shared by the probes that need a valid one.</summary>
public sealed class ProbeFixture : IDisposable
{
    public ProbeFixture()
    {
        Folder = AppRunner.TempFolder("probes");
        var run = AppRunner.Run("train", "--epochs", "1", "--limit", "128", "--data", AppRunner.ShippedData, "--out", Path.Combine(Folder, "run"));
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    public string Folder { get; }
    public string Checkpoint => Path.Combine(Folder, "run", "checkpoint.safetensors");

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

/// <summary>
/// Mistakes a user can make, and environments the app cannot work in, get one line on stderr starting with
/// "error: " that names the option at fault and says why, no stack trace, and the documented exit code: 2 for a
/// wrong command line, 1 for a valid one that could not be carried out.
/// </summary>
public sealed class ErrorTests(ProbeFixture fixture) : IClassFixture<ProbeFixture>
{
    private const int Usage = 2;
    private const int Failure = 1;

    /// <summary>
    /// The table of probes: a name, the arguments, the exit code and a fragment of the error line. In the arguments
    /// {data} is the shipped data, {ckpt} a valid checkpoint, {tmp} a fresh empty folder, {file} a file of garbage in it.
    /// </summary>
    public static TheoryData<string, string[], int, string> Probes => new()
    {
        // The command line itself: exit 2, before anything is read or created.
        { "learning rate inf", ["train", "--lr", "inf"], Usage, "--lr" },
        { "learning rate Infinity", ["train", "--lr", "Infinity"], Usage, "--lr" },
        { "learning rate NaN", ["train", "--lr", "NaN"], Usage, "--lr" },
        { "negative learning rate", ["train", "--lr", "-0.001"], Usage, "--lr" },
        { "learning rate that rounds to 0 in float", ["train", "--lr", "1e-50"], Usage, "--lr" },
        { "learning rate that overflows float", ["train", "--lr", "1e39"], Usage, "--lr" },
        { "negative beta", ["train", "--beta", "-1"], Usage, "--beta" },
        { "infinite beta", ["train", "--beta", "Infinity"], Usage, "--beta" },
        { "epochs not a number", ["train", "--epochs", "abc"], Usage, "--epochs" },
        { "negative epochs", ["train", "--epochs", "-1"], Usage, "--epochs" },
        { "epochs past int", ["train", "--epochs", "99999999999"], Usage, "--epochs" },
        { "epochs without a value", ["train", "--epochs"], Usage, "--epochs" },
        { "epochs twice", ["train", "--epochs", "1", "--epochs", "2"], Usage, "--epochs" },
        { "batch 0", ["train", "--batch", "0"], Usage, "--batch" },
        { "fractional batch", ["train", "--batch", "1.5"], Usage, "--batch" },
        { "batch above the CPU's 4096 rows", ["train", "--batch", "5000", "--data", "{data}", "--out", "{tmp}"], Usage, "--batch 5000" },
        { "negative threads", ["train", "--threads", "-1"], Usage, "--threads" },
        { "absurd threads", ["train", "--threads", "100000"], Usage, "--threads" },
        { "negative seed", ["train", "--seed", "-1"], Usage, "--seed" },
        { "seed not a number", ["sample", "--checkpoint", "{ckpt}", "--seed", "x"], Usage, "--seed" },
        { "latent not compiled", ["train", "--latent", "7"], Usage, "--latent 7" },
        { "unknown device", ["train", "--device", "gpu"], Usage, "--device" },
        { "unknown option", ["train", "--bogus"], Usage, "--bogus" },
        { "option of another command", ["sample", "--checkpoint", "{ckpt}", "--data", "{data}"], Usage, "--data" },
        { "stray argument", ["train", "extra"], Usage, "extra" },
        { "no command", [], Usage, "no command" },
        { "unknown command", ["frobnicate"], Usage, "frobnicate" },
        { "checkpoint missing from evaluate", ["evaluate"], Usage, "--checkpoint" },
        { "zero importance samples", ["evaluate", "--checkpoint", "{ckpt}", "--importance-samples", "0"], Usage, "--importance-samples" },
        { "empty output path", ["train", "--out", ""], Usage, "--out" },
        { "latent contradicting the resumed checkpoint", ["train", "--resume", "{ckpt}", "--latent", "10", "--data", "{data}"], Usage, "--latent 10" },
        { "manifold of a 20-D model", ["manifold", "--checkpoint", "{ckpt}", "--out", "{tmp}/m.png"], Usage, "--latent 2" },

        // The environment: exit 1, before any training.
        { "output folder is a file", ["train", "--out", "{file}", "--data", "{data}"], Failure, "--out" },
        { "output folder under a file", ["train", "--out", "{file}/run", "--data", "{data}"], Failure, "cannot write" },
        { "missing data folder", ["train", "--data", "{tmp}/no-such-folder", "--out", "{tmp}/run"], Failure, "--data" },
        { "data folder is a file", ["train", "--data", "{file}", "--out", "{tmp}/run"], Failure, "--data" },
        { "empty data folder", ["train", "--data", "{tmp}", "--out", "{tmp}/run"], Failure, "{tmp}" },
        { "missing checkpoint", ["evaluate", "--checkpoint", "{tmp}/missing.safetensors"], Failure, "--checkpoint" },
        { "folder as checkpoint", ["evaluate", "--checkpoint", "{tmp}"], Failure, "is a folder" },
        { "folder as resumed checkpoint", ["train", "--resume", "{tmp}", "--data", "{data}"], Failure, "--resume" },
        { "missing resumed checkpoint", ["train", "--resume", "{tmp}/missing.safetensors", "--data", "{data}"], Failure, "--resume" },
        { "garbage as checkpoint", ["reconstruct", "--checkpoint", "{file}", "--data", "{data}", "--out", "{tmp}/r.png"], Failure, "{file}" },
        { "picture written to a folder", ["sample", "--checkpoint", "{ckpt}", "--out", "{tmp}"], Failure, "--out" },
        { "picture in a missing folder", ["sample", "--checkpoint", "{ckpt}", "--out", "{tmp}/missing/s.png"], Failure, "does not exist" },
    };

    [Theory]
    [MemberData(nameof(Probes))]
    public void A_bad_argument_or_environment_gets_one_line_and_its_exit_code(string probe, string[] args, int exitCode, string fragment)
    {
        string tmp = AppRunner.TempFolder("probe");
        try
        {
            string file = Path.Combine(tmp, "garbage.bin");
            File.WriteAllBytes(file, [0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            string Fill(string a) => a.Replace("{data}", AppRunner.ShippedData).Replace("{ckpt}", fixture.Checkpoint).Replace("{tmp}", tmp).Replace("{file}", file);
            var result = AppRunner.Run(args.Select(Fill).ToArray());
            AssertOneErrorLine(result, exitCode, Fill(fragment), probe);
            if (exitCode == Usage)
            {
                Assert.True(result.Stderr.TrimEnd().Split('\n').Length == 1, $"{probe}: a usage error is the only line.\n{result}");
                Assert.True(Directory.EnumerateFileSystemEntries(tmp).Count() == 1, $"{probe}: a usage error creates nothing."); // the garbage file
            }
            Assert.False(Directory.Exists(Path.Combine(tmp, "run")) && Directory.EnumerateFiles(Path.Combine(tmp, "run"), "checkpoint*").Any(), $"{probe}: nothing is trained");
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    [Fact]
    public void A_folder_the_user_cannot_write_is_refused_before_training()
    {
        string tmp = AppRunner.TempFolder("readonly");
        try
        {
            if (!OperatingSystem.IsLinux()) return;
            // The superuser writes anywhere, so as root the probe is a folder under /proc, which nobody can create.
            string target;
            if (Environment.UserName == "root")
            {
                target = "/proc/vae-samples-tests/run";
            }
            else
            {
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserExecute);
                target = Path.Combine(tmp, "run");
            }
            var result = AppRunner.Run("train", "--epochs", "1", "--data", AppRunner.ShippedData, "--out", target);
            AssertOneErrorLine(result, Failure, target, "unwritable output folder");
            Assert.DoesNotContain("device:", result.Stderr); // refused before the device, the data and the model
        }
        finally
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.Delete(tmp, recursive: true);
        }
    }

    [Fact]
    public void A_batch_above_the_OpenCL_limit_is_a_usage_error_naming_the_limit()
    {
        string tmp = AppRunner.TempFolder("opencl-batch");
        try
        {
            var result = AppRunner.Run("train", "--device", "opencl", "--batch", "2000", "--data", AppRunner.ShippedData, "--out", tmp);
            if (result.ExitCode == Failure && result.Stderr.Contains("OpenCL") && Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") != "1") return;
            AssertOneErrorLine(result, Usage, "--batch 2000", "OpenCL batch");
            Assert.Contains("1024", result.Stderr);
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    [Fact]
    public void A_full_disk_at_checkpoint_time_is_one_line_exit_1_and_leaves_no_partial_file()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/bin/bash")) return;
        string tmp = AppRunner.TempFolder("full");
        try
        {
            // A 2 MB file-size limit: the 7.8 MB checkpoint (with Adam's state) cannot be written, as on a full disk.
            using var app = AppProcess.StartWithFileSizeLimit(2048, "train", "--epochs", "2", "--limit", "128", "--data", AppRunner.ShippedData, "--out", tmp);
            Assert.True(app.WaitForExit(TimeSpan.FromMinutes(2)), app.ToString());
            Assert.True(app.ExitCode == Failure, app.ToString());
            var errors = app.Stderr.Split('\n').Where(l => l.StartsWith("error: ")).ToArray();
            Assert.True(errors.Length == 1, app.ToString());
            Assert.Contains("writing the checkpoint of epoch 1", errors[0]);
            Assert.DoesNotContain("   at ", app.Stderr);
            Assert.Empty(app.StdoutLines); // the epoch's line is printed only once its checkpoint is safe
            Assert.Empty(Directory.EnumerateFiles(tmp, "checkpoint*"));
        }
        finally
        {
            Directory.Delete(tmp, recursive: true);
        }
    }

    [Fact]
    public void An_unknown_device_lists_the_valid_ones()
    {
        var result = AppRunner.Run("train", "--device", "gpu", "--data", AppRunner.ShippedData);
        Assert.Equal(Usage, result.ExitCode);
        Assert.Contains("'gpu'", result.Stderr);
        foreach (var name in new[] { "cpu", "opencl", "cuda", "auto" }) Assert.Contains(name, result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void A_latent_size_that_is_not_compiled_lists_the_compiled_sizes()
    {
        var result = AppRunner.Run("train", "--latent", "7", "--data", AppRunner.ShippedData);
        Assert.Equal(Usage, result.ExitCode);
        Assert.Contains("--latent 7", result.Stderr);
        Assert.Contains("2, 5, 10, 20, 32, 64", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void A_missing_data_folder_is_named()
    {
        string missing = Path.Combine(Path.GetTempPath(), "vae-samples-tests", "no-such-folder");
        var result = AppRunner.Run("train", "--epochs", "1", "--data", missing);
        Assert.Equal(Failure, result.ExitCode);
        Assert.Contains(missing, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void A_corrupt_data_file_is_reported_with_its_name()
    {
        string folder = AppRunner.TempFolder("corrupt");
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "t10k-images-idx3-ubyte"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
            File.Copy(Path.Combine(AppRunner.ShippedData, "t10k-labels-idx1-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
            var result = AppRunner.Run("train", "--epochs", "1", "--data", folder, "--out", Path.Combine(folder, "out"));
            AssertOneErrorLine(result, Failure, "t10k-images-idx3-ubyte", "corrupt data");
            Assert.Empty(result.Stdout);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void An_unavailable_device_is_a_failure_with_the_drivers_message()
    {
        // CUDA is absent on most test machines; where it is present this run is a valid zero-epoch run instead.
        string folder = AppRunner.TempFolder("cuda");
        try
        {
            var result = AppRunner.Run("train", "--device", "cuda", "--epochs", "0", "--data", AppRunner.ShippedData, "--out", folder);
            if (result.ExitCode == 0) return;
            AssertOneErrorLine(result, Failure, "CUDA", "unavailable device");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_resumed_run_that_would_count_past_int_epochs_is_refused()
    {
        var result = AppRunner.Run("train", "--resume", fixture.Checkpoint, "--epochs", int.MaxValue.ToString(), "--data", AppRunner.ShippedData);
        AssertOneErrorLine(result, Usage, "--epochs", "epoch overflow");
        Assert.Equal("1", SafeTensors.ReadFile(fixture.Checkpoint).Metadata["epochs_completed"]);
    }

    /// <summary>
    /// Exactly one line of stderr starts with "error: ", it is the last line and holds <paramref name="fragment"/>;
    /// no stack trace anywhere; nothing on stdout.
    /// </summary>
    private static void AssertOneErrorLine(AppRun result, int exitCode, string fragment, string probe)
    {
        Assert.True(result.ExitCode == exitCode, $"{probe}: expected exit {exitCode}.\n{result}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();
        Assert.True(errors.Length == 1 && lines[^1] == errors[0], $"{probe}: expected one error line, last.\n{result}");
        Assert.True(errors[0].Contains(fragment, StringComparison.Ordinal), $"{probe}: the error line does not name '{fragment}'.\n{result}");
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.DoesNotContain("Unhandled", result.Stderr);
        Assert.DoesNotContain("internal error", errors[0]); // the catch-all for bugs, not a handled case
        Assert.Empty(result.Stdout);
    }
}
