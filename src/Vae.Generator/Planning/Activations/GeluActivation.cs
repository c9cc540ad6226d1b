namespace Vae.Generator.Planning.Activations
{
    /// <summary>
    /// GELU in its tanh form (identical on every target): y = a (1 + tanh u) / 2 with u = sqrt(2/pi) (a + 0.044715 a^3).
    /// Both (1 + tanh u) / 2 and 1 - tanh^2 u come from exp(-2|u|) (the device library's vae_half_one_plus_tanh and
    /// vae_sech2), so no result depends on tanh reaching exactly +-1 in the tails.
    /// </summary>
    internal sealed class GeluActivation : ActivationFunction
    {
        public static readonly GeluActivation Instance = new GeluActivation();
        private GeluActivation() { }
        public override string Name => "Gelu";
        private const string U = "0.7978845608f * (a + 0.044715f * a * a * a)";
        public override string DeviceForward => "a * vae_half_one_plus_tanh(" + U + ")";
        public override string DeviceDerivative =>
            "vae_half_one_plus_tanh(" + U + ") + 0.5f * a * vae_sech2(" + U + ") * 0.7978845608f * (1.0f + 3.0f * 0.044715f * a * a)";
    }
}
