using Vae.Kernels.Accelerators;
using Vae.Kernels.Cpu;

namespace Vae;

/// <summary>Everything the generator emitted for one architecture: the CPU kernels, the device launch sequence and the device kernels.</summary>
public sealed class ModelKernels
{
    /// <summary>Bundles a model's generated kernels; the generated class passes this to <see cref="VaeModel"/>.</summary>
    /// <param name="cpu">The CPU programs, always present.</param>
    /// <param name="accelerator">The OpenCL/CUDA launch sequence, or null for a CPU-only model.</param>
    /// <param name="deviceSource">The device kernels' C source, or null for a CPU-only model.</param>
    public ModelKernels(ICpuKernels cpu, IAcceleratorKernels? accelerator = null, string? deviceSource = null)
    {
        Cpu = cpu;
        Accelerator = accelerator;
        DeviceSource = deviceSource;
    }

    /// <summary>The generated C# programs the CPU target runs.</summary>
    public ICpuKernels Cpu { get; }

    /// <summary>The launch sequence for the OpenCL and CUDA targets.</summary>
    public IAcceleratorKernels? Accelerator { get; }

    /// <summary>
    /// The model's device kernels in the C shared by OpenCL and CUDA, or null when the generator did not emit them;
    /// <see cref="Devices.DeviceSources"/> puts the dialect prelude and the device library in front.
    /// </summary>
    public string? DeviceSource { get; }
}
