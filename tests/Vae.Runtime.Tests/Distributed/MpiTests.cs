using System.Diagnostics;
using System.Runtime.InteropServices;
using Vae.Runtime.Tests.Safety;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Distributed;

/// <summary>
/// Data-parallel training under a real <c>mpirun</c> on this machine (<see cref="MpiWorker"/> is each rank). Without
/// Open MPI each test writes why and returns, unless VAE_REQUIRE_MPI=1 (set by .ci/run) demands it.
/// </summary>
public sealed class MpiTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private static bool RequireMpi => Environment.GetEnvironmentVariable("VAE_REQUIRE_MPI") == "1";

    [Fact]
    public void TwoRanksOfHalfBatchesTrainWhatOneRankTrains()
    {
        if (Mpirun() is not { } mpirun) return;
        var one = Train(mpirun, ranks: 1, batch: 128, deterministic: false);
        var two = Train(mpirun, ranks: 2, batch: 128, deterministic: false);
        double worst = 0, scale = one.Max(v => Math.Abs(v));
        for (int i = 0; i < one.Length; i++) worst = Math.Max(worst, Math.Abs(one[i] - two[i]));
        output.WriteLine($"50 steps: largest difference {worst:G3}, largest parameter {scale:G3}, relative {worst / scale:G3}");
        Assert.True(worst <= 1e-5 * scale, $"2 ranks x 64 and 1 rank x 128 differ by {worst:G3} after 50 steps (largest parameter {scale:G3})");
        Assert.NotEqual(InitialParameters(), two);
    }

    [Fact]
    public void DeterministicModeIsBitIdenticalRunToRun()
    {
        if (Mpirun() is not { } mpirun) return;
        var first = Train(mpirun, ranks: 2, batch: 128, deterministic: true);
        var second = Train(mpirun, ranks: 2, batch: 128, deterministic: true);
        Assert.Equal(MemoryMarshal.AsBytes(first.AsSpan()).ToArray(), MemoryMarshal.AsBytes(second.AsSpan()).ToArray());
    }

    [Fact]
    public void AKilledRankEndsTheJobWithAnErrorNamingIt()
    {
        if (Mpirun() is not { } mpirun) return;
        string outFile = Path.GetTempFileName();
        try
        {
            var (code, stdout, stderr, elapsed) = Run(mpirun, 2, "50", "128", "0", outFile, "10");
            output.WriteLine($"exit {code} after {elapsed.TotalSeconds:F1} s\n{stderr}");
            Assert.NotEqual(0, code);
            Assert.Matches(@"rank 1|process rank 1|rank\s+1", stderr + stdout);
            Assert.True(elapsed < TimeSpan.FromSeconds(60), $"the job took {elapsed.TotalSeconds:F0} s to end after a rank died");
        }
        finally { File.Delete(outFile); }
    }

    private static float[] InitialParameters()
    {
        using var device = Device.Cpu(1);
        using var model = new Models.DeepVae(device, 5);
        return model.GetParameters();
    }

    private float[] Train(string mpirun, int ranks, int batch, bool deterministic)
    {
        string outFile = Path.GetTempFileName();
        try
        {
            var (code, stdout, stderr, elapsed) = Run(mpirun, ranks, "50", batch.ToString(), deterministic ? "1" : "0", outFile);
            output.WriteLine($"{ranks} rank(s): exit {code} in {elapsed.TotalSeconds:F1} s: {stdout.Trim()}");
            Assert.True(code == 0, $"mpirun -np {ranks} exited {code}:\n{stdout}\n{stderr}");
            var bytes = File.ReadAllBytes(outFile);
            return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        }
        finally { File.Delete(outFile); }
    }

    /// <summary>mpirun on the PATH, or null (the test returns) unless VAE_REQUIRE_MPI=1.</summary>
    private string? Mpirun()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
        if (found is null || !File.Exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40") && !LibMpiLoadable())
        {
            string why = found is null ? "mpirun is not on the PATH" : "libmpi.so.40 cannot be loaded";
            Assert.False(RequireMpi, $"VAE_REQUIRE_MPI=1 but {why}: install openmpi-bin libopenmpi-dev.");
            output.WriteLine($"skipped: {why} (install openmpi-bin libopenmpi-dev)");
            return null;
        }
        return found;
    }

    private static bool LibMpiLoadable()
    {
        if (!NativeLibrary.TryLoad("libmpi.so.40", out var h)) return false;
        NativeLibrary.Free(h);
        return true;
    }

    /// <summary>Runs <c>mpirun -np RANKS dotnet exec Vae.Runtime.Tests.dll mpi ARGS</c>, killing it past <see cref="Limit"/>.</summary>
    internal static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed) Run(string mpirun, int ranks, params string[] args)
    {
        var start = new ProcessStartInfo(mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Containers often forbid the cross-memory attach Open MPI's shared-memory transport tries first.
        start.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        foreach (var a in LauncherArguments(ranks)) start.ArgumentList.Add(a);
        start.ArgumentList.Add(SafetyStressTests.DotnetHost());
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(MpiWorker).Assembly.Location);
        start.ArgumentList.Add("mpi");
        foreach (var a in args) start.ArgumentList.Add(a);
        var (exitCode, stdout, stderr, elapsed, timedOut) = ChildProcess.Run(start, Limit);
        if (timedOut) Assert.Fail($"mpirun -np {ranks} {string.Join(' ', args)} did not finish within {Limit.TotalSeconds} s (a hang).\n{stdout}\n{stderr}");
        return (exitCode, stdout, stderr, elapsed);
    }

    /// <summary>One machine, more ranks than cores allowed, and --allow-run-as-root only when running as root.</summary>
    internal static IEnumerable<string> LauncherArguments(int ranks)
    {
        yield return "-np";
        yield return ranks.ToString();
        yield return "--oversubscribe";
        if (Environment.UserName == "root") yield return "--allow-run-as-root";
    }
}
