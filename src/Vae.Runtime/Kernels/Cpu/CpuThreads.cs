using System.Runtime.ExceptionServices;

namespace Vae.Kernels.Cpu;

/// <summary>
/// A fixed team of worker threads for the CPU kernels. <see cref="For"/> hands out indices of a job to the team and
/// the calling thread, and returns when every index has run. It allocates nothing per call: the job is a function
/// pointer and a pointer to the caller's state, which lives on the caller's stack for the duration of the call.
/// </summary>
public sealed unsafe class CpuThreads : IDisposable
{
    private readonly Thread[] _workers;
    private readonly SemaphoreSlim _wake = new(0);
    private delegate*<void*, int, void> _body;
    private void* _state;
    private int _count;
    private int _next;
    private int _running;
    private long _generation;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _failure;

    /// <param name="threads">Threads to use including the caller; 0 means one per processor.</param>
    public CpuThreads(int threads = 0)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Thread count must be >= 0 (0 means one per processor).");
        Count = threads == 0 ? Environment.ProcessorCount : threads;
        _workers = new Thread[Count - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"Vae CPU worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads that take part in a job, the caller included.</summary>
    public int Count { get; }

    /// <summary>Runs <paramref name="body"/>(state, i) for i in [0, count) on the team and waits for all of them.</summary>
    public void For(int count, delegate*<void*, int, void> body, void* state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        if (count == 1 || _workers.Length == 0)
        {
            for (int i = 0; i < count; i++) body(state, i);
            return;
        }

        _body = body;
        _state = state;
        _count = count;
        _failure = null;
        Volatile.Write(ref _next, 0);
        int helpers = Math.Min(_workers.Length, count - 1);
        Volatile.Write(ref _running, helpers);
        Interlocked.Increment(ref _generation);
        _wake.Release(helpers);

        Drain();
        var spin = new SpinWait();
        while (Volatile.Read(ref _running) != 0) spin.SpinOnce(sleep1Threshold: -1);
        _failure?.Throw();
    }

    private void Drain()
    {
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < _count)
        {
            try { _body(_state, i); }
            catch (Exception e) { _failure ??= ExceptionDispatchInfo.Capture(e); }
        }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _wake.Wait();
            if (_disposed) return;
            Drain();
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_workers.Length > 0) _wake.Release(_workers.Length);
        foreach (var worker in _workers) worker.Join();
        _wake.Dispose();
    }
}
