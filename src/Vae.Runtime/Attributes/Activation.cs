namespace Vae;

/// <summary>Element-wise non-linearity applied after a hidden layer's affine map.</summary>
public enum Activation
{
    /// <summary>y = a.</summary>
    Identity = 0,
    /// <summary>y = max(a, 0).</summary>
    Relu = 1,
    /// <summary>y = a for a &gt; 0, otherwise 0.01 a (PyTorch's default slope).</summary>
    LeakyRelu = 2,
    /// <summary>y = a for a &gt; 0, otherwise exp(a) - 1 (alpha = 1).</summary>
    Elu = 3,
    /// <summary>y = tanh(a).</summary>
    Tanh = 4,
    /// <summary>y = 1 / (1 + exp(-a)).</summary>
    Sigmoid = 5,
    /// <summary>y = log(1 + exp(a)), computed stably.</summary>
    Softplus = 6,
    /// <summary>The tanh form of GELU: 0.5 a (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3))), identical on every target.</summary>
    Gelu = 7,
    /// <summary>SiLU (swish): y = a sigmoid(a), PyTorch's nn.SiLU.</summary>
    Silu = 8,
}
