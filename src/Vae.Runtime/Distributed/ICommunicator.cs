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
    /// <summary>The one instance (it has no state).</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    private SingleProcessCommunicator() { }

    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public bool Deterministic => true;
    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) { }
    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) { }

    /// <inheritdoc/>
    public void Broadcast(Span<float> values, int root = 0) =>
        ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);

    /// <inheritdoc/>
    public void Barrier() { }
}

/// <summary>The MPI library could not be loaded or started: the message says what to install or how to launch.</summary>
public sealed class CommunicatorUnavailableException : Exception
{
    /// <summary>An exception saying MPI is unavailable, with a default message.</summary>
    public CommunicatorUnavailableException() : base("MPI is not available.") { }
    /// <summary>An exception with <paramref name="message"/>.</summary>
    public CommunicatorUnavailableException(string message) : base(message) { }
    /// <summary>An exception with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public CommunicatorUnavailableException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// The ranks of a data-parallel run do not hold the same data, settings, step or parameters (thrown on every rank
/// alike, before a step, so no rank waits forever for a collective call that another will not make).
/// </summary>
public sealed class RanksDisagreeException : InvalidOperationException
{
    /// <summary>An exception saying the ranks disagree, with a default message.</summary>
    public RanksDisagreeException() : base("The ranks do not agree.") { }
    /// <summary>An exception with <paramref name="message"/>.</summary>
    public RanksDisagreeException(string message) : base(message) { }
    /// <summary>An exception with <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public RanksDisagreeException(string message, Exception? innerException) : base(message, innerException) { }
}
