using Vae.Kernels.Accelerators;
using Vae.Kernels.Cpu;

namespace Vae;

/// <summary>Everything the generator emitted for one architecture: the CPU kernels and the accelerator sources.</summary>
public sealed class ModelKernels
{
    public ModelKernels(ICpuKernels cpu, IAcceleratorKernels? accelerator = null, string? openClSource = null, string? cudaSource = null)
    {
        Cpu = cpu;
        Accelerator = accelerator;
        OpenClSource = openClSource;
        CudaSource = cudaSource;
    }

    public ICpuKernels Cpu { get; }

    /// <summary>The launch sequence for the OpenCL and CUDA targets.</summary>
    public IAcceleratorKernels? Accelerator { get; }

    /// <summary>OpenCL C source of the same kernels, or null when the generator did not emit it.</summary>
    public string? OpenClSource { get; }

    /// <summary>CUDA C source of the same kernels, or null when the generator did not emit it.</summary>
    public string? CudaSource { get; }
}
