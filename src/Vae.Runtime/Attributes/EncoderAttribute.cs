namespace Vae;

/// <summary>One hidden layer of the encoder q(z|x). Repeat the attribute for more layers; source order is layer order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class EncoderAttribute : Attribute
{
    /// <param name="units">Width of the layer, &gt; 0.</param>
    /// <param name="activation">Non-linearity after the affine map.</param>
    public EncoderAttribute(int units, Activation activation = Activation.Relu)
    {
        Units = units;
        Activation = activation;
    }

    /// <summary>Width of the layer.</summary>
    public int Units { get; }

    /// <summary>Non-linearity after the affine map.</summary>
    public Activation Activation { get; }
}
