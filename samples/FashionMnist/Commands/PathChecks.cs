namespace Vae.Samples.Fashion.Commands;

/// <summary>
/// Checks of the files and folders named on the command line, made before any work starts, so a typo in a path
/// fails at once with the option's name rather than after an epoch of training. Each failure is an
/// <see cref="IOException"/> (exit code 1) whose message is one line naming the option and the path.
/// </summary>
internal static class PathChecks
{
    /// <summary>A checkpoint to read: an existing file, not a folder.</summary>
    public static void InputFile(string path, string option)
    {
        if (Directory.Exists(path))
        {
            string inside = Path.Combine(path, TrainCommand.CheckpointName);
            throw new IOException(File.Exists(inside)
                ? $"{option} '{path}' is a folder, not a checkpoint file; did you mean '{inside}'?"
                : $"{option} '{path}' is a folder, not a checkpoint file.");
        }
        if (!File.Exists(path))
            throw new FileNotFoundException($"{option} '{path}': no such file.", path);
    }

    /// <summary>A folder of data files, when one is given: it must exist and be a folder.</summary>
    public static void DataFolder(string? path)
    {
        if (path is null || Directory.Exists(path)) return;
        throw File.Exists(path)
            ? new IOException($"--data '{path}' is a file; give the folder that holds the IDX files.")
            : new DirectoryNotFoundException($"--data '{path}': no such folder.");
    }

    /// <summary>
    /// The folder training writes to: created if missing, and proved writable by creating and deleting a file in it.
    /// Leftover temporary checkpoints of a run that was killed mid-write are deleted. Returns the full path.
    /// </summary>
    public static string OutputFolder(string path, string what)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new IOException($"{what} '{path}' is a file, not a folder.");
        try
        {
            Directory.CreateDirectory(full);
            using (File.Create(Path.Combine(full, $".write-test-{Environment.ProcessId}"), 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write to {what} '{path}': {App.OneLine(e.Message)}", e);
        }
        foreach (string stale in Directory.EnumerateFiles(full, TrainCommand.CheckpointName + ".tmp-*"))
        {
            try { File.Delete(stale); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return full;
    }

    /// <summary>A picture to write: not a folder, in a folder that exists.</summary>
    public static void OutputFile(string path, string option)
    {
        if (Directory.Exists(path)) throw new IOException($"{option} '{path}' is a folder; give the name of the PNG file to write.");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException(File.Exists(folder)
                ? $"{option} '{path}': '{folder}' is a file, not a folder."
                : $"{option} '{path}': the folder '{folder}' does not exist.");
    }
}
