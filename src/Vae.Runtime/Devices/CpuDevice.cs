using Vae.Kernels.Cpu;

namespace Vae.Devices;

/// <summary>The CPU target: generated C# kernels run by one team of threads shared by the device's models.</summary>
internal sealed class CpuDevice : Device
{
    /// <summary>The examples one call takes: <see cref="CpuBackend.MaxExamples"/> (a test holds the two equal).</summary>
    public const int MaxExamplesPerCall = 4096;

    public CpuDevice(int threads) => Threads = new CpuThreads(threads);

    public CpuThreads Threads { get; }

    public override string Name => $"CPU ({Threads.Count} thread{(Threads.Count == 1 ? "" : "s")})";

    public override string Kind => "cpu";

    public override int MaxBatchSize => MaxExamplesPerCall;

    internal override IModelBackend CreateBackend(ModelDescriptor descriptor, ModelKernels kernels) =>
        new CpuBackend(this, descriptor, kernels.Cpu);

    private protected override void ReleaseResources() => Threads.Dispose();
}
