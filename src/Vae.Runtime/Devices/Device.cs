using Vae.Devices;
using Vae.Devices.Cuda;
using Vae.Devices.OpenCl;

namespace Vae;

/// <summary>Where a model's kernels run. Dispose it after the models that use it.</summary>
public abstract class Device : IDisposable
{
    /// <summary>The generated C# kernels on this machine's cores.</summary>
    /// <param name="threads">Threads to use; 0 means one per processor.</param>
    public static Device Cpu(int threads = 0) => new CpuDevice(threads);

    /// <summary>
    /// An OpenCL device (PoCL runs one on a plain CPU). Throws <see cref="DeviceUnavailableException"/> naming what to
    /// install when no OpenCL driver or device is present.
    /// </summary>
    /// <param name="platformIndex">Index of the platform, in the order OpenCL lists them.</param>
    /// <param name="deviceIndex">Index of the device within that platform.</param>
    public static Device OpenCl(int platformIndex = 0, int deviceIndex = 0) => OpenClDevice.Create(platformIndex, deviceIndex);

    /// <summary>An OpenCL device whose platform or device name contains <paramref name="nameContains"/>.</summary>
    public static Device OpenCl(string nameContains) => OpenClDevice.Create(nameContains);

    /// <summary>
    /// A CUDA device through the driver API, compiling the generated CUDA C with NVRTC. Throws
    /// <see cref="DeviceUnavailableException"/> naming what to install when the driver or NVRTC is missing.
    /// </summary>
    public static Device Cuda(int ordinal = 0) => CudaDevice.Create(ordinal);

    /// <summary>The fastest target present: CUDA, then OpenCL on a GPU, then the CPU.</summary>
    public static Device Best(int cpuThreads = 0) => DeviceSelection.Best(cpuThreads);

    /// <summary>A device by name: cpu, opencl, cuda or auto (as the sample app's --device takes it).</summary>
    public static Device FromName(string name, int cpuThreads = 0) => name.ToLowerInvariant() switch
    {
        "cpu" => Cpu(cpuThreads),
        "opencl" => OpenCl(),
        "cuda" => Cuda(),
        "auto" => Best(cpuThreads),
        _ => throw new ArgumentException($"Unknown device '{name}': use cpu, opencl, cuda or auto.", nameof(name)),
    };

    /// <summary>A short description, e.g. "CPU (2 threads)".</summary>
    public abstract string Name { get; }

    /// <summary>The kind of target: cpu, opencl or cuda.</summary>
    public abstract string Kind { get; }

    internal abstract IModelBackend CreateBackend(ModelDescriptor descriptor, ModelKernels kernels);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    public override string ToString() => Name;
}
