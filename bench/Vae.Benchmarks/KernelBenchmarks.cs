using BenchmarkDotNet.Attributes;
using Vae.Kernels.Cpu;

namespace Vae.Benchmarks;

/// <summary>
/// The fused CPU primitives on the default model's layer shapes (batch 128): forward GEMM + bias + ReLU, the backward
/// pass of the same layer, the Bernoulli likelihood with its gradient, and Adam over the whole parameter buffer.
/// </summary>
[MemoryDiagnoser]
public unsafe class KernelBenchmarks : IDisposable
{
    private CpuThreads _threads = null!;
    private float* _x, _w, _b, _pre, _out, _packed, _dOut, _dW, _dB, _dX, _m, _v;

    /// <summary>(rows, in, out) of each linear layer of 784-400-20-400-784 with batch 128 (the heads stacked to 40).</summary>
    [Params("128x784x400", "128x400x40", "128x20x400", "128x400x784")]
    public string Shape { get; set; } = "128x784x400";

    [Params(2)]
    public int Threads { get; set; }

    private int Rows => int.Parse(Shape.Split('x')[0]);
    private int In => int.Parse(Shape.Split('x')[1]);
    private int Out => int.Parse(Shape.Split('x')[2]);

    private const int AdamParameters = 652_824;

    [GlobalSetup]
    public void Setup()
    {
        _threads = new CpuThreads(Threads);
        var random = new Random(1);
        float* Alloc(long n, bool fill = true)
        {
            var p = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(n * 4), 64);
            for (long i = 0; i < n; i++) p[i] = fill ? (float)random.NextDouble() - 0.5f : 0f;
            return p;
        }
        int big = Math.Max(AdamParameters, Rows * Math.Max(In, Out));
        _x = Alloc(Rows * In); _w = Alloc((long)Out * In); _b = Alloc(Out);
        _pre = Alloc(Rows * Out); _out = Alloc(Rows * Out); _packed = Alloc((long)In * Out);
        _dOut = Alloc(Rows * Out); _dW = Alloc(big); _dB = Alloc(Out); _dX = Alloc(Rows * In);
        _m = Alloc(big, false); _v = Alloc(big, false);
    }

    [Benchmark]
    public void LinearForwardRelu() =>
        Linear.Forward<ReluActivation>(_threads, Rows, In, Out, new Floats(_x), new Floats(_w), new Floats(_b), new Floats(_pre), new Floats(_out), new Floats(_packed));

    [Benchmark]
    public void LinearBackwardRelu() =>
        Linear.Backward<ReluActivation>(_threads, Rows, In, Out, new Floats(_dOut), new Floats(_pre), new Floats(_out), new Floats(_x), new Floats(_w),
            new Floats(_dW), new Floats(_dB), new Floats(_dX), new Floats(_dOut));

    [Benchmark]
    public void BernoulliWithGradient() =>
        Likelihoods.Bernoulli(_threads, Rows, Out, 1, new Floats(_pre), new Floats(_out), new Floats(_dB), new Floats(_dOut), 1f / Rows);

    [Benchmark]
    public void AdamStep() => Optimizers.Adam(_threads, AdamParameters, _dW, _dW, _m, _v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 10);

    [GlobalCleanup]
    public void Dispose()
    {
        _threads.Dispose();
        foreach (var p in new[] { (nint)_x, (nint)_w, (nint)_b, (nint)_pre, (nint)_out, (nint)_packed, (nint)_dOut, (nint)_dW, (nint)_dB, (nint)_dX, (nint)_m, (nint)_v })
            System.Runtime.InteropServices.NativeMemory.AlignedFree((void*)p);
        GC.SuppressFinalize(this);
    }
}
