namespace Vae.Samples.Fashion.Commands;

/// <summary>
/// <c>train --distributed</c>: one rank of <c>mpirun -np N</c>. Rank 0 prints, evaluates and writes; the other ranks
/// are silent. A rank that cannot go on says so, naming itself, and ends the whole job (MPI_Abort) rather than
/// leaving the others waiting in an all-reduce.
/// </summary>
internal static class DistributedTrain
{
    public static int Run(TrainSettings settings, AppConsole console, CancellationToken cancellationToken)
    {
        using var communicator = MpiCommunicator.Start(settings.Deterministic);
        // Ranks sharing a machine share its cores: by default each takes its share rather than all of them.
        if (settings.Threads == 0 && int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int local) && local > 1)
            settings = settings with { Threads = Math.Max(1, Environment.ProcessorCount / local) };
        var errors = new StringWriter();
        // mpirun hands its ranks a terminal even when its own output goes to a file, so rank 0 prints the plain
        // one-line-per-epoch format, never the live progress bar.
        var rankConsole = communicator.Rank == 0 ? new AppConsole(console.Out, console.Error, interactive: false) : new AppConsole(TextWriter.Null, errors, interactive: false);
        int code;
        try
        {
            code = TrainCommand.Run(settings, rankConsole, communicator, cancellationToken);
        }
        catch (Exception e)
        {
            code = App.Handle(rankConsole, e);
        }
        if (code == App.Success) return code;
        // Rank 0 has printed its error already; another rank's notes went nowhere but its errors are kept for this line.
        var said = errors.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("error: ", StringComparison.Ordinal) || l == "stopped.").ToArray();
        string why = communicator.Rank == 0 || said.Length == 0 ? "" : " (" + string.Join(' ', said) + ")";
        console.Error.WriteLine($"error: rank {communicator.Rank} of {communicator.Size} stopped with exit code {code}{why}; ending the whole job.");
        console.Error.Flush();
        communicator.Abort(code);
        return code;
    }
}
