using System;
using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Planning;
using static Vae.Generator.Emitting.Literals;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// Emits {Model}.Cpu.g.cs: the nested class of CPU kernels. Its constants, workspace layout and one method per
    /// program come straight from the plan; each step becomes the runtime primitive call the op wrote.
    /// </summary>
    internal static class CpuEmitter
    {
        private const string C = "global::Vae.Kernels.Cpu";

        private static EntryPoint For(ModelPlan plan, ProgramKind kind)
        {
            string F = C + ".Floats";
            string I = C + ".Ints";
            var common = new Dictionary<string, string> { ["threads"] = "threads", ["packed"] = "packed", ["gradScale"] = "0f", ["beta"] = "beta" };
            // A VQ-VAE's quantised rows (examples times positions); only its steps name it.
            if (plan.Model.Quantizer is not null) common["quantizedRows"] = "examples * CodePositions";
            switch (kind)
            {
                case ProgramKind.DrawNoise:
                    return new EntryPoint($"public void DrawNoise(ulong seed, uint step, int firstExample, int examples, {F} eps)", new string[0],
                        new[] { "eps" }, new Dictionary<string, string> { ["seed"] = "seed", ["step"] = "step", ["firstExample"] = "firstExample" });
                case ProgramKind.Train:
                    return new EntryPoint(
                        $"public double ForwardBackward({C}.CpuThreads threads, {F} parameters, {F} gradients, {F} x, {F} labels, {F} eps, int examples, float beta, float freeBits, {F} workspace, {F} packed, ulong seed, uint step, {C}.IGradientProgress? progress)",
                        new[] { "var w = new Workspace(workspace, examples);", "int rows = examples * Samples;" },
                        new[] { "x", "labels", "eps" },
                        new Dictionary<string, string>(common)
                        {
                            ["gradScale"] = plan.TrainGradientScale, ["klWeight"] = "beta / examples", ["freeBits"] = "freeBits", ["exampleLoss"] = F + ".Null",
                            ["seed"] = "seed", ["step"] = "step",
                        });
                case ProgramKind.Evaluate:
                    return new EntryPoint(
                        $"public double Loss({C}.CpuThreads threads, {F} parameters, {F} x, {F} labels, {F} eps, int examples, float beta, {F} workspace, {F} packed, {F} exampleLoss)",
                        new[] { "var w = new Workspace(workspace, examples);", "int rows = examples * Samples;" },
                        new[] { "x", "labels", "eps" },
                        new Dictionary<string, string>(common) { ["exampleLoss"] = "exampleLoss" });
                case ProgramKind.Encode:
                    return new EntryPoint(
                        $"public void Encode({C}.CpuThreads threads, {F} parameters, {F} x, {F} labels, int examples, {F} workspace, {F} packed, {F} mu, {F} logVar)",
                        new[] { "var w = new Workspace(workspace, examples);" },
                        new[] { "x", "labels", "mu", "logVar" }, common);
                case ProgramKind.Decode:
                    return new EntryPoint(
                        $"public void Decode({C}.CpuThreads threads, {F} parameters, {F} z, {F} labels, int rows, {F} workspace, {F} packed, {F} mean)",
                        new[] { "var w = new Workspace(workspace, rows);" },
                        new[] { "z", "labels", "mean" }, common, samples: "1"); // each decoded row has its own label
                case ProgramKind.DecoderNegativeLogLikelihood:
                    return new EntryPoint(
                        $"public void DecoderNegativeLogLikelihood({C}.CpuThreads threads, {F} parameters, {F} z, {F} x, {F} labels, int examples, int samples, {F} workspace, {F} packed, {F} rowNll)",
                        new[] { "int rows = examples * samples;", "var w = new Workspace(workspace, (rows + Samples - 1) / Samples);" },
                        new[] { "z", "x", "labels", "rowNll" }, common, samples: "samples");
                case ProgramKind.EncodeCodes:
                    return new EntryPoint(
                        $"public void EncodeCodes({C}.CpuThreads threads, {F} parameters, {F} x, int examples, {F} workspace, {F} packed, {I} codes)",
                        new[] { "var w = new Workspace(workspace, examples);" },
                        new[] { "x", "codes" }, common);
                case ProgramKind.DecodeCodes:
                    return new EntryPoint(
                        $"public void DecodeCodes({C}.CpuThreads threads, {F} parameters, {I} codes, int examples, {F} workspace, {F} packed, {F} mean)",
                        new[] { "var w = new Workspace(workspace, examples);", "int rows = examples;" },
                        new[] { "codes", "mean" }, common);
                default:
                    throw new InvalidOperationException("No CPU entry point for program " + kind + ".");
            }
        }

        private static readonly Dictionary<ProgramKind, string> Summaries = new Dictionary<ProgramKind, string>
        {
            [ProgramKind.DrawNoise] = "The latent's noise for a batch whose first example has index firstExample in the global batch.",
            [ProgramKind.Train] = "Forward pass, loss and backward pass for one batch; returns the mean loss.",
            [ProgramKind.Evaluate] = "Forward pass and loss only; each example's loss goes to exampleLoss unless it is null.",
            [ProgramKind.Encode] = "The encoder and the latent's parameters: mu and logvar, [examples, Latent] each.",
            [ProgramKind.Decode] = "The decoder from given latent rows to the mean of p(x|z), [rows, Input].",
            [ProgramKind.DecoderNegativeLogLikelihood] = "-log p(x|z) for given latent rows, samples adjacent rows per example of x.",
            [ProgramKind.EncodeCodes] = "The encoder and the quantiser: each example's code indices, [examples, CodePositions].",
            [ProgramKind.DecodeCodes] = "The decoder from code indices [examples, CodePositions] to its mean, [examples, Input].",
        };

        public static string Emit(ModelPlan plan) => PartialClassFile(plan.Model, "The CPU kernels", w =>
        {
            using (w.Block("partial class " + plan.Model.ClassName))
            {
                w.Line("/// <summary>The CPU kernels of this architecture: the runtime's fused primitives called with its sizes.</summary>");
                using (w.Block($"private sealed class GeneratedCpuKernels : {C}.ICpuKernels"))
                {
                    w.Line("public static readonly GeneratedCpuKernels Instance = new GeneratedCpuKernels();");
                    w.Line();
                    w.Line("// Sizes and offsets in the flat parameter buffer (the gradient buffer has the same layout).");
                    foreach (var c in plan.Constants) w.Line(c.CSharpDeclaration);
                    w.Line();
                    w.Line("/// <summary>Scratch for the transposed weights of the largest layer.</summary>");
                    w.Line($"public long PackedFloats => {plan.PackedFloatsExpression};");
                    w.Line();
                    w.Line("public long WorkspaceFloats(int examples) => Workspace.Size(examples);");
                    w.Line();
                    var noise = plan.Buffers.FirstOrDefault(b => b.Name == Planning.Ops.GaussianLatentOp.NoiseBuffer);
                    w.Line(noise is null
                        ? "public long NoiseFloats(int examples) => 0; // the model draws no noise"
                        : $"public long NoiseFloats(int examples) => {CountOutside(noise)};");
                    w.Line();
                    EmitWorkspace(w, plan);
                    foreach (var program in plan.Programs)
                    {
                        w.Line();
                        EmitProgram(w, plan, program);
                    }
                }
            }
        });

        private static IEnumerable<BufferPlan> Workspace(ModelPlan plan) => plan.Buffers.Where(b => b.Kind == BufferKind.Workspace);

        private static string RowsOf(RowSpace rows) => rows switch
        {
            RowSpace.Examples => "examples",
            RowSpace.Samples => "rows",
            RowSpace.Single => "1",
            _ => throw new InvalidOperationException("Unknown row space " + rows + "."),
        };

        /// <summary>Floats of one buffer for the batch, as a long so large batches of wide layers cannot overflow.</summary>
        private static string Count(BufferPlan b) => b.Rows switch
        {
            RowSpace.Examples => $"(long)examples * {b.WidthName}",
            RowSpace.Samples => $"rows * {b.WidthName}",
            _ => $"(long){b.WidthName}",
        };

        /// <summary>The same outside the workspace, where only the example count is in scope.</summary>
        private static string CountOutside(BufferPlan b) =>
            b.Rows == RowSpace.Examples ? $"(long)examples * {b.WidthName}" : $"(long)examples * Samples * {b.WidthName}";

        private static void EmitWorkspace(SourceWriter w, ModelPlan plan)
        {
            w.Line("/// <summary>Activation buffers for a batch: [examples, width] or [examples * samples, width] each.</summary>");
            using (w.Block("private readonly struct Workspace"))
            {
                foreach (var b in Workspace(plan))
                    w.Line($"public readonly {C}.{(b.Integer ? "Ints" : "Floats")} {b.Name}; // {b.Comment}: [{RowsOf(b.Rows)}, {b.WidthName}]{(b.Integer ? ", ints" : "")}");
                w.Line();
                using (w.Block($"public Workspace({C}.Floats start, int examples)"))
                {
                    w.Line("long rows = (long)examples * Samples;");
                    w.Line("var next = start;");
                    // Integer buffers take four bytes an element, as floats do: they are laid out in the same memory.
                    foreach (var b in Workspace(plan)) w.Line($"{b.Name} = {(b.Integer ? C + ".Ints.In(next)" : "next")}; next += {Count(b)};");
                }
                w.Line();
                using (w.Block("public static long Size(int examples)"))
                {
                    w.Line("long rows = (long)examples * Samples;");
                    w.Line("return " + string.Join(" + ", Workspace(plan).Select(Count)) + ";");
                }
            }
        }

        private static void EmitProgram(SourceWriter w, ModelPlan plan, ProgramPlan program)
        {
            var p = For(plan, program.Kind);
            w.Line($"/// <summary>{Summaries[program.Kind]}</summary>");
            using (w.Block(p.Signature))
            {
                foreach (var line in p.Prelude) w.Line(line);
                for (int i = 0; i < program.Steps.Count; i++)
                {
                    var step = program.Steps[i];
                    if (i == program.BackwardFrom)
                    {
                        w.Line();
                        w.Line("// Backward: the forward pass in reverse.");
                    }
                    w.Line("// " + step.Comment);
                    w.Line(Render(step.Cpu, plan, p) + ";");
                    if (program.Kind == ProgramKind.Train && i >= program.BackwardFrom && FinalFrom(step.Cpu, plan) is { } offset)
                        w.Line($"progress?.GradientsFinalFrom({offset});");
                }
                var loss = program.Kind == ProgramKind.Train ? plan.TrainLoss : program.Kind == ProgramKind.Evaluate ? plan.EvaluateLoss : null;
                if (loss is not null) w.Line("return " + Render(new CpuCall(loss.Method, loss.Args), plan, p) + ";");
            }
        }

        /// <summary>
        /// The lowest gradient offset a backward step writes, as the name of its constant, or null when it writes none.
        /// Tensors lie in forward order and the backward pass visits the ops in reverse, so once a step is done every
        /// gradient from that offset to the end is final: the point where a data-parallel run may start reducing it.
        /// </summary>
        private static string? FinalFrom(CpuCall call, ModelPlan plan)
        {
            var offsets = call.Args.Where(a => a.Kind == ArgKind.Gradients)
                .Select(a => (a.Name, Value: int.Parse(plan.Constants.Single(c => c.Name == a.Name).CValue, System.Globalization.CultureInfo.InvariantCulture)))
                .ToList();
            return offsets.Count == 0 ? null : offsets.OrderBy(o => o.Value).First().Name;
        }

        private static string Render(CpuCall call, ModelPlan plan, EntryPoint p) =>
            call.Method + "(" + string.Join(", ", call.Args.Select(a => Render(a, plan, p))) + ")";

        private static string Render(Arg arg, ModelPlan plan, EntryPoint p)
        {
            switch (arg.Kind)
            {
                case ArgKind.Buffer:
                    // A surface buffer is the method's argument of the same name; everything else lives in the workspace.
                    string parameter = char.ToLowerInvariant(arg.Name[0]) + arg.Name.Substring(1);
                    if (p.Parameters.Contains(parameter)) return parameter;
                    if (Workspace(plan).Any(b => b.Name == arg.Name)) return "w." + arg.Name;
                    throw new InvalidOperationException($"Buffer {arg.Name} is neither in the workspace nor an argument of the entry point.");
                case ArgKind.Parameters: return "parameters + " + arg.Name;
                case ArgKind.Gradients: return "gradients + " + arg.Name;
                case ArgKind.Constant: return arg.Name;
                case ArgKind.Rows: return RowsOf((RowSpace)Enum.Parse(typeof(RowSpace), arg.Name));
                case ArgKind.Samples: return p.Samples;
                case ArgKind.Value:
                    return p.Values.TryGetValue(arg.Name, out var value) ? value
                        : throw new InvalidOperationException($"The CPU entry point has no value {arg.Name}.");
                case ArgKind.None: return C + ".Floats.Null";
                case ArgKind.Call: return Render(arg.Call!, plan, p);
                default: throw new InvalidOperationException("Unknown argument kind " + arg.Kind + ".");
            }
        }
    }
}
