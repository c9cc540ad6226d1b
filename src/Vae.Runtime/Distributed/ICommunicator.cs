namespace Vae;

/// <summary>
/// The processes of a data-parallel run and the collective operations training needs: each of <see cref="Size"/>
/// ranks holds the whole model, trains on its slice of every global batch, and sums gradients with the others.
/// </summary>
/// <remarks>
/// Every rank must make the same calls in the same order with the same lengths (as in MPI). A
/// <see cref="Trainer"/> takes one through <see cref="Trainer.Communicator"/>; the default is
/// <see cref="SingleProcessCommunicator.Instance"/>, one rank and no communication.
/// </remarks>
public interface ICommunicator
{
    /// <summary>This process's index, 0 to <see cref="Size"/> - 1.</summary>
    int Rank { get; }

    /// <summary>The number of processes, &gt;= 1.</summary>
    int Size { get; }

    /// <summary>
    /// When true the sums of <see cref="AllReduceSum(Span{float})"/> are taken in one fixed order (rank 0, 1, ...),
    /// so a run with the same ranks is bit-identical from one run to the next.
    /// </summary>
    bool Deterministic { get; }

    /// <summary>Replaces <paramref name="values"/> on every rank with the element-wise sum over all ranks.</summary>
    void AllReduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every rank with the element-wise sum over all ranks.</summary>
    void AllReduceSum(Span<double> values);

    /// <summary>Copies <paramref name="values"/> from rank <paramref name="root"/> to every other rank.</summary>
    void Broadcast(Span<float> values, int root = 0);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();
}

/// <summary>One process, no communication: what a <see cref="Trainer"/> uses unless told otherwise.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public static SingleProcessCommunicator Instance { get; } = new();

    private SingleProcessCommunicator() { }

    public int Rank => 0;
    public int Size => 1;
    public bool Deterministic => true;
    public void AllReduceSum(Span<float> values) { }
    public void AllReduceSum(Span<double> values) { }

    public void Broadcast(Span<float> values, int root = 0) =>
        ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);

    public void Barrier() { }
}

/// <summary>The MPI library could not be loaded or started: the message says what to install or how to launch.</summary>
public sealed class CommunicatorUnavailableException : Exception
{
    public CommunicatorUnavailableException() : base("MPI is not available.") { }
    public CommunicatorUnavailableException(string message) : base(message) { }
    public CommunicatorUnavailableException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The ranks of a data-parallel run do not hold the same data, settings, step or parameters (thrown on every rank
/// alike, before a step, so no rank waits forever for a collective call that another will not make).
/// </summary>
public sealed class RanksDisagreeException : InvalidOperationException
{
    public RanksDisagreeException() : base("The ranks do not agree.") { }
    public RanksDisagreeException(string message) : base(message) { }
    public RanksDisagreeException(string message, Exception? innerException) : base(message, innerException) { }
}
