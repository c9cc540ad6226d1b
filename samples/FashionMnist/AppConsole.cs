using Spectre.Console;

namespace Vae.Samples.Fashion;

/// <summary>
/// Where the app writes: results on <see cref="Out"/>, notes and errors on <see cref="Error"/>. When
/// <see cref="Interactive"/> is false (stdout redirected, or a test's writer) stdout carries only the results, one
/// line each, so scripts can parse it.
/// </summary>
internal sealed class AppConsole(TextWriter output, TextWriter error, bool interactive)
{
    private IAnsiConsole? _ansi;

    public TextWriter Out { get; } = output;
    public TextWriter Error { get; } = error;
    public bool Interactive { get; } = interactive;

    /// <summary>Spectre.Console on <see cref="Out"/>, made on first use so redirected runs never touch it.</summary>
    public IAnsiConsole Ansi => _ansi ??= AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Out) });

    public void Note(string text) => Error.WriteLine(text);
}
