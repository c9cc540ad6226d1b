using System.Runtime.InteropServices;

namespace Vae.Samples.Fashion;

/// <summary>
/// Turns the first SIGINT (Ctrl+C) or SIGTERM into a cancellation the commands check between steps, so training
/// stops after the step in flight with its last checkpoint intact. If the app has not exited a second later (a step
/// or an evaluation that cannot be interrupted), it exits anyway with the same code; the checkpoint is still whole,
/// since it is written to a temporary file and renamed. A second signal ends the process at once.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    /// <summary>How long a stop may take before the process exits without waiting for the command.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter _notes;
    private readonly PosixSignalRegistration[] _registrations;
    private Timer? _watchdog;
    private int _signal;

    private StopSignals(TextWriter notes)
    {
        _notes = notes;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public static StopSignals Register(TextWriter notes) => new(notes);

    public CancellationToken Token => _source.Token;

    /// <summary>130 after SIGINT, 143 after SIGTERM (128 + the signal number, as a shell reports a signalled process).</summary>
    public int ExitCode => Volatile.Read(ref _signal) == (int)PosixSignal.SIGTERM ? App.Terminated : App.Interrupted;

    private void OnSignal(PosixSignalContext context)
    {
        // The second signal keeps its default action: the process ends now.
        if (Interlocked.CompareExchange(ref _signal, (int)context.Signal, 0) != 0) return;
        context.Cancel = true;
        _watchdog = new Timer(_ =>
        {
            _notes.WriteLine($"error: the command did not stop within {Grace.TotalSeconds:0} s of {Name(context.Signal)}; exiting now.");
            _notes.Flush();
            Environment.Exit(ExitCode);
        }, null, Grace, Timeout.InfiniteTimeSpan);
        _source.Cancel();
    }

    private static string Name(PosixSignal signal) => signal == PosixSignal.SIGTERM ? "SIGTERM" : "SIGINT";

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _watchdog?.Dispose();
        _source.Dispose();
    }
}
