namespace Vae.Samples.Fashion;

/// <summary>
/// A mistake in what the user asked for (an option value, a checkpoint that does not fit the command). The app prints
/// the message alone, without a stack trace, and exits with <see cref="ExitCode"/>.
/// </summary>
internal sealed class UsageException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
