using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Xunit;

namespace Vae.Runtime.Tests.Models;

/// <summary>
/// An assembly's string literals share one user-string heap of at most 16 MB (error CS8103 beyond it). This test
/// assembly declares dozens of models; their kernel sources are emitted as UTF-8 literals, which live in the
/// assembly's data instead, so the heap holds only ordinary strings however many models an assembly declares.
/// </summary>
public sealed class UserStringHeapTests
{
    [Fact]
    public void Generated_kernel_sources_stay_out_of_the_user_string_heap()
    {
        using var stream = File.OpenRead(typeof(UserStringHeapTests).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        int heap = metadata.GetHeapSize(HeapIndex.UserString);
        // About 90 KB here; the kernel sources as ordinary literals took 12.5 MB, 75% of the limit.
        Assert.True(heap < 1 << 20, $"the user-string heap holds {heap:N0} bytes");
        // The models' kernels are still there, decoded at run time.
        Assert.Contains("VAE_KERNEL void", DeepVae.DeviceSource);
    }
}
