using System;
using System.Linq;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning
{
    /// <summary>How many rows a buffer has: one per example, one per (example, noise sample) pair, or one for the batch.</summary>
    internal enum RowSpace
    {
        Examples,
        Samples,
        /// <summary>One row whatever the batch (e.g. a value per latent dimension).</summary>
        Single,
    }

    /// <summary>What a tensor of the flat layout is for. The optimiser updates Parameter tensors and nothing else.</summary>
    internal enum TensorRole
    {
        Parameter,
        /// <summary>
        /// Kept by the model but not trained (BatchNorm's running statistics and batch counter): no gradient, no optimiser
        /// state; its float tensors follow every parameter in the flat buffer, its integers live on the host.
        /// </summary>
        State,
    }

    /// <summary>How a tensor starts: PyTorch's kaiming-uniform from its fan-in, or a constant (BatchNorm's ones and zeros).</summary>
    internal enum TensorInit
    {
        Uniform,
        Zeros,
        Ones,
    }

    /// <summary>
    /// A named tensor of the flat layout: PyTorch name and shape, role, offset, and the fan-in its initialisation uses.
    /// An <paramref name="Int64"/> tensor (num_batches_tracked) is not in the float buffer: its offset counts the model's integers.
    /// </summary>
    internal sealed record TensorPlan(string Name, EquatableArray<int> Shape, TensorRole Role, int Offset, int Length, int FanIn,
        TensorInit Init = TensorInit.Uniform, bool Int64 = false);

    /// <summary>Who owns a buffer: the workspace (the plan's own activations and scratch) or the caller of an entry point.</summary>
    internal enum BufferKind
    {
        /// <summary>Laid out by the generated workspace on the CPU; allocated per model on a device.</summary>
        Workspace,
        /// <summary>Data crossing the model's surface (x, eps, mu, logvar, the decoder mean): an argument on the CPU.</summary>
        Surface,
    }

    /// <summary>A buffer of Width floats per row; <see cref="WidthName"/> is the width as a named constant of the generated code.</summary>
    /// <remarks>An <paramref name="Integer"/> buffer holds ints (code indices, code counts), four bytes each like the floats it is laid out among.</remarks>
    internal sealed record BufferPlan(string Name, int Width, string WidthName, RowSpace Rows, BufferKind Kind, string Comment, bool Integer = false);

    /// <summary>
    /// A size or setting the kernels use, emitted as a C# constant (<see cref="Expression"/>, which may name other
    /// constants) and as a C macro (<see cref="CValue"/>, a literal) from this one record.
    /// </summary>
    internal sealed record ConstantPlan(string Name, string Macro, string CSharpType, string Expression, string CValue, string Comment)
    {
        public static ConstantPlan Int(string name, string macro, int value, string expression, string comment) =>
            new ConstantPlan(name, macro, "int", expression, value.ToString(System.Globalization.CultureInfo.InvariantCulture), comment);

        /// <summary>The C# declaration both generated kernel classes open with.</summary>
        public string CSharpDeclaration => $"private const {CSharpType} {Name} = {Expression};" + (Comment.Length > 0 ? " // " + Comment : "");

        /// <summary>The C macro the device source opens with.</summary>
        public string CDefinition => $"#define {Macro} {CValue}" + (Comment.Length > 0 ? $" /* {Comment} */" : "");
    }

    /// <summary>What an argument of a call refers to; each emitter binds these to its own expressions.</summary>
    internal enum ArgKind
    {
        /// <summary>A buffer of the plan, by name.</summary>
        Buffer,
        /// <summary>The flat parameters at the offset named by a constant (state tensors follow the parameters in the same buffer).</summary>
        Parameters,
        /// <summary>The flat gradients at the offset named by a constant.</summary>
        Gradients,
        /// <summary>A constant of the plan, by name.</summary>
        Constant,
        /// <summary>The row count of a row space in the program at hand (examples or examples * samples).</summary>
        Rows,
        /// <summary>The noise samples per example in the program at hand.</summary>
        Samples,
        /// <summary>An int or float value that the program supplies by name: beta, with_gradient, gradient scale.</summary>
        Value,
        /// <summary>No buffer (a null pointer on the CPU).</summary>
        None,
        /// <summary>The value of a nested CPU call (e.g. the likelihood a fused output layer evaluates).</summary>
        Call,
    }

    /// <summary>One argument: its kind, and the name of the buffer, constant, row space or value it stands for.</summary>
    internal sealed record Arg(ArgKind Kind, string Name, CpuCall? Call = null)
    {
        public static Arg Nested(CpuCall call) => new Arg(ArgKind.Call, call.Method, call);
        public static Arg Buffer(string name) => new Arg(ArgKind.Buffer, name);
        public static Arg Parameters(string offset) => new Arg(ArgKind.Parameters, offset);
        public static Arg Gradients(string offset) => new Arg(ArgKind.Gradients, offset);
        public static Arg Constant(string name) => new Arg(ArgKind.Constant, name);
        public static Arg Rows(RowSpace rows) => new Arg(ArgKind.Rows, rows.ToString());
        public static Arg Samples() => new Arg(ArgKind.Samples, "");
        public static Arg Value(string name) => new Arg(ArgKind.Value, name);
        public static Arg None() => new Arg(ArgKind.None, "");
    }

    /// <summary>How a device kernel parameter is passed.</summary>
    internal enum ParameterKind
    {
        /// <summary>A float buffer the kernel only reads.</summary>
        Input,
        /// <summary>A float buffer the kernel writes (and may read).</summary>
        Output,
        Int,
        /// <summary>A 32-bit unsigned int (Philox keys and counters).</summary>
        Unsigned,
        Float,
        /// <summary>An int buffer (a VQ-VAE's code indices and counts), four bytes an element like the float buffers.</summary>
        Ints,
    }

    internal sealed record KernelParameter(string Name, ParameterKind Kind);

    /// <summary>
    /// A device kernel: signature and body in the C that OpenCL and CUDA share. Every kernel takes the number of work
    /// items first and the body runs with <c>gid</c> in range. The source and every launch are written from this one
    /// record, so the two cannot disagree about names or arguments.
    /// </summary>
    /// <param name="Body">The kernel's statements, or null for a kernel of the runtime's device library (declared here so its launches are checked too).</param>
    internal sealed record DeviceKernel(string Name, string Comment, EquatableArray<KernelParameter> Parameters, string? Body);

    /// <summary>
    /// A launch of <see cref="Kernel"/> over (rows of <see cref="Rows"/>, or 1) times <see cref="WorkItems"/> work items,
    /// a C# expression of the plan's constants, with one argument per kernel parameter.
    /// </summary>
    /// <remarks>On a device the parameters and gradients are whole buffers and a kernel adds its tensor's offset macro itself.</remarks>
    /// <param name="RowBlock">Rows per work item: the launch covers ceil(rows / RowBlock) x <see cref="WorkItems"/> work items.</param>
    /// <param name="WorkGroups">The work items of the kernel's work-group variant, for a kernel that has one (see <see cref="Ops.WorkGroupGemm"/>).</param>
    internal sealed record Launch(DeviceKernel Kernel, RowSpace? Rows, string WorkItems, EquatableArray<Arg> Args, int RowBlock = 1,
        WorkGroupLaunch? WorkGroups = null)
    {
        /// <summary>Throws unless the arguments fit the kernel's parameters one for one; the generator turns that into VAE999.</summary>
        public Launch Checked()
        {
            if (Args.Count != Kernel.Parameters.Count)
                throw new InvalidOperationException($"Launch of {Kernel.Name} passes {Args.Count} arguments for {Kernel.Parameters.Count} parameters.");
            for (int i = 0; i < Args.Count; i++)
            {
                bool buffer = Args[i].Kind == ArgKind.Buffer || Args[i].Kind == ArgKind.Parameters || Args[i].Kind == ArgKind.Gradients;
                bool wantsBuffer = Kernel.Parameters[i].Kind == ParameterKind.Input || Kernel.Parameters[i].Kind == ParameterKind.Output
                                   || Kernel.Parameters[i].Kind == ParameterKind.Ints;
                if (buffer != wantsBuffer)
                    throw new InvalidOperationException($"Launch of {Kernel.Name}: argument {i} ({Args[i].Kind} {Args[i].Name}) does not fit parameter {Kernel.Parameters[i].Name}.");
            }
            return this;
        }
    }

    /// <summary>
    /// The work items of a work-group variant's launch, whole work-groups only: ceil(rows / <see cref="RowBlock"/>) x
    /// <see cref="Items"/> (a C# expression of the plan's constants), or <see cref="Items"/> alone when RowBlock is 0.
    /// </summary>
    internal sealed record WorkGroupLaunch(int RowBlock, string Items);

    /// <summary>A call of one of the runtime's fused CPU primitives, written as method name and arguments.</summary>
    internal sealed record CpuCall(string Method, EquatableArray<Arg> Args);

    /// <summary>One step of a program: the CPU call and the device launches that do the same work, under one comment.</summary>
    /// <remarks>A step without launches does its work on the CPU only (the device did it in an earlier step's kernel).</remarks>
    internal sealed record Step(string Comment, CpuCall Cpu, EquatableArray<Launch> Device);

    /// <summary>
    /// The entry points of a model with a Gaussian latent: each is a list of steps. The CPU and device emitters turn
    /// each into a method with the same name.
    /// </summary>
    internal enum ProgramKind
    {
        /// <summary>The latent's noise for a batch, keyed by (seed, step, global example index).</summary>
        DrawNoise,
        /// <summary>Forward with the likelihood's gradient, then the backward pass.</summary>
        Train,
        /// <summary>Forward pass to the per-row terms of the loss.</summary>
        Evaluate,
        /// <summary>The encoder and the latent's parameters (mu, logvar).</summary>
        Encode,
        /// <summary>The decoder from given latent rows to the mean of p(x|z).</summary>
        Decode,
        /// <summary>-log p(x|z) for given latent rows, several per example.</summary>
        DecoderNegativeLogLikelihood,
        /// <summary>A VQ-VAE's encoder and quantiser to code indices.</summary>
        EncodeCodes,
        /// <summary>A VQ-VAE's decoder from code indices to the decoder's mean.</summary>
        DecodeCodes,
    }

    /// <param name="BackwardFrom">The index of the first backward step (the step count when the program has none).</param>
    internal sealed record ProgramPlan(ProgramKind Kind, EquatableArray<Step> Steps, int BackwardFrom);

    /// <summary>How the objective turns per-row terms into the loss: a runtime method and its arguments (buffers read on the host).</summary>
    internal sealed record LossPlan(string Method, EquatableArray<Arg> Args);

    /// <summary>
    /// The target-free plan of one model: the flat layout (every tensor's shape, role and offset, computed once), the
    /// buffers, the named sizes, and the programs every emitter renders. Emitters add no knowledge of layers.
    /// </summary>
    internal sealed record ModelPlan(
        ModelSpec Model,
        EquatableArray<TensorPlan> Tensors,
        int ParameterCount,
        int StateCount,
        EquatableArray<ConstantPlan> Constants,
        EquatableArray<BufferPlan> Buffers,
        EquatableArray<ProgramPlan> Programs,
        LossPlan TrainLoss,
        LossPlan EvaluateLoss,
        string TrainGradientScale,
        string Summary,
        string PackedFloatsExpression)
    {
        public ProgramPlan Program(ProgramKind kind) => Programs.First(p => p.Kind == kind);

        /// <summary>Every device kernel the programs launch, once each, in order of first launch.</summary>
        public DeviceKernel[] DeviceKernels()
        {
            var kernels = Programs.SelectMany(p => p.Steps).SelectMany(s => s.Device).Select(l => l.Kernel).Where(k => k.Body is not null)
                .GroupBy(k => k.Name, StringComparer.Ordinal).ToArray();
            foreach (var g in kernels)
                if (g.Distinct().Count() > 1) throw new InvalidOperationException($"Two different kernels are named {g.Key}.");
            return kernels.Select(g => g.First()).ToArray();
        }
    }
}
