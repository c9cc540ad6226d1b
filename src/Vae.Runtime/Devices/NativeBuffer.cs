using System.Runtime.InteropServices;

namespace Vae.Devices;

/// <summary>64-byte aligned, zeroed native floats, outside the GC heap so kernels can hold raw pointers to them.</summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    public NativeBuffer(long length)
    {
        Length = length;
        Pointer = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * sizeof(float), 64);
        NativeMemory.Clear(Pointer, (nuint)Math.Max(1, length) * sizeof(float));
    }

    public float* Pointer { get; private set; }
    public long Length { get; }
    public Span<float> Span => new(Pointer, checked((int)Length));

    public void Dispose()
    {
        if (Pointer == null) return;
        NativeMemory.AlignedFree(Pointer);
        Pointer = null;
    }
}
