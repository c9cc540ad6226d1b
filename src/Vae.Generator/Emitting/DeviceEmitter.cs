using System;
using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Planning;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Planning.Ops;
using static Vae.Generator.Emitting.Literals;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// Emits {Model}.Device.g.cs: the model's device kernels in the C that OpenCL and CUDA share (the runtime puts the
    /// dialect's prelude and the device library in front), and the launch sequence of each program. Both are written
    /// from the same <see cref="DeviceKernel"/> records, so a kernel's source and its launches cannot disagree.
    /// </summary>
    internal static class DeviceEmitter
    {
        private const string A = "global::Vae.Kernels.Accelerators";

        public static string Emit(ModelPlan plan) => PartialClassFile(plan.Model, "The OpenCL and CUDA kernels", w =>
        {
            using (w.Block("partial class " + plan.Model.ClassName))
            {
                w.Line("/// <summary>");
                w.Line("/// The device kernels of this model in the C shared by OpenCL and CUDA; the runtime compiles them after its");
                w.Line("/// dialect prelude and device library (Philox noise, optimisers, stable math).");
                w.Line("/// </summary>");
                // A UTF-8 literal lives in the assembly's data, not in its user-string heap, whose 16 MB a few dozen
                // models' kernels in one assembly would otherwise fill (error CS8103). The runtime decodes it (and
                // names System, which a consumer's own type called System would hide here).
                w.Line("public static readonly string DeviceSource = global::Vae.Devices.DeviceSources.FromUtf8(" + Raw(Source(plan)) + "u8);");
                w.Line();
                EmitLauncher(w, plan);
            }
        });

        /// <summary>The C text: sizes as macros, the activations the kernels use, then every kernel once.</summary>
        public static string Source(ModelPlan plan)
        {
            var w = new SourceWriter();
            w.Line($"/* Kernels of {plan.Model.ClassName}: {plan.Summary}. A work item computes one output value, or a register tile of them where its comment says so. */");
            foreach (var c in plan.Constants) w.Line(c.CDefinition);
            w.Line();
            var activations = plan.Model.Encoder.Concat(plan.Model.Decoder).Select(l => l.Activation)
                .Concat(plan.Model.EncoderConvs.Concat(plan.Model.DecoderConvs).Select(c => c.Activation))
                .Concat(new ActivationFunction[] { IdentityActivation.Instance })
                .Distinct().OrderBy(a => a.Name, StringComparer.Ordinal);
            foreach (var a in activations)
            {
                w.Line($"VAE_FN float {a.DeviceFunction}(float a) {{ return {a.DeviceForward}; }}");
                w.Line($"VAE_FN float {a.DeviceFunction}_derivative(float a, float y) {{ (void)a; (void)y; return {a.DeviceDerivative}; }}");
            }
            foreach (var k in plan.DeviceKernels())
            {
                w.Line();
                w.Line($"/* {k.Comment} */");
                w.Line($"VAE_KERNEL void {k.Name}(int n" + string.Concat(k.Parameters.Select(p => ", " + CType(p.Kind) + " " + p.Name)) + ")");
                w.Line("{");
                w.Indent();
                w.Line("vae_i64 gid = VAE_GID;");
                w.Line("if (gid >= n) return;");
                w.Lines(k.Body!);
                w.Outdent();
                w.Line("}");
            }
            return w.ToString();
        }

        private static string CType(ParameterKind kind) => kind switch
        {
            ParameterKind.Input => "VAE_GLOBAL const float*",
            ParameterKind.Output => "VAE_GLOBAL float*",
            ParameterKind.Int => "int",
            ParameterKind.Unsigned => "vae_u32",
            ParameterKind.Float => "float",
            ParameterKind.Ints => "VAE_GLOBAL int*",
            _ => throw new InvalidOperationException("Unknown parameter kind " + kind + "."),
        };

        private static EntryPoint For(ModelPlan plan, ProgramKind kind)
        {
            string Q = A + ".IAcceleratorQueue queue";
            var none = new Dictionary<string, string> { ["gradScale"] = "0f", ["withGradient"] = "0", ["beta"] = "beta" };
            var train = new Dictionary<string, string>(none)
            {
                ["gradScale"] = plan.TrainGradientScale, ["withGradient"] = "1", ["klWeight"] = "beta / examples", ["freeBits"] = "freeBits",
                ["exampleLoss"] = "global::Vae.Kernels.Cpu.Floats.Null", ["seedLow"] = "(uint)seed", ["seedHigh"] = "(uint)(seed >> 32)", ["step"] = "step",
            };
            if (plan.Model.Quantizer is not null)
            {
                // The quantiser's gradient factors, computed on the host exactly as the CPU target computes them.
                train["commitmentScale"] = "global::Vae.Kernels.Cpu.VectorQuantizer.CommitmentScale(Commitment, examples * CodePositions, CodeDimension)";
                train["codebookScale"] = "global::Vae.Kernels.Cpu.VectorQuantizer.CodebookScale(examples * CodePositions, CodeDimension)";
            }
            switch (kind)
            {
                case ProgramKind.DrawNoise:
                    return new EntryPoint($"public void DrawNoise({Q}, ulong seed, uint step, int firstExample, int examples)", new[] { "int rows = examples * Samples;" }, new string[0],
                        new Dictionary<string, string> { ["seedLow"] = "(uint)seed", ["seedHigh"] = "(uint)(seed >> 32)", ["step"] = "step", ["firstExample"] = "firstExample" });
                case ProgramKind.Train:
                    return new EntryPoint($"public double Train({Q}, int examples, float beta, float freeBits, ulong seed, uint step)", new[] { "int rows = examples * Samples;" }, new string[0],
                        train);
                case ProgramKind.Evaluate:
                    return new EntryPoint($"public double Evaluate({Q}, int examples, float beta, global::Vae.Kernels.Cpu.Floats exampleLoss)", new[] { "int rows = examples * Samples;" }, new string[0],
                        new Dictionary<string, string>(none) { ["exampleLoss"] = "exampleLoss" });
                case ProgramKind.Encode:
                    return new EntryPoint($"public void Encode({Q}, int examples)", new string[0], new string[0], none);
                case ProgramKind.Decode:
                    return new EntryPoint($"public void Decode({Q}, int rows)", new string[0], new string[0], none, samples: "1"); // each decoded row has its own label
                case ProgramKind.DecoderNegativeLogLikelihood:
                    return new EntryPoint($"public void DecoderNegativeLogLikelihood({Q}, int examples, int samples)", new[] { "int rows = examples * samples;" }, new string[0],
                        none, samples: "samples");
                case ProgramKind.EncodeCodes:
                    return new EntryPoint($"public void EncodeCodes({Q}, int examples)", new string[0], new string[0], none);
                case ProgramKind.DecodeCodes:
                    return new EntryPoint($"public void DecodeCodes({Q}, int examples)", new[] { "int rows = examples;" }, new string[0], none);
                default:
                    throw new InvalidOperationException("No device entry point for program " + kind + ".");
            }
        }

        /// <summary>Every buffer the device holds, in id order: the flat parameters and gradients, then the plan's buffers.</summary>
        private static IEnumerable<(string Name, string Width, string Rows)> Table(ModelPlan plan) =>
            new[]
            {
                // BatchNorm's running statistics follow the parameters in the same buffer, out of the optimiser's reach.
                (Planner.ParametersBuffer, plan.StateCount > 0 ? "ParameterCount + StateCount" : "ParameterCount", "Fixed"),
                (Planner.GradientsBuffer, "ParameterCount", "Fixed"),
            }.Concat(plan.Buffers.Select(b => (b.Name, b.WidthName, b.Rows == RowSpace.Single ? "Fixed" : b.Rows.ToString())));

        private static void EmitLauncher(SourceWriter w, ModelPlan plan)
        {
            w.Line("/// <summary>The OpenCL and CUDA launch sequence of this architecture, over numbered device buffers.</summary>");
            using (w.Block($"private sealed class GeneratedAcceleratorKernels : {A}.IAcceleratorKernels"))
            {
                w.Line("public static readonly GeneratedAcceleratorKernels Instance = new GeneratedAcceleratorKernels();");
                w.Line();
                w.Line("// Sizes, and offsets in the flat parameter buffer.");
                foreach (var c in plan.Constants) w.Line(c.CSharpDeclaration);
                w.Line();
                w.Line("// Buffer ids: the index in Buffers.");
                var table = Table(plan).ToList();
                for (int i = 0; i < table.Count; i++) w.Line($"private const int {table[i].Name} = {Int(i)};");
                w.Line();
                w.Line($"public {A}.AcceleratorBuffer[] Buffers {{ get; }} = new[]");
                w.Line("{");
                w.Indent();
                foreach (var b in table) w.Line($"new {A}.AcceleratorBuffer(\"{b.Name}\", {b.Width}, {A}.AcceleratorRows.{b.Rows}),");
                w.Outdent();
                w.Line("};");
                w.Line();
                w.Line("// The buffers that cross the model's surface.");
                foreach (var (property, buffer) in new[]
                         {
                             ("ParametersBuffer", Planner.ParametersBuffer), ("GradientsBuffer", Planner.GradientsBuffer),
                             ("InputBuffer", LikelihoodOp.InputBuffer), ("NoiseBuffer", GaussianLatentOp.NoiseBuffer),
                             ("MuBuffer", GaussianLatentOp.MuBuffer), ("LogVarBuffer", GaussianLatentOp.LogVarBuffer),
                             ("LatentBuffer", GaussianLatentOp.LatentBuffer), ("MeanBuffer", LikelihoodOp.MeanBuffer),
                             ("RowNllBuffer", LikelihoodOp.RowNllBuffer), ("LabelsBuffer", LabelInputOp.LabelsBuffer),
                             ("CodesBuffer", VectorQuantizerOp.CodesBuffer),
                         })
                    w.Line(table.Any(b => b.Name == buffer) ? $"public int {property} => {buffer};" : $"public int {property} => -1; // this model has none");
                foreach (var program in plan.Programs)
                {
                    w.Line();
                    EmitProgram(w, plan, program);
                }
                w.Line();
                w.Line($"private static {A}.KernelArgument Buffer(int id) => {A}.KernelArgument.Buffer(id);");
                w.Line($"private static {A}.KernelArgument Int(int value) => {A}.KernelArgument.Int(value);");
                w.Line($"private static {A}.KernelArgument Unsigned(uint value) => {A}.KernelArgument.Int(unchecked((int)value));");
                w.Line($"private static {A}.KernelArgument Float(float value) => {A}.KernelArgument.Float(value);");
            }
        }

        private static void EmitProgram(SourceWriter w, ModelPlan plan, ProgramPlan program)
        {
            var p = For(plan, program.Kind);
            using (w.Block(p.Signature))
            {
                foreach (var line in p.Prelude) w.Line(line);
                for (int i = 0; i < program.Steps.Count; i++)
                {
                    var step = program.Steps[i];
                    if (step.Device.Count == 0) continue;
                    if (i == program.BackwardFrom) w.Line("// Backward: the forward pass in reverse.");
                    w.Line("// " + step.Comment);
                    foreach (var launch in step.Device) w.Line(Render(launch, p) + ";");
                }
                var loss = program.Kind == ProgramKind.Train ? plan.TrainLoss : program.Kind == ProgramKind.Evaluate ? plan.EvaluateLoss : null;
                if (loss is not null)
                {
                    // The per-row terms come back to the host and combine there, in double, as on the CPU.
                    var args = loss.Args.Select(a => a.Kind == ArgKind.Buffer ? Download(plan, a.Name)
                        : a.Kind == ArgKind.None ? "global::Vae.Kernels.Cpu.Floats.Null" : Value(a, p));
                    w.Line($"return {loss.Method}({string.Join(", ", args)});");
                }
            }
        }

        private static string Download(ModelPlan plan, string buffer)
        {
            var b = plan.Buffers.First(x => x.Name == buffer);
            return b.Rows == RowSpace.Single ? $"queue.Download({b.Name}, {b.WidthName})" : $"queue.Download({b.Name}, (long){RowsOf(b.Rows)} * {b.WidthName})";
        }

        private static string RowsOf(RowSpace rows) => rows switch
        {
            RowSpace.Examples => "examples",
            RowSpace.Samples => "rows",
            _ => throw new InvalidOperationException("A launch or download over row space " + rows + " has no row count."),
        };

        private static string Render(Launch launch, EntryPoint p)
        {
            string items = launch.Rows is RowSpace rows ? $"(long){RowsOf(rows)} * {launch.WorkItems}" : $"(long)({launch.WorkItems})";
            if (launch.WorkItems == "1" && launch.Rows is RowSpace only) items = RowsOf(only);
            if (launch.RowBlock > 1 && launch.Rows is RowSpace blocked)
                items = $"(long)(({RowsOf(blocked)} + {Int(launch.RowBlock - 1)}) / {Int(launch.RowBlock)}) * {launch.WorkItems}";
            if (launch.WorkGroups is { } groups)
            {
                // The program holds one variant of the kernel, chosen for the device's kind when it was compiled.
                string whole = groups.RowBlock == 0 ? $"(long)({groups.Items})"
                    : $"(long)(({RowsOf(launch.Rows ?? throw new InvalidOperationException($"{launch.Kernel.Name}: a work-group row block needs a row space."))} + {Int(groups.RowBlock - 1)}) / {Int(groups.RowBlock)}) * {groups.Items}";
                items = $"queue.WorkGroupTiles ? {whole} : {items}";
            }
            var args = launch.Args.Select((a, i) => Argument(a, launch.Kernel.Parameters[i], p));
            return $"queue.Launch(\"{launch.Kernel.Name}\", {items}, [{string.Join(", ", args)}])";
        }

        private static string Argument(Arg arg, KernelParameter parameter, EntryPoint p) => parameter.Kind switch
        {
            ParameterKind.Input or ParameterKind.Output or ParameterKind.Ints => $"Buffer({arg.Name})",
            ParameterKind.Int => $"Int({Value(arg, p)})",
            ParameterKind.Unsigned => $"Unsigned({Value(arg, p)})",
            ParameterKind.Float => $"Float({Value(arg, p)})",
            _ => throw new InvalidOperationException("Unknown parameter kind " + parameter.Kind + "."),
        };

        private static string Value(Arg arg, EntryPoint p) => arg.Kind switch
        {
            ArgKind.Rows => RowsOf((RowSpace)Enum.Parse(typeof(RowSpace), arg.Name)),
            ArgKind.Samples => p.Samples,
            ArgKind.Constant => arg.Name,
            ArgKind.Value => p.Values.TryGetValue(arg.Name, out var v) ? v : throw new InvalidOperationException($"The device entry point has no value {arg.Name}."),
            _ => throw new InvalidOperationException($"Argument {arg.Kind} {arg.Name} is not a value."),
        };
    }
}
