namespace Vae.Kernels.Accelerators;

/// <summary>Ids of the buffers every model has on an accelerator; a model's workspace buffers follow from <see cref="FirstWorkspace"/>.</summary>
public static class AcceleratorBuffers
{
    public const int Parameters = 0;
    public const int Gradients = 1;
    /// <summary>Input examples [examples, Input].</summary>
    public const int X = 2;
    /// <summary>Noise [examples, L, Latent].</summary>
    public const int Eps = 3;
    /// <summary>Encoder means [examples, Latent].</summary>
    public const int Mu = 4;
    /// <summary>Encoder log variances [examples, Latent].</summary>
    public const int LogVar = 5;
    /// <summary>Decoder means [rows, Input].</summary>
    public const int Mean = 6;
    /// <summary>The first of the model's own workspace buffers, in the order of <see cref="IAcceleratorKernels.Workspace"/>.</summary>
    public const int FirstWorkspace = 8;
}

/// <summary>One argument of a kernel launch: a buffer id, an int or a float.</summary>
public readonly struct KernelArgument
{
    private KernelArgument(KernelArgumentKind kind, int integer, float real)
    {
        Kind = kind;
        Integer = integer;
        Real = real;
    }

    public KernelArgumentKind Kind { get; }

    /// <summary>The buffer id or the int value.</summary>
    public int Integer { get; }

    public float Real { get; }

    public static KernelArgument Buffer(int id) => new(KernelArgumentKind.Buffer, id, 0);
    public static KernelArgument Int(int value) => new(KernelArgumentKind.Int, value, 0);
    public static KernelArgument Float(float value) => new(KernelArgumentKind.Float, 0, value);
}

public enum KernelArgumentKind
{
    Buffer,
    Int,
    Float,
}

/// <summary>What a device back-end offers the generated launch code: named kernels over numbered buffers.</summary>
public interface IAcceleratorQueue
{
    /// <summary>Runs <paramref name="kernel"/> over <paramref name="workItems"/> work items (every kernel guards its own range).</summary>
    void Launch(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments);
}

/// <summary>A workspace buffer of the model: Width floats per example, or per (example, sample) row when PerSample.</summary>
public sealed record WorkspaceBuffer(string Name, int Width, bool PerSample);

/// <summary>
/// The launch sequence the generator emits for one architecture, shared by the OpenCL and CUDA targets (their
/// kernel sources have the same names and arguments). Losses are combined on the host from the per-row values.
/// </summary>
public interface IAcceleratorKernels
{
    /// <summary>The model's workspace buffers, ids <see cref="AcceleratorBuffers.FirstWorkspace"/> onwards.</summary>
    WorkspaceBuffer[] Workspace { get; }

    /// <summary>Buffer id of -log p(x|z) per row [examples * L].</summary>
    int RowNllBuffer { get; }

    /// <summary>Buffer id of KL per example [examples].</summary>
    int KlBuffer { get; }

    /// <summary>Buffer id of z [examples * L, Latent], the decoder's input (written by the host for Decode).</summary>
    int LatentBuffer { get; }

    /// <summary>Fills <see cref="AcceleratorBuffers.Eps"/> with Philox normals keyed by (seed, step, example, sample, latent index).</summary>
    void DrawNoise(IAcceleratorQueue queue, ulong seed, uint step, int examples);

    /// <summary>Forward pass to the per-row likelihood and per-example KL; with the gradient of the likelihood when training.</summary>
    void Forward(IAcceleratorQueue queue, int examples, bool withGradient);

    /// <summary>Backward pass after <see cref="Forward"/> with gradient: writes every gradient tensor.</summary>
    void Backward(IAcceleratorQueue queue, int examples, float beta);

    void Encode(IAcceleratorQueue queue, int examples);

    /// <summary>Decodes the rows of the latent buffer into <see cref="AcceleratorBuffers.Mean"/>.</summary>
    void Decode(IAcceleratorQueue queue, int rows);

    /// <summary>-log p(x|z) of the latent buffer's rows against X, <paramref name="samples"/> rows per example.</summary>
    void DecoderNegativeLogLikelihood(IAcceleratorQueue queue, int examples, int samples);
}
