namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = max(a, 0).</summary>
    internal sealed class ReluActivation : ActivationFunction
    {
        public static readonly ReluActivation Instance = new ReluActivation();
        private ReluActivation() { }
        public override string Name => "Relu";
        public override string DeviceForward => "a > 0.0f ? a : 0.0f";
        public override string DeviceDerivative => "a > 0.0f ? 1.0f : 0.0f";
    }
}
