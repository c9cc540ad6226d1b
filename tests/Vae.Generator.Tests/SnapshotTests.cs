using Xunit;
using Xunit.Sdk;

namespace Vae.Generator.Tests;

/// <summary>
/// The generated file of each representative model, kept as Snapshots/{model}.verified.cs. A change to the emitters
/// shows up here as a diff to review; accept it with VAE_ACCEPT_SNAPSHOTS=1 once it reads right.
/// </summary>
public class SnapshotTests
{
    /// <summary>
    /// The three generated files of each representative model: Snapshots/{model}.verified.cs (the class),
    /// {model}.Cpu.verified.cs and {model}.Device.verified.cs (whose raw string holds each device kernel once).
    /// </summary>
    [Theory]
    [MemberData(nameof(Models.Names), MemberType = typeof(Models))]
    public void Generated_files_match_snapshots(string name)
    {
        var model = Models.ByName(name);
        var run = GeneratorHarness.Run(model.Source);

        Assert.Null(run.Exception);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(GeneratorRun.FilesOf(model.HintPrefix), run.Sources.Keys);
        Snapshot.Match(run.Sources[model.HintPrefix + ".g.cs"], model.Name);
        Snapshot.Match(run.Sources[model.HintPrefix + ".Cpu.g.cs"], model.Name + ".Cpu");
        Snapshot.Match(run.Sources[model.HintPrefix + ".Device.g.cs"], model.Name + ".Device");
    }

    [Fact]
    public void Mismatch_writes_received_file_and_fails_with_a_diff()
    {
        // A throwaway name in the real snapshot folder, so the test also proves the folder is found from the source path.
        var directory = Snapshot.SnapshotDirectory(ThisFile());
        var name = "Mismatch_" + Guid.NewGuid().ToString("N");
        var verified = Path.Combine(directory, name + ".verified.txt");
        var received = Path.Combine(directory, name + ".received.txt");
        try
        {
            var lines = Enumerable.Range(1, 20).Select(i => $"line {i}").ToList();
            Directory.CreateDirectory(directory);
            File.WriteAllText(verified, string.Join("\r\n", lines) + "\r\n");

            // CRLF on disk and LF in memory are the same snapshot.
            Snapshot.Match(string.Join("\n", lines) + "\n", name, "txt", accept: false, directory);
            Assert.False(File.Exists(received));

            lines[9] = "line ten";
            var changed = string.Join("\n", lines) + "\n";
            var failure = Assert.Throws<XunitException>(() => Snapshot.Match(changed, name, "txt", accept: false, directory));

            Assert.True(File.Exists(received), "a mismatch must leave the received file for review");
            Assert.Equal(changed, File.ReadAllText(received));
            Assert.Contains("@@ -7,7 +7,7 @@", failure.Message);
            Assert.Contains("-line 10\n+line ten\n", failure.Message);
            Assert.Contains(" line 9\n", failure.Message);
            Assert.DoesNotContain("line 5", failure.Message);
            Assert.Contains(Snapshot.AcceptVariable, failure.Message);

            // Once the text matches again the stale received file goes.
            lines[9] = "line 10";
            Snapshot.Match(string.Join("\n", lines) + "\n", name, "txt", accept: false, directory);
            Assert.False(File.Exists(received));
        }
        finally
        {
            File.Delete(verified);
            File.Delete(received);
        }
    }

    [Fact]
    public void Missing_verified_file_fails_and_accepting_writes_it()
    {
        var directory = Snapshot.SnapshotDirectory(ThisFile());
        var name = "Missing_" + Guid.NewGuid().ToString("N");
        var verified = Path.Combine(directory, name + ".verified.txt");
        var received = Path.Combine(directory, name + ".received.txt");
        try
        {
            var failure = Assert.Throws<XunitException>(() => Snapshot.Match("new\n", name, "txt", accept: false, directory));
            Assert.Contains("No verified snapshot", failure.Message);
            Assert.True(File.Exists(received));

            Snapshot.Match("new\r\n", name, "txt", accept: true, directory);
            Assert.Equal("new\n", File.ReadAllText(verified));
            Assert.False(File.Exists(received));
        }
        finally
        {
            File.Delete(verified);
            File.Delete(received);
        }
    }

    [Fact]
    public void Diff_numbers_lines_and_separates_distant_hunks()
    {
        var expected = string.Join("\n", Enumerable.Range(1, 30).Select(i => $"{i}"));
        var actual = expected.Replace("\n3\n", "\nthree\n").Replace("\n25\n", "\n25\nextra\n");

        var diff = Snapshot.Diff(expected, actual);

        Assert.Equal(
            "--- verified\n+++ received\n" +
            "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n" +
            "@@ -23,6 +23,7 @@\n 23\n 24\n 25\n+extra\n 26\n 27\n 28\n",
            diff);
    }

    private static string ThisFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;
}
