using Vae.Devices.Cuda;
using Vae.Devices.OpenCl;

namespace Vae.Devices;

/// <summary>Picks the fastest target present: CUDA, then OpenCL on a GPU, then the CPU.</summary>
internal static class DeviceSelection
{
    public static Device Best(int cpuThreads)
    {
        if (CudaContext.DeviceCount() > 0 && CudaContext.IsNvrtcAvailable())
        {
            try { return CudaDevice.Create(0); }
            catch (DeviceUnavailableException) { }
        }
        if (OpenClContext.IsAvailable())
        {
            var gpu = OpenClContext.ListDevices().FirstOrDefault(d => d.Type == OpenClDeviceType.Gpu);
            if (gpu is not null)
            {
                try { return OpenClDevice.Create(gpu.PlatformIndex, gpu.DeviceIndex); }
                catch (DeviceUnavailableException) { }
            }
        }
        return Device.Cpu(cpuThreads);
    }
}
