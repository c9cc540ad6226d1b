using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Vae.Samples.Tests;

/// <summary>
/// The README cannot rot: each of its C# blocks is a file the solution builds (named by the
/// <c>&lt;!-- snippet: path --&gt;</c> line above the block), character for character, and the quick start runs.
/// </summary>
public sealed partial class ReadmeTests
{
    /// <summary>The repository's README and the package's (shown on the package page and in the IDE).</summary>
    public static TheoryData<string> Readmes => new() { "README.md", "src/Vae.Runtime/PACKAGE.md" };

    [GeneratedRegex(@"^<!-- snippet: (?<path>\S+) -->\r?\n```(?<lang>[^\r\n]*)\r?\n(?<body>.*?)^```\s*$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Snippet();

    [GeneratedRegex(@"^```(?<lang>[^\r\n]*)\r?$", RegexOptions.Multiline)]
    private static partial Regex Fence();

    private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimEnd('\n') + "\n";

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_csharp_block_is_marked_with_the_file_it_comes_from(string readme)
    {
        string text = File.ReadAllText(Path.Combine(AppRunner.RepositoryRoot, readme)).Replace("\r\n", "\n");
        int csharpBlocks = 0, opening = 0;
        foreach (Match fence in Fence().Matches(text))
        {
            // Fences alternate: an opening one (with or without a language), then its closing one.
            if (opening++ % 2 == 1) continue;
            string lang = fence.Groups["lang"].Value.Trim().ToLowerInvariant();
            if (lang is not ("csharp" or "cs" or "c#")) continue;
            csharpBlocks++;
            string before = text[..fence.Index].TrimEnd('\n');
            string lastLine = before[(before.LastIndexOf('\n') + 1)..];
            Assert.True(lastLine.StartsWith("<!-- snippet: ", StringComparison.Ordinal),
                $"{readme}: the C# block at character {fence.Index} has no '<!-- snippet: path -->' line above it, so no test builds it.");
        }
        Assert.True(csharpBlocks > 0, $"{readme} has no C# block; the quick start is expected there.");
        Assert.Equal(csharpBlocks, Snippet().Matches(text).Count(m => m.Groups["lang"].Value.Trim() is "csharp" or "cs" or "c#"));
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_snippet_is_exactly_its_file_and_the_file_is_built(string readme)
    {
        string text = File.ReadAllText(Path.Combine(AppRunner.RepositoryRoot, readme));
        var snippets = Snippet().Matches(text);
        Assert.NotEmpty(snippets);
        string solution = File.ReadAllText(Path.Combine(AppRunner.RepositoryRoot, "Vae.sln")).Replace('\\', '/');
        foreach (Match m in snippets)
        {
            string relative = m.Groups["path"].Value;
            Assert.True(relative.StartsWith("samples/", StringComparison.Ordinal) || relative.StartsWith("tests/", StringComparison.Ordinal),
                $"{readme} snippet '{relative}' must be a file under samples/ or tests/.");
            string path = Path.Combine(AppRunner.RepositoryRoot, relative);
            Assert.True(File.Exists(path), $"{readme} names {relative}, which does not exist.");
            Assert.True(Normalize(m.Groups["body"].Value) == Normalize(File.ReadAllText(path)),
                $"{readme}'s block for {relative} differs from the file: copy the file into the README (or the README into the file).");

            // The file belongs to a project of the solution, so building the solution compiles it.
            string? dir = Path.GetDirectoryName(path);
            string? project = null;
            while (dir is not null && project is null)
            {
                project = Directory.GetFiles(dir, "*.csproj").FirstOrDefault();
                dir = Path.GetDirectoryName(dir);
            }
            Assert.NotNull(project);
            string projectRelative = Path.GetRelativePath(AppRunner.RepositoryRoot, project!).Replace('\\', '/');
            Assert.Contains(projectRelative, solution);
        }
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void The_batch_limits_stated_are_the_devices_limits(string readme)
    {
        // Lines wrap anywhere, so compare with whitespace collapsed.
        string text = Regex.Replace(File.ReadAllText(Path.Combine(AppRunner.RepositoryRoot, readme)), @"\s+", " ");
        static string Thousands(int n) => n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        using (var cpu = Device.Cpu(1))
            Assert.Contains($"{Thousands(cpu.MaxBatchSize)} on the CPU and CUDA", text);
        try
        {
            using var openCl = Device.OpenCl();
            Assert.Contains($"{Thousands(openCl.MaxBatchSize)} on OpenCL", text);
        }
        catch (DeviceUnavailableException) when (Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") != "1")
        {
            // No OpenCL driver here; CI sets VAE_REQUIRE_OPENCL=1 and checks this half.
        }
    }

    [Fact]
    public async Task The_quick_start_trains_evaluates_samples_and_saves_on_the_shipped_data()
    {
        string output = AppRunner.TempFolder("quickstart");
        var start = new ProcessStartInfo(AppProcess.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "QuickStart.dll"));
        start.ArgumentList.Add(AppRunner.ShippedData);
        start.ArgumentList.Add(output);
        start.ArgumentList.Add("1");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
            await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\nstdout:\n{stdout}\nstderr:\n{await stderr}");

        Assert.Contains("10000 images of 28x28, first label Ankle boot", stdout);
        Assert.Matches(@"epoch 1/1: training loss \d+\.\d\d \(negative ELBO\)", stdout);
        var elbo = Regex.Match(stdout, @"test ELBO (?<elbo>-\d+\.\d\d) nats per image \(loss (?<loss>\d+\.\d\d)\)");
        Assert.True(elbo.Success, stdout);
        Assert.Equal(elbo.Groups["elbo"].Value, "-" + elbo.Groups["loss"].Value);
        double value = double.Parse(elbo.Groups["elbo"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(value, -400, -200);   // one epoch on 8,000 images: about -310
        Assert.Contains($"reloaded test ELBO {elbo.Groups["elbo"].Value}", stdout);

        byte[] png = File.ReadAllBytes(Path.Combine(output, "samples.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(new FileInfo(Path.Combine(output, "fashion.safetensors")).Length > 4 * 600_000);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }
}
