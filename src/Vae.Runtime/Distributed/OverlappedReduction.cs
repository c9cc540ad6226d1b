using Vae.Kernels.Cpu;

namespace Vae.Distributed;

/// <summary>
/// All-reduces a CPU backward pass's gradient in buckets while the pass is still running, as PyTorch's
/// DistributedDataParallel overlaps communication with computation. The generated backward pass reports through
/// <see cref="IGradientProgress"/> how far its gradients are final; a thread of this object's own takes the buckets
/// from the end of the buffer down, each as soon as all of it is final, copies it out of the backend (weighted by this
/// rank's share of the global batch) and all-reduces it, while the compute threads go on with the layers below.
/// </summary>
/// <remarks>
/// The buckets are fixed slices of the buffer ([P - B, P), [P - 2B, P - B), ..., from the communicator's bucket size),
/// so every rank makes the same calls in the same order whatever its timing, and a deterministic communicator's sums
/// stay bit-identical from run to run. Only one thread calls the communicator during a pass (the caller makes no call
/// until <see cref="Finish"/> returns), which MPI_THREAD_SERIALIZED allows.
/// </remarks>
internal sealed class OverlappedReduction : IGradientProgress, IDisposable
{
    private readonly object _gate = new();
    private readonly Thread _worker;
    private ICommunicator? _communicator;
    private Action<int, Span<float>>? _read;
    private float[] _destination = [];
    private float _weight;
    private bool _zeros;
    private int _bucket;
    private int _watermark;      // gradients at and above this offset are final
    private long _pass;          // incremented by each Begin
    private long _finished;      // the last pass the worker completed
    private Exception? _failure;
    private bool _disposed;

    public OverlappedReduction()
    {
        _worker = new Thread(Work) { IsBackground = true, Name = "Vae gradient all-reduce" };
        _worker.Start();
    }

    /// <summary>Buckets completed before the backward pass of the last pass had finished (a measure of the overlap).</summary>
    public int BucketsDuringBackward { get; private set; }

    private bool _backwardDone;

    /// <summary>
    /// Starts a pass over <paramref name="destination"/> (the whole gradient). <paramref name="read"/>(offset, span)
    /// copies final gradients out of the backend; with <paramref name="zeros"/> (a rank with no rows this step) the
    /// buckets are zeros and nothing is read.
    /// </summary>
    public void Begin(ICommunicator communicator, int bucketSize, float[] destination, float weight, bool zeros, Action<int, Span<float>> read)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _communicator = communicator;
            _bucket = Math.Max(1, bucketSize);
            _destination = destination;
            _weight = weight;
            _zeros = zeros;
            _read = read;
            _watermark = zeros ? 0 : destination.Length;
            _failure = null;
            _backwardDone = zeros;
            BucketsDuringBackward = 0;
            _pass++;
            Monitor.PulseAll(_gate);
        }
    }

    /// <inheritdoc/>
    public void GradientsFinalFrom(int offset)
    {
        lock (_gate)
        {
            if (offset < _watermark)
            {
                _watermark = Math.Max(0, offset);
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Marks the whole gradient final, waits for the last bucket and rethrows what the worker met, naming the bucket.</summary>
    public void Finish()
    {
        lock (_gate)
        {
            _backwardDone = true;
            if (_watermark > 0)
            {
                _watermark = 0;
                Monitor.PulseAll(_gate);
            }
            while (_finished != _pass) Monitor.Wait(_gate);
            if (_failure is { } failure) throw new InvalidOperationException("All-reducing the gradient failed: " + failure.Message, failure);
        }
    }

    private void Work()
    {
        long seen = 0;
        while (true)
        {
            lock (_gate)
            {
                while (_pass == seen && !_disposed) Monitor.Wait(_gate);
                if (_disposed) return;
                seen = _pass;
            }
            try
            {
                for (int end = _destination.Length; end > 0;)
                {
                    int start = Math.Max(0, end - _bucket);
                    lock (_gate)
                    {
                        while (_watermark > start && !_disposed) Monitor.Wait(_gate);
                        if (_disposed) return;
                    }
                    var part = _destination.AsSpan(start, end - start);
                    if (_zeros) part.Clear();
                    else
                    {
                        _read!(start, part);
                        if (_weight != 1f) foreach (ref var g in part) g *= _weight;
                    }
                    _communicator!.AllReduceSum(part);
                    lock (_gate) if (!_backwardDone) BucketsDuringBackward++;
                    end = start;
                }
            }
            catch (Exception e)
            {
                lock (_gate) _failure = e;
            }
            lock (_gate)
            {
                _finished = seen;
                Monitor.PulseAll(_gate);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
        _worker.Join();
    }
}
