namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = tanh(a); the derivative 1 - tanh^2 comes from exp(-2|a|), not from y, so the tails stay exact.</summary>
    internal sealed class TanhActivation : ActivationFunction
    {
        public static readonly TanhActivation Instance = new TanhActivation();
        private TanhActivation() { }
        public override string Name => "Tanh";
        public override string DeviceForward => "VAE_TANH(a)";
        public override string DeviceDerivative => "vae_sech2(a)";
    }
}
