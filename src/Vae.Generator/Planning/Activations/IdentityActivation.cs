namespace Vae.Generator.Planning.Activations
{
    /// <summary>y = a.</summary>
    internal sealed class IdentityActivation : ActivationFunction
    {
        public static readonly IdentityActivation Instance = new IdentityActivation();
        private IdentityActivation() { }
        public override string Name => "Identity";
        public override string DeviceForward => "a";
        public override string DeviceDerivative => "1.0f";
        public override bool IsIdentity => true;
    }
}
