using System;
using System.Linq;

namespace Vae.Generator.Planning.Activations
{
    /// <summary>
    /// One element-wise non-linearity of the catalogue: the name the Activation enum gives it, the runtime's CPU
    /// operator struct that the generated C# passes as a type argument, and its device forms in the C shared by
    /// OpenCL and CUDA. Teaching the generator an activation is one class here plus its line in <see cref="All"/>.
    /// Instances are singletons, so specs holding them compare by reference and stay cached.
    /// </summary>
    internal abstract class ActivationFunction
    {
        /// <summary>The member name in Vae.Activation, e.g. "Relu".</summary>
        public abstract string Name { get; }

        /// <summary>The device expression of y = f(a), in the variable <c>a</c>.</summary>
        public abstract string DeviceForward { get; }

        /// <summary>The device expression of dy/da, from <c>a</c> and the output <c>y</c> (whichever is cheaper).</summary>
        public abstract string DeviceDerivative { get; }

        /// <summary>Whether the activation is the identity, which needs no separate pre-activation buffer nor a derivative pass.</summary>
        public virtual bool IsIdentity => false;

        /// <summary>The runtime's operator struct, Vae.Kernels.Cpu.{Name}Activation.</summary>
        public string CpuType => "global::Vae.Kernels.Cpu." + Name + "Activation";

        /// <summary>The device function's name; prefixed, since OpenCL already declares tanh and friends.</summary>
        public string DeviceFunction => "vae_" + Name.ToLowerInvariant();

        public override string ToString() => Name;

        /// <summary>The catalogue, in the order of the enum.</summary>
        public static readonly ActivationFunction[] All =
        {
            IdentityActivation.Instance,
            ReluActivation.Instance,
            LeakyReluActivation.Instance,
            EluActivation.Instance,
            TanhActivation.Instance,
            SigmoidActivation.Instance,
            SoftplusActivation.Instance,
            GeluActivation.Instance,
            SiluActivation.Instance,
        };

        /// <summary>The activation of that enum member name, or null when the catalogue has none.</summary>
        public static ActivationFunction? Find(string name) => All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));
    }
}
