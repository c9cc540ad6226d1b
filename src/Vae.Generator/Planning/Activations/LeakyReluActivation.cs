namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = a for a &gt; 0, else 0.01 a (PyTorch's default slope).</summary>
    internal sealed class LeakyReluActivation : ActivationFunction
    {
        public static readonly LeakyReluActivation Instance = new LeakyReluActivation();
        private LeakyReluActivation() { }
        public override string Name => "LeakyRelu";
        public override string DeviceForward => "a > 0.0f ? a : 0.01f * a";
        public override string DeviceDerivative => "a > 0.0f ? 1.0f : 0.01f";
    }
}
