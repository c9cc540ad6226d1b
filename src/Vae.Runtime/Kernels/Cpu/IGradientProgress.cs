namespace Vae.Kernels.Cpu;

/// <summary>
/// Told by a generated CPU backward pass how far its gradients are final. Tensors lie in the flat buffer in forward
/// order and the backward pass visits the layers in reverse, so after each layer every gradient from that layer's
/// first offset to the end of the buffer will not change again: a data-parallel run starts all-reducing those buckets
/// while the rest of the backward pass runs.
/// </summary>
public interface IGradientProgress
{
    /// <summary>Gradients at <paramref name="offset"/> and above are final; offsets only decrease within one pass, ending at 0 or above.</summary>
    void GradientsFinalFrom(int offset);
}
