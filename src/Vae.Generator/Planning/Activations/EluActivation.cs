namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = a for a &gt; 0, else exp(a) - 1; the derivative below zero is y + 1 = exp(a).</summary>
    internal sealed class EluActivation : ActivationFunction
    {
        public static readonly EluActivation Instance = new EluActivation();
        private EluActivation() { }
        public override string Name => "Elu";
        public override string DeviceForward => "a > 0.0f ? a : VAE_EXP(a) - 1.0f";
        public override string DeviceDerivative => "a > 0.0f ? 1.0f : y + 1.0f";
    }
}
