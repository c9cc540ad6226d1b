using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Vae.Samples.Tests;

/// <summary>
/// The sample app as a real child process (<c>dotnet exec FashionMnist.dll</c>), for what an in-process run cannot
/// show: signals, SIGKILL, resource limits. Output is collected line by line as it arrives.
/// </summary>
internal sealed class AppProcess : IDisposable
{
    public const int SigTerm = 15;

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly StringBuilder _stderr = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private AppProcess(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts the app with <paramref name="args"/>.</summary>
    public static AppProcess Start(params string[] args) => new(Command(args));

    /// <summary>
    /// Starts the app under bash with a file-size limit of <paramref name="kilobytes"/> and SIGXFSZ ignored, so a
    /// write past it fails with EFBIG as on a full disk. W^X is off: its double mapping needs a file as large as the code heap.
    /// </summary>
    public static AppProcess StartWithFileSizeLimit(long kilobytes, params string[] args)
    {
        var app = Command(args);
        var start = new ProcessStartInfo("/bin/bash");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"trap '' XFSZ; ulimit -f {kilobytes}; exec \"$0\" \"$@\"");
        start.ArgumentList.Add(app.FileName);
        foreach (var a in app.ArgumentList) start.ArgumentList.Add(a);
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        return new AppProcess(start);
    }

    private static ProcessStartInfo Command(string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost());
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "FashionMnist.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>The dotnet host running the tests (the test host sets DOTNET_HOST_PATH), else the one on the PATH.</summary>
    internal static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public TimeSpan Elapsed => _clock.Elapsed;

    public IReadOnlyList<string> StdoutLines
    {
        get { lock (_stdout) return [.. _stdout]; }
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until a line of stdout satisfies <paramref name="predicate"/>; false on timeout or exit.</summary>
    public bool WaitForStdout(Func<string, bool> predicate, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (StdoutLines.Any(predicate)) return true;
            if (_process.HasExited) return StdoutLines.Any(predicate);
            Thread.Sleep(5);
        }
        return false;
    }

    /// <summary>Sends a signal (SIGTERM, SIGINT...) to the process.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}.");
    }

    /// <summary>SIGKILL: the process ends at once, whatever it was doing.</summary>
    public void KillNow() => _process.Kill();

    /// <summary>Waits for the exit and for the output streams to drain; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout)) return false;
        _process.WaitForExit();
        return true;
    }

    public override string ToString() =>
        $"exit {(_process.HasExited ? _process.ExitCode.ToString() : "(running)")}\n--- stdout ---\n{string.Join('\n', StdoutLines)}\n--- stderr ---\n{Stderr}";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
