using System.Numerics;
using Vae.Distributed;

namespace Vae;

/// <summary>
/// <see cref="ICommunicator"/> over MPI's world communicator (Open MPI, loaded on first use): the processes
/// <c>mpirun -np N</c> starts, on one machine or many.
/// </summary>
/// <remarks>
/// <para>Sums go in buckets of <see cref="BucketSize"/> values, one <c>MPI_Allreduce</c> each, in place. In
/// <see cref="Deterministic"/> mode each bucket is gathered to rank 0, summed there in rank order and broadcast, so the
/// result depends on nothing but the ranks' values: slower (rank 0's link carries N buckets), reproducible.</para>
/// <para>Calls must come from one thread at a time (MPI_THREAD_SERIALIZED). Dispose the communicator when done: it calls
/// <c>MPI_Finalize</c> if it initialised MPI, and a rank that exits without it makes mpirun report the job failed.</para>
/// <para>MPI's default error handler is fatal: a rank that dies makes mpirun end the whole job, naming that rank.</para>
/// </remarks>
public sealed unsafe class MpiCommunicator : ICommunicator, IDisposable
{
    /// <summary>
    /// Values per all-reduce call: 1 MiB of floats. Small enough that the default dense model's 2.6 MB gradient goes
    /// out in three buckets, the first while the encoder's backward pass is still running (as DDP's small first bucket).
    /// </summary>
    public const int DefaultBucketSize = 1 << 18;

    private readonly MpiNative.Api _mpi;
    private readonly bool _ownsInit;
    private float[] _gatherF = [];
    private double[] _gatherD = [];
    private int _disposed;

    private MpiCommunicator(MpiNative.Api mpi, bool ownsInit, bool deterministic, int bucketSize)
    {
        _mpi = mpi;
        _ownsInit = ownsInit;
        Deterministic = deterministic;
        BucketSize = bucketSize;
        int rank, size;
        MpiNative.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        MpiNative.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        int level;
        MpiNative.Check(mpi.QueryThread(&level), "MPI_Query_thread");
        CallsFromAnyThread = level >= MpiNative.MPI_THREAD_SERIALIZED;
    }

    /// <summary>
    /// Loads Open MPI, initialises it unless the program already did, and returns the world communicator.
    /// </summary>
    /// <param name="deterministic">Sum in a fixed rank order (see <see cref="Deterministic"/>).</param>
    /// <param name="bucketSize">Values per all-reduce call, &gt;= 1.</param>
    /// <exception cref="CommunicatorUnavailableException">Open MPI is not installed (the message names the packages).</exception>
    public static MpiCommunicator Start(bool deterministic = false, int bucketSize = DefaultBucketSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketSize, 1);
        var mpi = MpiNative.Load();
        int initialized, finalized;
        MpiNative.Check(mpi.Initialized(&initialized), "MPI_Initialized");
        MpiNative.Check(mpi.Finalized(&finalized), "MPI_Finalized");
        if (finalized != 0) throw new InvalidOperationException("MPI has already been finalised in this process; it cannot be started again.");
        bool owns = false;
        if (initialized == 0)
        {
            int provided;
            MpiNative.Check(mpi.InitThread(null, null, MpiNative.MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
            owns = true;
        }
        return new MpiCommunicator(mpi, owns, deterministic, bucketSize);
    }

    /// <summary>True when this process was started by Open MPI's mpirun (or another launcher that sets its variables).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null;

    /// <inheritdoc/>
    public int Rank { get; }
    /// <inheritdoc/>
    public int Size { get; }
    /// <inheritdoc/>
    public bool Deterministic { get; }

    /// <summary>Values per all-reduce call.</summary>
    public int BucketSize { get; }

    /// <summary>
    /// Whether MPI runs at MPI_THREAD_SERIALIZED or above (as <see cref="Start"/> asks), so calls may come from a thread
    /// other than the one that started it, one at a time. A CPU training step then all-reduces gradient buckets on a
    /// thread of their own while the backward pass is still running; otherwise it reduces after the backward pass.
    /// </summary>
    public bool CallsFromAnyThread { get; }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values) => AllReduceSum(values, ref _gatherF, _mpi.Float);

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => AllReduceSum(values, ref _gatherD, _mpi.Double);

    /// <summary>Sums in buckets: MPI's own all-reduce, or in deterministic mode the ordered sum.</summary>
    private void AllReduceSum<T>(Span<T> values, ref T[] gather, nint datatype) where T : unmanaged, IAdditionOperators<T, T, T>
    {
        ThrowIfDisposed();
        if (Size == 1) return;
        int bucket = Bucket();
        for (int start = 0; start < values.Length; start += bucket)
        {
            var part = values.Slice(start, Math.Min(bucket, values.Length - start));
            if (Deterministic) OrderedSum(part, ref gather, datatype);
            else fixed (T* p = part)
                MpiNative.Check(_mpi.Allreduce((void*)MpiNative.MPI_IN_PLACE, p, part.Length, datatype, _mpi.Sum, _mpi.CommWorld), "MPI_Allreduce");
        }
    }

    /// <inheritdoc/>
    public void Broadcast(Span<float> values, int root = 0)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        int bucket = Bucket();
        for (int start = 0; start < values.Length; start += bucket)
        {
            var part = values.Slice(start, Math.Min(bucket, values.Length - start));
            fixed (float* p = part) MpiNative.Check(_mpi.Bcast(p, part.Length, _mpi.Float, root, _mpi.CommWorld), "MPI_Bcast");
        }
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfDisposed();
        MpiNative.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");
    }

    /// <summary>
    /// Ends every process of the job with <paramref name="exitCode"/> (MPI_Abort): what a rank that cannot go on does,
    /// so the others do not wait for it forever. Does not return.
    /// </summary>
    public void Abort(int exitCode)
    {
        _mpi.Abort(_mpi.CommWorld, exitCode);
        Environment.Exit(exitCode);   // MPI_Abort does not return; this is for an implementation whose does
    }

    /// <summary>Calls MPI_Finalize if <see cref="Start"/> initialised MPI. Every rank must call it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (_ownsInit) MpiNative.Check(_mpi.Finalize(), "MPI_Finalize");
    }

    // A bucket's values from every rank fit in one int count at rank 0.
    private int Bucket() => Math.Max(1, Math.Min(BucketSize, int.MaxValue / Size));

    /// <summary>Rank 0 gathers every rank's values and adds them rank by rank, then broadcasts: the same order every run.</summary>
    private void OrderedSum<T>(Span<T> part, ref T[] gather, nint datatype) where T : unmanaged, IAdditionOperators<T, T, T>
    {
        if (Rank == 0 && gather.Length < part.Length * Size) gather = new T[part.Length * Size];
        fixed (T* p = part)
        fixed (T* all = gather)
        {
            MpiNative.Check(_mpi.Gather(p, part.Length, datatype, all, part.Length, datatype, 0, _mpi.CommWorld), "MPI_Gather");
            if (Rank == 0)
                for (int i = 0; i < part.Length; i++)
                {
                    T s = all[i];
                    for (int r = 1; r < Size; r++) s += all[r * part.Length + i];
                    p[i] = s;
                }
            MpiNative.Check(_mpi.Bcast(p, part.Length, datatype, 0, _mpi.CommWorld), "MPI_Bcast");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
