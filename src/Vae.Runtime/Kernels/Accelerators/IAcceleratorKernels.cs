using Vae.Kernels.Cpu;

namespace Vae.Kernels.Accelerators;

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
    /// <summary>Work items of a work-group when <see cref="WorkGroupTiles"/> is set: the generated work-group variants are written for exactly this many.</summary>
    const int WorkGroupSize = 256;

    /// <summary>Runs <paramref name="kernel"/> over <paramref name="workItems"/> work items (every kernel guards its own range).</summary>
    void Launch(string kernel, long workItems, ReadOnlySpan<KernelArgument> arguments);

    /// <summary>
    /// Whether the program was compiled with the work-group variant of the GEMM kernels (on a GPU): their launches
    /// then cover whole work-groups, and every launch runs in work-groups of <see cref="WorkGroupSize"/> work items.
    /// </summary>
    bool WorkGroupTiles { get; }

    /// <summary>Copies the first <paramref name="floats"/> values of a buffer to host memory the queue owns, valid until the next download of that buffer.</summary>
    Floats Download(int buffer, long floats);
}

/// <summary>How many floats a device buffer holds: Width in all, or Width per example, or per (example, sample) row.</summary>
public enum AcceleratorRows
{
    Fixed,
    Examples,
    Samples,
}

/// <summary>One buffer of a model on a device, as the plan declared it.</summary>
public sealed record AcceleratorBuffer(string Name, int Width, AcceleratorRows Rows);

/// <summary>
/// The launch sequence the generator emits for one architecture, shared by the OpenCL and CUDA targets. The buffer
/// table, the surface buffers and every program come from the model's plan; the back-end knows no layer by name.
/// </summary>
public interface IAcceleratorKernels
{
    /// <summary>Every buffer the model needs on a device; a buffer's id is its index.</summary>
    AcceleratorBuffer[] Buffers { get; }

    /// <summary>The flat parameters; the optimiser's state buffers share its layout.</summary>
    int ParametersBuffer { get; }
    int GradientsBuffer { get; }

    /// <summary>Input examples [examples, Input].</summary>
    int InputBuffer { get; }

    /// <summary>Noise eps [examples, L, Latent].</summary>
    int NoiseBuffer { get; }

    /// <summary>Encoder means and log variances [examples, Latent] each, written by <see cref="Encode"/>.</summary>
    int MuBuffer { get; }
    int LogVarBuffer { get; }

    /// <summary>z [rows, Latent], the decoder's input (written by the host for Decode).</summary>
    int LatentBuffer { get; }

    /// <summary>The decoder mean [rows, Input], written by <see cref="Decode"/>.</summary>
    int MeanBuffer { get; }

    /// <summary>-log p(x|z) per row [examples * samples], written by <see cref="DecoderNegativeLogLikelihood"/>.</summary>
    int RowNllBuffer { get; }

    /// <summary>Each example's class label as a float [examples], for a conditional model; -1 when the model has none.</summary>
    int LabelsBuffer { get; }

    /// <summary>A VQ-VAE's code indices [examples, positions] as ints; -1 when the model has none.</summary>
    int CodesBuffer { get; }

    /// <summary>Fills the noise buffer with Philox normals keyed by (seed, step, firstExample + example, sample, latent index).</summary>
    /// <remarks>A model without noise (a VQ-VAE, whose <see cref="NoiseBuffer"/> is -1) does not implement it.</remarks>
    void DrawNoise(IAcceleratorQueue queue, ulong seed, uint step, int firstExample, int examples) =>
        throw new NotSupportedException("This model draws no noise.");

    /// <summary>
    /// Forward pass, loss and backward pass: writes every gradient and returns the mean loss. <paramref name="seed"/> and
    /// <paramref name="step"/> key a VQ-VAE's codebook initialisation and dead-code restarts, which this call also performs.
    /// </summary>
    double Train(IAcceleratorQueue queue, int examples, float beta, float freeBits, ulong seed, uint step);

    /// <summary>Forward pass and loss; each example's loss goes to <paramref name="exampleLoss"/> unless it is null.</summary>
    double Evaluate(IAcceleratorQueue queue, int examples, float beta, Floats exampleLoss);

    /// <summary>Writes mu and logvar; not implemented by a VQ-VAE (see <see cref="EncodeCodes"/>).</summary>
    void Encode(IAcceleratorQueue queue, int examples) => throw new NotSupportedException("This model has no Gaussian latent.");

    /// <summary>A VQ-VAE's encoder and quantiser: the code indices of the input buffer's examples into <see cref="CodesBuffer"/>.</summary>
    void EncodeCodes(IAcceleratorQueue queue, int examples) => throw new NotSupportedException("This model has no vector-quantised latent.");

    /// <summary>A VQ-VAE's decoder from the codes in <see cref="CodesBuffer"/> to the mean buffer.</summary>
    void DecodeCodes(IAcceleratorQueue queue, int examples) => throw new NotSupportedException("This model has no vector-quantised latent.");

    /// <summary>Decodes the rows of the latent buffer into the mean buffer.</summary>
    void Decode(IAcceleratorQueue queue, int rows);

    /// <summary>-log p(x|z) of the latent buffer's rows against the input, <paramref name="samples"/> rows per example.</summary>
    void DecoderNegativeLogLikelihood(IAcceleratorQueue queue, int examples, int samples) =>
        throw new NotSupportedException("This model has no Gaussian latent.");
}
