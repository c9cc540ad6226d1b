using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Vae.Samples.Tests;

/// <summary>
/// <c>train --distributed</c> under a real <c>mpirun</c> (Open MPI) on this machine. Without Open MPI the mpirun tests
/// write why and return, unless VAE_REQUIRE_MPI=1 (set by .ci/run) demands it.
/// </summary>
public sealed class DistributedTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static string App => Path.Combine(AppContext.BaseDirectory, "FashionMnist.dll");

    [Fact]
    public void TwoRanksTrainAsOneProcessDoesAndResume()
    {
        if (Mpirun() is not { } mpirun) return;
        string single = AppRunner.TempFolder("single"), two = AppRunner.TempFolder("mpi");
        string[] common = ["train", "--epochs", "1", "--limit", "512", "--batch", "128", "--threads", "1", "--data", AppRunner.ShippedData];
        var alone = AppRunner.Run([.. common, "--out", single]);
        Assert.True(alone.ExitCode == 0, alone.ToString());

        var (code, stdout, stderr) = Run(mpirun, [.. Ranks(2), Host(), "exec", App, .. common, "--distributed", "--out", two]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var lines = EpochLines(stdout);
        Assert.Single(lines);   // rank 0 alone prints
        Assert.True(File.Exists(Path.Combine(two, "checkpoint.safetensors")));
        double a = Field(EpochLines(alone.Stdout)[0], "train_negative_elbo"), b = Field(lines[0], "train_negative_elbo");
        double ta = Field(EpochLines(alone.Stdout)[0], "test_negative_elbo"), tb = Field(lines[0], "test_negative_elbo");
        output.WriteLine($"1 process: train {a}, test {ta}; 2 ranks: train {b}, test {tb}");
        Assert.True(Math.Abs(a - b) <= 1e-4 * Math.Abs(a), $"train -ELBO {a} alone, {b} over 2 ranks");
        Assert.True(Math.Abs(ta - tb) <= 1e-3 * Math.Abs(ta), $"test -ELBO {ta} alone, {tb} over 2 ranks");

        (code, stdout, stderr) = Run(mpirun, [.. Ranks(2), Host(), "exec", App, "train", "--distributed", "--epochs", "1", "--threads", "1",
            "--limit", "512", "--resume", Path.Combine(two, "checkpoint.safetensors")]);
        Assert.True(code == 0, $"resume: exit {code}\n{stdout}\n{stderr}");
        Assert.StartsWith("epoch 2 ", Assert.Single(EpochLines(stdout)));
    }

    [Fact]
    public void ARankThatFailsEndsTheJobNamingIt()
    {
        if (Mpirun() is not { } mpirun) return;
        string outDir = AppRunner.TempFolder("mpi-fail");
        string[] train = ["train", "--distributed", "--epochs", "1", "--limit", "512", "--threads", "1", "--out", outDir];
        // MPMD: rank 0 is given the data, rank 1 a folder that does not exist, so rank 1 alone fails.
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = Run(mpirun, [.. Ranks(1), Host(), "exec", App, .. train, "--data", AppRunner.ShippedData,
            ":", "-np", "1", Host(), "exec", App, .. train, "--data", Path.Combine(outDir, "missing")]);
        output.WriteLine($"exit {code} after {clock.Elapsed.TotalSeconds:F1} s\n{stderr}");
        Assert.NotEqual(0, code);
        Assert.Contains("error: rank 1 of 2 stopped with exit code 1", stderr);
        Assert.Contains("missing", stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the job took {clock.Elapsed.TotalSeconds:F0} s to end");
    }

    [Fact]
    public void WithoutTheMpiLibraryDistributedIsAClearError()
    {
        var start = new ProcessStartInfo(Host()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", App, "train", "--distributed", "--epochs", "1", "--limit", "64", "--data", AppRunner.ShippedData,
                     "--out", AppRunner.TempFolder("no-mpi") })
            start.ArgumentList.Add(a);
        start.Environment["VAE_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40";
        var (code, _, stderr) = Wait(start);
        Assert.Equal(1, code);
        Assert.Contains("openmpi-bin libopenmpi-dev", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    // Under mpirun a rank's stdout is a terminal, so .NET's console may write a terminal mode sequence first.
    private static string[] EpochLines(string stdout) =>
        System.Text.RegularExpressions.Regex.Replace(stdout, @"\x1b(\[[0-9;?]*[A-Za-z]|[=>])", "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("epoch ")).ToArray();

    private static double Field(string line, string name)
    {
        var parts = line.Split(' ');
        return double.Parse(parts[Array.IndexOf(parts, name) + 1], CultureInfo.InvariantCulture);
    }

    private static string[] Ranks(int n) =>
        Environment.UserName == "root" ? ["--oversubscribe", "--allow-run-as-root", "-np", n.ToString()] : ["--oversubscribe", "-np", n.ToString()];

    private static (int Code, string Stdout, string Stderr) Run(string mpirun, string[] args)
    {
        var start = new ProcessStartInfo(mpirun) { RedirectStandardOutput = true, RedirectStandardError = true };
        // Containers often forbid the cross-memory attach Open MPI's shared-memory transport tries first.
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        foreach (var a in args) start.ArgumentList.Add(a);
        return Wait(start);
    }

    private static (int Code, string Stdout, string Stderr) Wait(ProcessStartInfo start)
    {
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not end within {Limit.TotalSeconds} s (a hang).\n{stdout.Result}\n{stderr.Result}");
        }
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Host()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    private string? Mpirun()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
        if (found is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_MPI") == "1", "VAE_REQUIRE_MPI=1 but mpirun is not on the PATH: install openmpi-bin libopenmpi-dev.");
            output.WriteLine("skipped: mpirun is not on the PATH (install openmpi-bin libopenmpi-dev)");
        }
        return found;
    }
}
