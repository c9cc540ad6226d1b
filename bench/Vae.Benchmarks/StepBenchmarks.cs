using BenchmarkDotNet.Attributes;

namespace Vae.Benchmarks;

/// <summary>A whole training step (forward, backward, Adam) and inference on the default model, batch 128.</summary>
[MemoryDiagnoser]
public class StepBenchmarks : IDisposable
{
    private Device _device = null!;
    private BenchVae _model = null!;
    private Adam _adam = null!;
    private float[] _x = [], _mu = [], _logVar = [], _mean = [];

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Cpu(2);
        _model = new BenchVae(_device, 1);
        _adam = new Adam(1e-3f);
        var random = new Random(1);
        _x = Enumerable.Range(0, 128 * 784).Select(_ => (float)random.NextDouble()).ToArray();
        _mu = new float[128 * 20];
        _logVar = new float[128 * 20];
        _mean = new float[128 * 784];
    }

    [Benchmark]
    public double TrainStep() => _model.TrainStep(_x, _adam);

    [Benchmark]
    public void Encode() => _model.Encode(_x, _mu, _logVar);

    [Benchmark]
    public void Decode() => _model.Decode(_mu, _mean);

    [GlobalCleanup]
    public void Dispose()
    {
        _model.Dispose();
        _device.Dispose();
        GC.SuppressFinalize(this);
    }
}
