namespace Vae.Samples.Fashion;

/// <summary>
/// A mistake in what the user asked for (an option value, options that contradict each other or the checkpoint).
/// The app prints the message alone, as one line without a stack trace, and exits with <see cref="ExitCode"/>,
/// <see cref="App.Usage"/> unless said otherwise.
/// </summary>
internal sealed class UsageException(string message, int exitCode = App.Usage) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
