namespace Vae.Generator.Planning.Activations
{
    /// <summary>SiLU (swish): y = a sigmoid(a); dy/da = s (1 + a (1 - s)) with s = sigmoid(a), the library's stable logistic.</summary>
    internal sealed class SiluActivation : ActivationFunction
    {
        public static readonly SiluActivation Instance = new SiluActivation();
        private SiluActivation() { }
        public override string Name => "Silu";
        public override string DeviceForward => "a * vae_logistic(a)";
        public override string DeviceDerivative => "vae_logistic(a) * (1.0f + a * (1.0f - vae_logistic(a)))";
    }
}
