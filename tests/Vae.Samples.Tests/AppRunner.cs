using Vae.Samples.Fashion;

namespace Vae.Samples.Tests;

/// <summary>What one in-process run of the app printed and returned.</summary>
internal sealed record AppRun(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs the sample's entry point in this process, with the repository's copy of the data.</summary>
internal static class AppRunner
{
    public static AppRun Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = App.Run(args, stdout, stderr);
        return new AppRun(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The repository root: the first folder above the test binaries that holds Vae.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Vae.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("Could not find Vae.sln above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// The shipped copy (only the t10k split, which the app cuts 8,000/2,000), never the machine's
    /// /usr/share/datasets copy, so the figures do not depend on what is installed.
    /// </summary>
    public static string ShippedData => Path.Combine(RepositoryRoot, "data", "fashion-mnist");

    /// <summary>A fresh empty folder under the system's temporary folder.</summary>
    public static string TempFolder(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "vae-samples-tests", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(path);
        return path;
    }
}
