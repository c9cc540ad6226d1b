namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = 1 / (1 + exp(-a)); dy/da = y (1 - y).</summary>
    internal sealed class SigmoidActivation : ActivationFunction
    {
        public static readonly SigmoidActivation Instance = new SigmoidActivation();
        private SigmoidActivation() { }
        public override string Name => "Sigmoid";
        public override string DeviceForward => "vae_logistic(a)";
        public override string DeviceDerivative => "y * (1.0f - y)";
    }
}
