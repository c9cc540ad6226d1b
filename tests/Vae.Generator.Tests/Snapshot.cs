using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Sdk;

namespace Vae.Generator.Tests;

/// <summary>
/// A small Verify: compares text with <c>Snapshots/{name}.verified.{extension}</c> beside the calling test's source file.
/// On a mismatch it writes <c>{name}.received.{extension}</c> next to it and fails with a diff; with
/// <c>VAE_ACCEPT_SNAPSHOTS=1</c> it overwrites the verified file instead and passes.
/// </summary>
/// <remarks>
/// Snapshots are found through the source path (CallerFilePath), not the output directory, so that accepting one edits
/// the file under version control and the project never needs to copy them to bin.
/// </remarks>
internal static class Snapshot
{
    public const string AcceptVariable = "VAE_ACCEPT_SNAPSHOTS";

    /// <summary>Lines of unchanged text shown around each change.</summary>
    private const int Context = 3;

    /// <summary>A diff longer than this is cut: the first hunks say what broke, the received file holds the rest.</summary>
    private const int MaxDiffLines = 80;

    /// <summary>Above this many cells the line-by-line LCS table is too big; the differing middle is shown as replaced.</summary>
    private const long MaxLcsCells = 4_000_000;

    private static readonly Encoding Utf8NoBom = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    public static void Match(string text, string name, string extension = "cs", [CallerFilePath] string path = "") =>
        Match(text, name, extension, Environment.GetEnvironmentVariable(AcceptVariable) == "1", SnapshotDirectory(path));

    /// <summary>The directory holding the snapshots of the test file at <paramref name="sourcePath"/>.</summary>
    public static string SnapshotDirectory(string sourcePath)
    {
        var directory = Path.GetDirectoryName(sourcePath);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
            throw new InvalidOperationException(
                $"Cannot find the test source directory '{directory}' from CallerFilePath '{sourcePath}'; snapshots are read beside the test sources, so run the tests from a checkout.");
        return Path.Combine(directory, "Snapshots");
    }

    /// <summary>The core of <see cref="Match(string, string, string, string)"/>, with the accept switch explicit so tests of the helper do not depend on the environment.</summary>
    public static void Match(string text, string name, string extension, bool accept, string directory)
    {
        var received = Normalize(text);
        var verifiedPath = Path.Combine(directory, $"{name}.verified.{extension}");
        var receivedPath = Path.Combine(directory, $"{name}.received.{extension}");

        if (accept)
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(verifiedPath, received, Utf8NoBom);
            File.Delete(receivedPath);
            return;
        }

