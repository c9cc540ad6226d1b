using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Training;

/// <summary>A training step allocates nothing on the managed heap once the model is warm: no garbage per step, whatever the layers.</summary>
public class AllocationTests
{
    [Theory]
    [InlineData(nameof(DefaultVae))]
    [InlineData(nameof(IwaeVae))]
    [InlineData(nameof(ConvVae))]
    [InlineData(nameof(ConvBatchNormVae))]
    [InlineData(nameof(DenseVq))]
    public void A_warm_training_step_allocates_nothing(string name)
    {
        // One thread: the caller runs every kernel, so its own allocation counter sees everything the step does.
        using var device = Device.Cpu(1);
        using VaeModel model = name switch
        {
            nameof(ConvBatchNormVae) => new ConvBatchNormVae(device, 2),
            nameof(DenseVq) => new DenseVq(device, 2),
            _ => CpuParityTests.Create(name, device, 2),
        };
        var x = TestData.Inputs(model.Architecture, 8, 3);
        var adam = new Adam(1e-3f);
        for (int i = 0; i < 3; i++) model.TrainStep(x, adam);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) model.TrainStep(x, adam);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{name}: five warm training steps allocated {allocated} bytes");
    }
}
