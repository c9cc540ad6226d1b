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
    // One signal per worker: with a shared semaphore a worker going back to sleep could take the signal meant for
    // one still asleep (waiters do not own a release), and that worker would sleep through the job.
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private delegate*<void*, int, void> _body;
    private void* _state;
    private int _count;
    private int _next;
    private int _running;
    private long _generation;
    private volatile bool _disposed;

    /// <summary>
    /// How long an idle worker spins for the next job before it sleeps. A training step hands out a job every few
    /// microseconds; waking a sleeping thread costs tens of microseconds, which added up to a tenth of an epoch.
    /// </summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 10_000; // 100 microseconds
    private ExceptionDispatchInfo? _failure;
    private float* _scratch;
    private long _scratchFloats;

    /// <param name="threads">Threads to use including the caller; 0 means one per processor.</param>
    public CpuThreads(int threads = 0)
    {
        if (threads < 0) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Thread count must be >= 0 (0 means one per processor).");
        Count = threads == 0 ? Environment.ProcessorCount : threads;
        _workers = new Thread[Count - 1];
        _wake = new SemaphoreSlim[_workers.Length];
        _sleeping = new int[_workers.Length];
        for (int i = 0; i < _workers.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"Vae CPU worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads that take part in a job, the caller included.</summary>
    public int Count { get; }

    /// <summary>
    /// Scratch memory for one kernel call at a time (an im2col panel, a transposed copy): at least
    /// <paramref name="floats"/> floats, 64-byte aligned, contents undefined. The block only grows, so after the first
    /// training step a kernel asks for what it already has and nothing is allocated; the team owns it because a team
    /// runs one kernel at a time. It is freed by <see cref="Dispose"/>.
    /// </summary>
    public float* Scratch(long floats)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (floats <= _scratchFloats) return _scratch;
        if (_scratch != null) System.Runtime.InteropServices.NativeMemory.AlignedFree(_scratch);
        _scratch = null;
        _scratchFloats = 0;
        _scratch = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        _scratchFloats = floats;
        return _scratch;
    }

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
        // Every worker sees every generation, so every worker checks in (finding nothing to do when count is small).
        Volatile.Write(ref _running, _workers.Length);
        Interlocked.Increment(ref _generation);
        // Only sleepers need a signal; spinning workers see the new generation by themselves. Both sides publish with
        // an interlocked operation before reading the other's variable, so no worker can sleep through a job.
        for (int w = 0; w < _workers.Length; w++)
            if (Volatile.Read(ref _sleeping[w]) != 0) _wake[w].Release();

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

    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            long generation;
            long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            while ((generation = Volatile.Read(ref _generation)) == seen)
            {
                if (_disposed) return;
                if (System.Diagnostics.Stopwatch.GetTimestamp() < spinUntil)
                {
                    Thread.SpinWait(16);
                    continue;
                }
                Interlocked.Exchange(ref _sleeping[index], 1);
                if (Volatile.Read(ref _generation) == seen && !_disposed) _wake[index].Wait(); // a stale signal only loops once more
                Volatile.Write(ref _sleeping[index], 0);
                spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            }
            if (_disposed) return;
            seen = generation;
            Drain();
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var wake in _wake) wake.Release(); // sleepers wake, see _disposed and leave
        foreach (var worker in _workers) worker.Join();
        foreach (var wake in _wake) wake.Dispose();
        if (_scratch != null) System.Runtime.InteropServices.NativeMemory.AlignedFree(_scratch);
        _scratch = null;
        _scratchFloats = 0;
    }
}
