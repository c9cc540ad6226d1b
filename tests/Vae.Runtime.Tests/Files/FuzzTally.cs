using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Files;

/// <summary>
/// Counts what a fuzzer's inputs did: a load that succeeded (and passed the caller's checks of what it returned), a
/// clean refusal (a documented exception whose message names the source), or anything else, which fails the test
/// with the first few cases and the mutations that made them.
/// </summary>
internal sealed class FuzzTally(string name, int seed)
{
    private const int Shown = 8;

    private readonly List<string> _failures = [];
    private readonly Dictionary<string, int> _errorKinds = new(StringComparer.Ordinal);

    public int Tries { get; private set; }
    public int Loads { get; private set; }
    public int Successes { get; private set; }
    public int CleanErrors { get; private set; }
    public int Other { get; private set; }

    public void NewInput() => Tries++;

    /// <summary>
    /// Runs one load of the current input. <paramref name="load"/> returns null when what it loaded is sound, or what
    /// is wrong with it; a clean error is an <see cref="InvalidDataException"/> (or one of <paramref name="alsoClean"/>)
    /// whose message starts with <paramref name="source"/>.
    /// </summary>
    public void Run(string operation, string mutation, string source, Func<string?> load, params Type[] alsoClean)
    {
        Loads++;
        try
        {
            string? problem = load();
            if (problem is null)
            {
                Successes++;
                return;
            }
            Fail(operation, mutation, $"loaded, but {problem}");
        }
        catch (Exception e) when (e is InvalidDataException || alsoClean.Contains(e.GetType()))
        {
            if (!e.Message.StartsWith(source, StringComparison.Ordinal))
            {
                Fail(operation, mutation, $"{e.GetType().Name} that does not name the source first: {e.Message}");
                return;
            }
            CleanErrors++;
            string kind = Kind(e.Message, source);
            _errorKinds[kind] = _errorKinds.GetValueOrDefault(kind) + 1;
        }
        catch (Exception e)
        {
            Fail(operation, mutation, e.ToString());
        }
    }

    private void Fail(string operation, string mutation, string what)
    {
        Other++;
        if (_failures.Count < Shown) _failures.Add($"{operation} after [{mutation}]: {what}");
    }

    // The start of a message after the source, numbers and quoted names blanked, as a rough histogram of which
    // checks fired.
    private static string Kind(string message, string source)
    {
        string rest = message[source.Length..].TrimStart(':', ' ');
        rest = System.Text.RegularExpressions.Regex.Replace(rest, "'[^']*'", "'_'");
        rest = System.Text.RegularExpressions.Regex.Replace(rest, "[0-9]+", "N");
        return rest.Length > 60 ? rest[..60] : rest;
    }

    public void Report(ITestOutputHelper output, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{name}: seed {seed}, {Tries} mutated inputs, {Loads} loads in {elapsed.TotalSeconds:F1} s: " +
                      $"{CleanErrors} clean errors, {Successes} successes, {Other} anything else (must be 0)");
        foreach (var (kind, count) in _errorKinds.OrderByDescending(k => k.Value).Take(20))
            sb.AppendLine($"  {count,6}  {kind}");
        output.WriteLine(sb.ToString());
        Console.WriteLine(sb.ToString());
        Assert.True(Other == 0, $"{Other} inputs ended neither in a sound load nor in a clean error:\n" + string.Join("\n\n", _failures));
    }
}
