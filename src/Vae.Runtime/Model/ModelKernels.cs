using Vae.Kernels.Accelerators;
using Vae.Kernels.Cpu;

namespace Vae;

/// <summary>Everything the generator emitted for one architecture: the CPU kernels, the device launch sequence and the device kernels.</summary>
public sealed class ModelKernels
{
    public ModelKernels(ICpuKernels cpu, IAcceleratorKernels? accelerator = null, string? deviceSource = null)
    {
        Cpu = cpu;
        Accelerator = accelerator;
        DeviceSource = deviceSource;
    }

    public ICpuKernels Cpu { get; }

    /// <summary>The launch sequence for the OpenCL and CUDA targets.</summary>
    public IAcceleratorKernels? Accelerator { get; }

    /// <summary>
    /// The model's device kernels in the C shared by OpenCL and CUDA, or null when the generator did not emit them;
    /// <see cref="Devices.DeviceSources"/> puts the dialect prelude and the device library in front.
    /// </summary>
    public string? DeviceSource { get; }
}
