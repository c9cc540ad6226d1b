using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Safety;

/// <summary>
/// Runs each misuse scenario of <see cref="StressProgram"/> in a child process and asserts that it exited normally
/// (a native crash would end it with a signal's code), in bounded time (no hang), with every check as documented:
/// ObjectDisposedException from every member of a disposed model or of a model whose device is disposed, overlapping
/// calls refused with InvalidOperationException, argument errors for overflowing sizes and bad hyperparameters.
/// </summary>
public sealed class SafetyStressTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    public static IEnumerable<object[]> Scenarios() =>
        StressProgram.Cases.Keys.SelectMany(c => new[] { new object[] { c, "cpu" }, [c, "opencl"] });

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Misuse_ends_in_the_documented_exception_without_a_crash_or_a_hang(string scenario, string device)
    {
        var (exitCode, stdout, stderr, elapsed) = RunChild("stress", scenario, device);
        output.WriteLine($"exit {exitCode} after {elapsed.TotalSeconds:F1} s");
        output.WriteLine(stdout);
        if (stderr.Length > 0) output.WriteLine("stderr: " + stderr);
        if (exitCode == StressProgram.DeviceUnavailable)
        {
            Assert.False(device == "opencl" && Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + stdout);
            return;
        }
        Assert.True(exitCode == StressProgram.AllAsDocumented,
            exitCode == StressProgram.NotAsDocumented
                ? "Some checks did not see the documented outcome:\n" + string.Join('\n', stdout.Split('\n').Where(l => l.StartsWith("FAIL")))
                : $"The child process crashed or was killed (exit code {exitCode}).\n{stdout}\n{stderr}");
        Assert.Contains(" checks as documented, 0 not", stdout);
    }

    [Fact]
    public void The_child_refuses_an_unknown_scenario()
    {
        var (exitCode, _, stderr, _) = RunChild("stress", "no-such-case", "cpu");
        Assert.Equal(StressProgram.BadUsage, exitCode);
        Assert.Contains("usage:", stderr);
    }

    /// <summary>Runs this test assembly as a program and waits, killing it past <see cref="Limit"/>.</summary>
    private static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed) RunChild(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(StressProgram).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        var (exitCode, stdout, stderr, elapsed, timedOut) = ChildProcess.Run(start, Limit);
        if (timedOut) Assert.Fail($"'{string.Join(' ', args)}' did not finish within {Limit.TotalMinutes} minutes (a hang).\n{stdout}");
        return (exitCode, stdout, stderr, elapsed);
    }

    /// <summary>The dotnet host running the tests (the test host sets DOTNET_HOST_PATH), else the one on the PATH.</summary>
    internal static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
