using System.Text;
using Microsoft.CodeAnalysis.Text;

namespace Vae.Generator.Tests;

/// <summary>A span the test expects a diagnostic with this ID on.</summary>
internal sealed record ExpectedDiagnostic(string Id, string Path, TextSpan Span);

/// <summary>
/// Test sources with the expected diagnostics marked inline as <c>{|VAE002:text|}</c>, Roslyn-SDK style. Markers may
/// nest (two diagnostics on one span: <c>{|VAE001:{|VAE014:M|}|}</c>); they are stripped before compiling, so the spans
/// are positions in the clean text.
/// </summary>
internal static class Markup
{
    public static (SourceFile File, IReadOnlyList<ExpectedDiagnostic> Expected) Parse(string path, string marked)
    {
        var text = new StringBuilder(marked.Length);
        var open = new Stack<(string Id, int Start)>();
        var expected = new List<ExpectedDiagnostic>();
        for (int i = 0; i < marked.Length; i++)
        {
            if (marked[i] == '{' && i + 1 < marked.Length && marked[i + 1] == '|')
            {
                int colon = marked.IndexOf(':', i + 2);
                if (colon < 0) throw new FormatException($"'{{|' at {i} in {path} has no ':' after its diagnostic ID");
                open.Push((marked.Substring(i + 2, colon - i - 2), text.Length));
                i = colon;
            }
            else if (marked[i] == '|' && i + 1 < marked.Length && marked[i + 1] == '}')
            {
                if (open.Count == 0) throw new FormatException($"'|}}' at {i} in {path} closes no marker");
                var (id, start) = open.Pop();
                expected.Add(new ExpectedDiagnostic(id, path, TextSpan.FromBounds(start, text.Length)));
                i++;
            }
            else
            {
                text.Append(marked[i]);
            }
        }
        if (open.Count > 0) throw new FormatException($"marker {{|{open.Peek().Id}: in {path} is never closed");
        return (new SourceFile(path, text.ToString()), expected);
    }
}
