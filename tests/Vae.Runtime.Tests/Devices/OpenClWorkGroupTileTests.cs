using Vae.Devices;
using Vae.Devices.OpenCl;
using Vae.Runtime.Tests.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// The work-group variant of the GEMM kernels (what a GPU runs: operands staged in local memory by work-groups of
/// 256), forced on the OpenCL device at hand (PoCL's CPU device in CI, which by its kind gets the register tiles), so
/// the GPU kernels are run for real against the oracle on every architecture. Without an OpenCL driver each test says
/// so and returns, unless VAE_REQUIRE_OPENCL=1.
/// </summary>
public sealed class OpenClWorkGroupTileTests(OpenClWorkGroupTileTests.SharedDevice shared, ITestOutputHelper output)
    : IClassFixture<OpenClWorkGroupTileTests.SharedDevice>
{
    /// <summary>One device for the class, so each architecture's program is compiled once for its three batches.</summary>
    public sealed class SharedDevice : IDisposable
    {
        private readonly Lazy<(OpenClDevice? Device, string? Reason)> _device = new(() =>
        {
            try { return (OpenClDevice.Create(0, 0, workGroupTiles: true), null); }
            catch (DeviceUnavailableException e) { return (null, e.Message); }
        });

        internal (OpenClDevice? Device, string? Reason) Get() => _device.Value;

        public void Dispose()
        {
            if (_device.IsValueCreated) _device.Value.Device?.Dispose();
        }
    }

    private OpenClDevice? OpenOrSkip()
    {
        var (device, reason) = shared.Get();
        if (device is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + reason);
            output.WriteLine("Skipped: " + reason);
        }
        return device;
    }

    [Theory]
    [MemberData(nameof(CpuParityTests.Cases), MemberType = typeof(CpuParityTests))]
    public void Loss_and_every_gradient_tensor_match_the_oracle_with_work_group_tiles(string name, int batch)
    {
        var device = OpenOrSkip();
        if (device is null) return;
        Assert.True(device.WorkGroupTiles);
        Assert.EndsWith(", work-group tiles)", device.Name);
        OpenClModelTests.AssertMatchesOracle(device, name, batch);
    }

    private static OpenClDeviceInfo Info(OpenClDeviceType type, long maxWorkGroup = 1024) =>
        new(0, "Test Platform", 0, "Test Device", type, 8, 1L << 30, 1L << 28, maxWorkGroup, DoublePrecision: true);

    [Fact]
    public void A_gpu_gets_work_group_tiles_and_anything_else_register_tiles()
    {
        Assert.True(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Gpu), null));
        Assert.False(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Cpu), null));
        Assert.False(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Accelerator), ""));
        // A GPU whose work-groups cannot hold 256 work items keeps the register tiles.
        Assert.False(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Gpu, maxWorkGroup: 128), null));
    }

    [Fact]
    public void The_environment_setting_overrides_the_choice_and_a_bad_one_is_named()
    {
        Assert.True(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Cpu), "workgroup"));
        Assert.False(OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Gpu), " Register "));
        var tooSmall = Assert.Throws<ArgumentException>(() => OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Gpu, maxWorkGroup: 64), "workgroup"));
        Assert.Contains("at most 64", tooSmall.Message);
        Assert.Contains("Test Device", tooSmall.Message);
        var bad = Assert.Throws<ArgumentException>(() => OpenClDevice.ChooseTiles(Info(OpenClDeviceType.Gpu), "shared"));
        Assert.Contains(OpenClDevice.TilesVariable, bad.Message);
        Assert.Contains("'shared'", bad.Message);
    }

    [Fact]
    public void A_kernel_that_cannot_hold_the_work_group_is_refused_by_name_with_the_remedy()
    {
        var info = Info(OpenClDeviceType.Gpu);
        Assert.Null(OpenClBackend.RefusalFor("encoder_0_forward", 256, 256, info));
        var reason = OpenClBackend.RefusalFor("encoder_0_forward", 192, 256, info);
        Assert.NotNull(reason);
        Assert.Contains("'encoder_0_forward'", reason);
        Assert.Contains("at most 192", reason);
        Assert.Contains("Test Device", reason);
        Assert.Contains(OpenClDevice.TilesVariable + "=register", reason);
    }

    [Fact]
    public void The_device_reports_each_work_group_kernel_s_own_limit()
    {
        var device = OpenOrSkip();
        if (device is null) return;
        using var program = device.Context.Build(DeviceSources.OpenCl(Models.DeepVae.DeviceSource), "-cl-std=CL1.2 -DVAE_WORK_GROUP_TILES=1");
        foreach (var name in new[] { "encoder_0_forward", "decoder_out_weight_grad", "decoder_out_input_grad" })
        {
            using var kernel = program.CreateKernel(name);
            long limit = kernel.MaxWorkGroupSize;
            output.WriteLine($"{name}: at most {limit} work items per work-group");
            Assert.InRange(limit, 1, device.Context.Device.MaxWorkGroupSize);
            Assert.True(limit >= 256, $"{name} holds only {limit} work items per work-group here");
        }
    }
}
