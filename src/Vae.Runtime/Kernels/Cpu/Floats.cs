namespace Vae.Kernels.Cpu;

/// <summary>
/// The address of pinned or native float memory, passed between the generated kernels and the runtime's CPU
/// primitives. It lets the generated code do pointer arithmetic (<c>parameters + Offset</c>) without an
/// <c>unsafe</c> context, so a consumer's project needs no AllowUnsafeBlocks.
/// </summary>
public readonly unsafe struct Floats : IEquatable<Floats>
{
    private readonly float* _address;

    public Floats(float* address) => _address = address;

    /// <summary>The null address: "no buffer" for optional outputs.</summary>
    public static Floats Null => default;

    public bool IsNull => _address == null;

    /// <summary>The element at <paramref name="index"/>; no bounds check, like the pointer it stands for.</summary>
    public ref float this[long index] => ref _address[index];

    public static Floats operator +(Floats start, long offset) => new(start._address + offset);

    public static implicit operator float*(Floats f) => f._address;

    public bool Equals(Floats other) => _address == other._address;
    public override bool Equals(object? obj) => obj is Floats f && Equals(f);
    public override int GetHashCode() => ((nint)_address).GetHashCode();
    public static bool operator ==(Floats a, Floats b) => a.Equals(b);
    public static bool operator !=(Floats a, Floats b) => !a.Equals(b);
}
