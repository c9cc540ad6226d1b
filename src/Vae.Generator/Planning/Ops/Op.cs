using System.Globalization;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>Which half of the model an op belongs to, and so which entry points run it.</summary>
    internal enum Side
    {
        Encoder,
        Decoder,
    }

    /// <summary>The two gradient scratch buffers the backward pass ping-pongs between, and which holds the current gradient.</summary>
    internal sealed class GradientFlow
    {
        public GradientFlow(string current, string other)
        {
            Current = current;
            Other = other;
        }

        public string Current { get; private set; }
        public string Other { get; private set; }

        /// <summary>After an op wrote its input gradient into <see cref="Other"/>, that becomes the current gradient.</summary>
        public void Swap() => (Current, Other) = (Other, Current);
    }

    /// <summary>
    /// One op of the catalogue. An op is a value (equatable, so the plan stays cached) that knows its tensors,
    /// buffers and constants (declared to the <see cref="LayoutBuilder"/> when it is made) and writes its own steps:
    /// the CPU primitive call and the device launches for each entry point, and its backward steps. Emitters only
    /// render what ops return.
    /// </summary>
    internal abstract record Op(Side Side)
    {
        /// <summary>Declares a kernel of the runtime's device library (DeviceCode/library.h): not emitted, but its launches are checked.</summary>
        protected static DeviceKernel LibraryKernel(string name, params KernelParameter[] parameters) =>
            new DeviceKernel(name, "in the device library", new EquatableArray<KernelParameter>(parameters), null);

        /// <summary>Whether the op needs no gradient of its input (it has no parameters and nothing before it does).</summary>
        public virtual bool TakesNoGradient => false;

        /// <summary>The op's steps in <paramref name="program"/>; none when the program does not run it.</summary>
        public abstract IEnumerable<Step> Forward(ProgramKind program);

        /// <summary>
        /// The op's backward steps, reading the gradient of its output from <paramref name="flow"/>.Current and leaving
        /// the gradient of its input there, unless <paramref name="first"/> (the model's input needs no gradient).
        /// </summary>
        public abstract IEnumerable<Step> Backward(GradientFlow flow, bool first);

        protected static Step Step(string comment, CpuCall cpu, params Launch[] device) =>
            new Step(comment, cpu, new EquatableArray<Launch>(device.Select(l => l.Checked()).ToArray()));

        protected static CpuCall Cpu(string method, params Arg[] args) => new CpuCall(method, new EquatableArray<Arg>(args));

        protected static Launch Launch(DeviceKernel kernel, RowSpace? rows, string workItems, params Arg[] args) =>
            new Launch(kernel, rows, workItems, new EquatableArray<Arg>(args));

        protected static DeviceKernel Kernel(string name, string comment, string body, params KernelParameter[] parameters) =>
            new DeviceKernel(name, comment, new EquatableArray<KernelParameter>(parameters), body);

        // Source helpers of the register-tiled device kernels (dense, convolution, quantiser).

        /// <summary>An int as C and C# write it, whatever the build machine's culture.</summary>
        internal static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

        /// <summary>ceil(extent / tile) as a C expression; the extent itself for a tile of 1.</summary>
        internal static string Blocks(string extent, int tile) => tile == 1 ? extent : $"(({extent} + {Int(tile - 1)}) / {Int(tile)})";

        /// <summary>Lines of C, one per index 0 .. count - 1, from a template with {t} for the index.</summary>
        protected static string Each(int count, string template, string separator = "\n") =>
            string.Join(separator, Enumerable.Range(0, count).Select(t => template.Replace("{t}", Int(t))));

        /// <summary>
        /// The launch that turns d (the gradient of a layer's output) into the gradient of its pre-activation in place,
        /// d *= f'(pre, out), one work item per value; the dense, convolution and BatchNorm ops share it.
        /// </summary>
        protected static Launch ActivationDerivative(string kernelName, string comment, ActivationFunction activation, RowSpace rows, string features,
            string d, string pre, string output) =>
            Launch(Kernel(kernelName, comment, $"d[gid] *= {activation.DeviceFunction}_derivative(pre[gid], out[gid]);", Writes("d"), Reads("pre"), Reads("out")),
                rows, features, Arg.Buffer(d), Arg.Buffer(pre), Arg.Buffer(output));

        protected static KernelParameter Reads(string name) => new KernelParameter(name, ParameterKind.Input);
        protected static KernelParameter Writes(string name) => new KernelParameter(name, ParameterKind.Output);
        /// <summary>An int buffer (code indices, code counts) the kernel reads or writes.</summary>
        protected static KernelParameter IntBuffer(string name) => new KernelParameter(name, ParameterKind.Ints);
        protected static KernelParameter IntParameter(string name) => new KernelParameter(name, ParameterKind.Int);
        protected static KernelParameter FloatParameter(string name) => new KernelParameter(name, ParameterKind.Float);
        protected static KernelParameter UnsignedParameter(string name) => new KernelParameter(name, ParameterKind.Unsigned);

        /// <summary>The C macro of a constant name: Encoder0InFeatures gives ENCODER0_IN_FEATURES.</summary>
        public static string Macro(string name) => Regex.Replace(name, "(?<=[a-z0-9])(?=[A-Z])", "_").ToUpperInvariant();

        protected static bool Runs(Side side, ProgramKind program) => side == Side.Encoder
            ? program == ProgramKind.Train || program == ProgramKind.Evaluate || program == ProgramKind.Encode || program == ProgramKind.EncodeCodes
            : program == ProgramKind.Train || program == ProgramKind.Evaluate || program == ProgramKind.Decode
              || program == ProgramKind.DecoderNegativeLogLikelihood || program == ProgramKind.DecodeCodes;

        /// <summary>Steps of a training program after the whole backward pass (a VQ-VAE's codebook maintenance); none by default.</summary>
        public virtual IEnumerable<Step> AfterBackward() => Enumerable.Empty<Step>();
    }
}