        string? verified = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath)) : null;
        if (verified == received)
        {
            // A received file left from an earlier failure is stale now and would only confuse the next reader.
            File.Delete(receivedPath);
            return;
        }

        Directory.CreateDirectory(directory);
        File.WriteAllText(receivedPath, received, Utf8NoBom);
        var message = new StringBuilder();
        if (verified is null)
        {
            message.Append($"No verified snapshot '{verifiedPath}'. ");
        }
        else
        {
            message.Append($"Snapshot '{name}' does not match '{verifiedPath}'. ");
        }
        message.Append($"The new text is in '{receivedPath}'; if it is right, rename it to .verified.{extension} or rerun with {AcceptVariable}=1.");
        if (verified is not null)
        {
            message.Append('\n').Append(Diff(verified, received, verifiedPath, receivedPath));
        }
        throw new XunitException(message.ToString());
    }

    /// <summary>Line endings as \n only, so a checkout with CRLF still matches.</summary>
    public static string Normalize(string text) => text.Replace("\r\n", "\n").Replace('\r', '\n');

    /// <summary>A unified diff (hunks with <see cref="Context"/> lines of context and 1-based line numbers), cut after <see cref="MaxDiffLines"/> lines.</summary>
    public static string Diff(string expected, string actual, string expectedName = "verified", string actualName = "received")
    {
        var a = expected.Split('\n');
        var b = actual.Split('\n');
        var edits = Edits(a, b);

        var output = new StringBuilder();
        output.Append("--- ").Append(expectedName).Append('\n');
        output.Append("+++ ").Append(actualName).Append('\n');
        int written = 0, hidden = 0;
        foreach (var (start, end) in Hunks(edits))
        {
            if (written >= MaxDiffLines)
            {
                hidden += edits.Skip(start).Take(end - start).Count(e => e.Kind != ' ');
                continue;
            }
            int aStart = edits[start].A, bStart = edits[start].B;
            int aCount = edits.Skip(start).Take(end - start).Count(e => e.Kind != '+');
            int bCount = edits.Skip(start).Take(end - start).Count(e => e.Kind != '-');
            output.Append($"@@ -{aStart + 1},{aCount} +{bStart + 1},{bCount} @@\n");
            for (int i = start; i < end; i++)
            {
                if (written >= MaxDiffLines)
                {
                    if (edits[i].Kind != ' ') hidden++;
                    continue;
                }
                var line = edits[i].Kind == '+' ? b[edits[i].B] : a[edits[i].A];
                output.Append(edits[i].Kind).Append(line).Append('\n');
                written++;
            }
        }
        if (hidden > 0) output.Append($"... and {hidden} more changed lines; see the received file.\n");
        return output.ToString();
    }

    /// <summary>One line of the edit script: ' ' kept, '-' only in expected, '+' only in actual, with both line indexes.</summary>
    private readonly record struct Edit(char Kind, int A, int B);

    /// <summary>The edit script from a longest common subsequence of lines, after trimming the common head and tail.</summary>
    private static List<Edit> Edits(string[] a, string[] b)
    {
        int head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head]) head++;
        int tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[a.Length - 1 - tail] == b[b.Length - 1 - tail]) tail++;

        var edits = new List<Edit>();
        for (int i = 0; i < head; i++) edits.Add(new Edit(' ', i, i));

        int n = a.Length - head - tail, m = b.Length - head - tail;
        if ((long)n * m > MaxLcsCells)
        {
            for (int i = 0; i < n; i++) edits.Add(new Edit('-', head + i, head));
            for (int j = 0; j < m; j++) edits.Add(new Edit('+', head + n, head + j));
        }
        else
        {
            // lcs[i, j] = length of the LCS of a[head+i..] and b[head+j..]; walking it forwards gives the script.
            var lcs = new int[n + 1, m + 1];
            for (int i = n - 1; i >= 0; i--)
                for (int j = m - 1; j >= 0; j--)
                    lcs[i, j] = a[head + i] == b[head + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            int x = 0, y = 0;
            while (x < n || y < m)
            {
                if (x < n && y < m && a[head + x] == b[head + y]) { edits.Add(new Edit(' ', head + x, head + y)); x++; y++; }
                // Deletions first on a tie, so a changed line reads as '-' old then '+' new, as in git diff.
                else if (x < n && (y == m || lcs[x + 1, y] >= lcs[x, y + 1])) { edits.Add(new Edit('-', head + x, head + y)); x++; }
                else { edits.Add(new Edit('+', head + x, head + y)); y++; }
            }
        }

        for (int i = 0; i < tail; i++) edits.Add(new Edit(' ', a.Length - tail + i, b.Length - tail + i));
        return edits;
    }

    /// <summary>Ranges [start, end) of the edit script to print: each change with its context, overlapping ranges merged.</summary>
    private static IEnumerable<(int Start, int End)> Hunks(List<Edit> edits)
    {
        int? start = null;
        int end = 0;
        for (int i = 0; i < edits.Count; i++)
        {
            if (edits[i].Kind == ' ') continue;
            int from = Math.Max(0, i - Context), to = Math.Min(edits.Count, i + 1 + Context);
            if (start is not null && from <= end)
            {
                end = to;
                continue;
            }
            if (start is not null) yield return (start.Value, end);
            start = from;
            end = to;
        }
        if (start is not null) yield return (start.Value, end);
    }
}
