namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = log(1 + exp(a)) = max(a, 0) + log(1 + exp(-|a|)), which never overflows; dy/da = sigmoid(a).</summary>
    internal sealed class SoftplusActivation : ActivationFunction
    {
        public static readonly SoftplusActivation Instance = new SoftplusActivation();
        private SoftplusActivation() { }
        public override string Name => "Softplus";
        public override string DeviceForward => "VAE_FMAX(a, 0.0f) + VAE_LOG(1.0f + VAE_EXP(-VAE_FABS(a)))";
        public override string DeviceDerivative => "vae_logistic(a)";
    }
}
