using Vae.Devices;

namespace Vae;

/// <summary>Where a model's kernels run. Dispose it after the models that use it.</summary>
public abstract class Device : IDisposable
{
    /// <summary>The generated C# kernels on this machine's cores.</summary>
    /// <param name="threads">Threads to use; 0 means one per processor.</param>
    public static Device Cpu(int threads = 0) => new CpuDevice(threads);

    /// <summary>A short description, e.g. "CPU (2 threads)".</summary>
    public abstract string Name { get; }

    /// <summary>The kind of target: cpu, opencl or cuda.</summary>
    public abstract string Kind { get; }

    internal abstract IModelBackend CreateBackend(ModelDescriptor descriptor, ModelKernels kernels);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    public override string ToString() => Name;
}
