using System.Diagnostics;
using Vae.Files;
using Vae.Samples.Fashion;

namespace Vae.Samples.Tests;

/// <summary>
/// SIGTERM (what a service manager, a container runtime or a batch scheduler sends) stops the app as Ctrl+C does:
/// after the step in flight, with the last checkpoint intact, exit code 143, within a second.
/// </summary>
public sealed class SignalTests : IDisposable
{
    /// <summary>The app's own promise (its watchdog), plus time for the runtime to tear down and the parent to see it on a busy machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1.5);

    private readonly string _folder = AppRunner.TempFolder("signal");

    [Fact]
    public void Sigterm_during_training_stops_cleanly_with_exit_143_and_a_loadable_checkpoint()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var app = AppProcess.Start("train", "--epochs", "100000", "--limit", "1000", "--data", AppRunner.ShippedData, "--out", _folder);
        Assert.True(app.WaitForStdout(l => l.StartsWith("epoch 2 "), TimeSpan.FromMinutes(2)), app.ToString());

        var clock = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);
        Assert.True(app.WaitForExit(TimeSpan.FromSeconds(30)), "No exit 30 s after SIGTERM.\n" + app);
        var elapsed = clock.Elapsed;

        Assert.True(app.ExitCode == App.Terminated, app.ToString());
        Assert.True(elapsed < Bound, $"SIGTERM took {elapsed.TotalMilliseconds:F0} ms to end the process.\n{app}");
        Assert.Contains("stopped.", app.Stderr);
        Assert.DoesNotContain("did not stop", app.Stderr);
        Assert.DoesNotContain("   at ", app.Stderr);

        string checkpoint = Path.Combine(_folder, "checkpoint.safetensors");
        int epochs = int.Parse(SafeTensors.ReadFile(checkpoint).Metadata["epochs_completed"]);
        Assert.True(epochs >= 2, app.ToString());
        using (var device = Device.Cpu(1))
        using (Models.Load(device, checkpoint, new Adam()))
        {
        }
        var resumed = AppRunner.Run("train", "--resume", checkpoint, "--epochs", "1", "--data", AppRunner.ShippedData, "--limit", "1000");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal((epochs + 1).ToString(), SafeTensors.ReadFile(checkpoint).Metadata["epochs_completed"]);
    }

    [Fact]
    public void Sigterm_while_starting_up_also_ends_the_process_with_exit_143_in_bounded_time()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var app = AppProcess.Start("train", "--epochs", "100000", "--data", AppRunner.ShippedData, "--out", _folder);
        Thread.Sleep(150); // the runtime is starting or the data is loading: no step is running yet
        var clock = Stopwatch.StartNew();
        app.Signal(AppProcess.SigTerm);
        Assert.True(app.WaitForExit(TimeSpan.FromSeconds(30)), "No exit 30 s after SIGTERM.\n" + app);
        Assert.True(app.ExitCode == App.Terminated, app.ToString());
        Assert.True(clock.Elapsed < Bound, $"SIGTERM took {clock.Elapsed.TotalMilliseconds:F0} ms to end the process.\n{app}");
        Assert.DoesNotContain("   at ", app.Stderr);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
