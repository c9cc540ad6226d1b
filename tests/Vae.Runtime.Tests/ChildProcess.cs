using System.Diagnostics;

namespace Vae.Runtime.Tests;

/// <summary>Runs a program the tests start (a child test process, mpirun, clang, python) with a time limit.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// Starts <paramref name="start"/> (its output redirected), drains both pipes at once so a chatty child cannot block
    /// on a full pipe, and kills the whole process tree past <paramref name="limit"/>.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, bool TimedOut) Run(ProcessStartInfo start, TimeSpan limit)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        bool timedOut = !process.WaitForExit(limit);
        if (timedOut) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return (timedOut ? -1 : process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed, timedOut);
    }
}
