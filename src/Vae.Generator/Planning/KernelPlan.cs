using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>How many rows a buffer has: one per example, or one per (example, noise sample) pair.</summary>
    internal enum RowSpace
    {
        Examples,
        DecoderRows,
    }

    /// <summary>A parameter tensor: PyTorch name and shape, offset in the flat buffer.</summary>
    internal sealed record TensorPlan(string Name, EquatableArray<int> Shape, int Offset, int Length);

    /// <summary>An activation buffer in the workspace: Width floats per row.</summary>
    /// <param name="WidthName">The width as a constant expression of the generated code (e.g. "Encoder0Out"), or empty for a literal.</param>
    internal sealed record BufferPlan(string Name, int Width, RowSpace Rows, string Comment, string WidthName = "");

    /// <summary>
    /// A fully connected layer fused with its bias and activation. The encoder's two heads are one such layer of
    /// width 2 * Latent (their weights are stacked in the flat buffer); so are the decoder's mean and log-variance heads.
    /// </summary>
    internal sealed record LinearPlan(
        string Name,
        string ConstantPrefix,
        int In,
        int Out,
        string Activation,
        int WeightOffset,
        int BiasOffset,
        string Input,
        string Pre,
        string Output,
        RowSpace Rows);

    internal enum OpKind
    {
        /// <summary>GEMM + bias + activation.</summary>
        Linear,
        /// <summary>z = mu + exp(logvar / 2) eps for every sample, and the per-example KL.</summary>
        Reparameterize,
        /// <summary>Negative log-likelihood of x under the decoder output, fused with its gradient when training.</summary>
        Likelihood,
        /// <summary>The activation's derivative, dW, db and (unless first) dx of a linear layer.</summary>
        LinearBackward,
        /// <summary>d(mu, logvar) from dz and the KL term.</summary>
        ReparameterizeBackward,
    }

    /// <summary>
    /// One step of the forward or backward pass. <see cref="Layer"/> indexes <see cref="KernelPlan.Layers"/> for
    /// linear ops; <see cref="GradientIn"/>/<see cref="GradientOut"/> name the workspace buffers a backward op reads
    /// and writes (empty when it writes no input gradient).
    /// </summary>
    internal sealed record Op(OpKind Kind, int Layer, string GradientIn, string GradientOut);

    /// <summary>
    /// The target-free plan of one model: the flat parameter layout (gradients and optimiser state share it), the
    /// workspace buffers, and the forward and backward op lists that every emitter walks.
    /// </summary>
    internal sealed record KernelPlan(
        ModelSpec Model,
        EquatableArray<TensorPlan> Tensors,
        int ParameterCount,
        EquatableArray<BufferPlan> Buffers,
        EquatableArray<LinearPlan> Layers,
        int EncoderLayerCount,
        EquatableArray<Op> Forward,
        EquatableArray<Op> Backward,
        int OutputWidth,
        int MaxWidth,
        int PackedFloats);
}
