using System.Collections.Generic;
using System.Linq;
using Vae.Generator.Planning;
using static Vae.Generator.Emitting.CSharpEmitter;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// Emits the nested CPU kernel class: the parameter offsets and layer sizes as constants, a workspace struct laying
    /// out the activation buffers, and one method per entry point that walks the plan's forward and backward ops.
    /// </summary>
    internal static class CpuKernelEmitter
    {
        private const string C = CpuNamespace;

        /// <summary>How an entry point binds the plan's buffer names to expressions.</summary>
        private sealed class Context
        {
            public string Input = "x";
            public string Latent = "w.Z";
            public string Samples = "Samples";
        }

        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            var m = plan.Model;
            w.Line("/// <summary>The CPU kernels of this architecture: the runtime's fused primitives called with its sizes.</summary>");
            using (w.Block($"private sealed class GeneratedCpuKernels : {C}.ICpuKernels"))
            {
                w.Line("public static readonly GeneratedCpuKernels Instance = new GeneratedCpuKernels();");
                w.Line();
                w.Line("private const int Input = InputSize;");
                w.Line("private const int Latent = LatentSize;");
                w.Line("private const int Samples = LatentSampleCount;");
                w.Line(plan.OutputWidth == m.Input ? "private const int OutputWidth = Input;" : "private const int OutputWidth = 2 * Input; // mean | log variance");
                w.Line($"private const int MaxWidth = {Int(plan.MaxWidth)}; // the widest layer, for the gradient scratch");
                if (m.Likelihood == "Gaussian") w.Line($"private const float Sigma = {Float(m.Sigma)};");
                w.Line();
                w.Line("// Layer widths: inputs and outputs of every fused linear layer.");
                foreach (var layer in plan.Layers)
                {
                    w.Line($"private const int {layer.ConstantPrefix}InFeatures = {Width(plan, layer.In, layer, input: true)};");
                    w.Line($"private const int {layer.ConstantPrefix}OutFeatures = {Width(plan, layer.Out, layer, input: false)};");
                }
                w.Line();
                w.Line("// Offsets in the flat parameter buffer; the gradient buffer has the same layout.");
                foreach (var layer in plan.Layers)
                {
                    w.Line($"private const int {layer.ConstantPrefix}Weight = {Int(layer.WeightOffset)}; // {WeightNames(plan, layer)} [{Int(layer.Out)}, {Int(layer.In)}]");
                    w.Line($"private const int {layer.ConstantPrefix}Bias = {Int(layer.BiasOffset)}; // [{Int(layer.Out)}]");
                }
                w.Line();
                var widest = plan.Layers.OrderByDescending(l => (long)l.In * l.Out).First();
                w.Line($"/// <summary>Scratch for the transposed weights of the largest layer, {widest.Name}.</summary>");
                w.Line($"public long PackedFloats => (long){widest.ConstantPrefix}InFeatures * {widest.ConstantPrefix}OutFeatures;");
                w.Line();
                w.Line("public long WorkspaceFloats(int examples) => Workspace.Size(examples);");
                w.Line();
                EmitWorkspace(w, plan);
                w.Line();
                EmitForwardBackward(w, plan);
                w.Line();
                EmitLoss(w, plan);
                w.Line();
                EmitEncode(w, plan);
                w.Line();
                EmitDecode(w, plan);
                w.Line();
                EmitDecoderNll(w, plan);
            }
        }

        private static string WeightNames(KernelPlan plan, LinearPlan layer)
        {
            if (layer.Name == "encoder.heads") return "encoder.mu.weight | encoder.logvar.weight";
            if (layer.Name == "decoder.out" && plan.Model.Likelihood == "GaussianLearnedVariance") return "decoder.out.weight | decoder.logvar.weight";
            return layer.Name + ".weight";
        }

        private static string RowsOf(RowSpace rows) => rows == RowSpace.Examples ? "examples" : "rows";

        /// <summary>Floats of one buffer for the batch, as a long so large batches of wide layers cannot overflow.</summary>
        private static string Count(BufferPlan b) =>
            b.Rows == RowSpace.Examples ? $"(long)examples * {BufferWidthName(b)}" : $"rows * {BufferWidthName(b)}";

        private static string BufferWidthName(BufferPlan b) => b.WidthName.Length > 0 ? b.WidthName : Int(b.Width);


        /// <summary>A layer width as an expression of the model's constants where one fits.</summary>
        private static string Width(KernelPlan plan, int width, LinearPlan layer, bool input)
        {
            var m = plan.Model;
            if (input && layer.Input == Planner.InputBuffer) return "Input";
            if (input && layer.Input == Planner.LatentBuffer) return "Latent";
            var feeding = plan.Layers.FirstOrDefault(l => l.Output == layer.Input);
            if (input && feeding is not null) return feeding.ConstantPrefix + "OutFeatures";
            if (!input && layer.Name == "encoder.heads") return "2 * Latent";
            if (!input && layer.Name == "decoder.out") return "OutputWidth";
            return Int(width);
        }

        private static void EmitWorkspace(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>Activation buffers for a batch: [examples, width] or [examples * samples, width] each.</summary>");
            using (w.Block("private readonly struct Workspace"))
            {
                foreach (var b in plan.Buffers)
                    w.Line($"public readonly {C}.Floats {b.Name}; // {b.Comment}: [{RowsOf(b.Rows)}, {BufferWidthName(b)}]");
                w.Line();
                using (w.Block($"public Workspace({C}.Floats start, int examples)"))
                {
                    w.Line("long rows = (long)examples * Samples;");
                    w.Line("var next = start;");
                    foreach (var b in plan.Buffers)
                        w.Line($"{b.Name} = next; next += {Count(b)};");
                }
                w.Line();
                using (w.Block("public static long Size(int examples)"))
                {
                    w.Line("long rows = (long)examples * Samples;");
                    w.Line("return " + string.Join(" + ", plan.Buffers.Select(Count)) + ";");
                }
            }
        }

        private static void EmitForwardBackward(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>Forward pass, loss and backward pass for one batch; returns the mean negative ELBO.</summary>");
            using (w.Block($"public double ForwardBackward({C}.CpuThreads threads, {C}.Floats parameters, {C}.Floats gradients, {C}.Floats x, {C}.Floats eps, int examples, float beta, {C}.Floats workspace, {C}.Floats packed)"))
            {
                w.Line("var w = new Workspace(workspace, examples);");
                w.Line("int rows = examples * Samples;");
                var ctx = new Context();
                EmitForwardOps(w, plan, ctx, training: true);
                w.Line($"double loss = {C}.Losses.Combine(examples, Samples, w.RowNll, w.Kl, beta, {C}.Floats.Null);");
                w.Line();
                w.Line("// Backward: the forward pass in reverse.");
                foreach (var op in plan.Backward) EmitOp(w, plan, op, ctx, training: true);
                w.Line("return loss;");
            }
        }

        private static void EmitLoss(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>Forward pass and loss only; each example's negative ELBO goes to exampleLoss unless it is null.</summary>");
            using (w.Block($"public double Loss({C}.CpuThreads threads, {C}.Floats parameters, {C}.Floats x, {C}.Floats eps, int examples, float beta, {C}.Floats workspace, {C}.Floats packed, {C}.Floats exampleLoss)"))
            {
                w.Line("var w = new Workspace(workspace, examples);");
                w.Line("int rows = examples * Samples;");
                var ctx = new Context();
                EmitForwardOps(w, plan, ctx, training: false);
                w.Line($"return {C}.Losses.Combine(examples, Samples, w.RowNll, w.Kl, beta, exampleLoss);");
            }
        }

        private static void EmitEncode(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>The encoder and its heads: mu and logvar, [examples, Latent] each.</summary>");
            using (w.Block($"public void Encode({C}.CpuThreads threads, {C}.Floats parameters, {C}.Floats x, int examples, {C}.Floats workspace, {C}.Floats packed, {C}.Floats mu, {C}.Floats logVar)"))
            {
                w.Line("var w = new Workspace(workspace, examples);");
                var ctx = new Context();
                for (int i = 0; i < plan.EncoderLayerCount; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx, training: false);
                w.Line($"{C}.Losses.SplitHeads(examples, Latent, w.Heads, mu, logVar);");
            }
        }

        private static void EmitDecode(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>The decoder from given latent rows to the mean of p(x|z), [rows, Input].</summary>");
            using (w.Block($"public void Decode({C}.CpuThreads threads, {C}.Floats parameters, {C}.Floats z, int rows, {C}.Floats workspace, {C}.Floats packed, {C}.Floats mean)"))
            {
                w.Line("var w = new Workspace(workspace, rows);");
                var ctx = new Context { Latent = "z" };
                for (int i = plan.EncoderLayerCount; i < plan.Layers.Count; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx, training: false);
                w.Line($"{C}.Losses.CopyColumns(rows, Input, OutputWidth, w.Output, mean);");
                if (plan.Model.Likelihood == "Bernoulli")
                    w.Line($"{C}.Losses.Sigmoid((long)rows * Input, mean);");
            }
        }

        private static void EmitDecoderNll(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>-log p(x|z) for given latent rows, samples adjacent rows per example of x.</summary>");
            using (w.Block($"public void DecoderNegativeLogLikelihood({C}.CpuThreads threads, {C}.Floats parameters, {C}.Floats z, {C}.Floats x, int examples, int samples, {C}.Floats workspace, {C}.Floats packed, {C}.Floats rowNll)"))
            {
                w.Line("int rows = examples * samples;");
                w.Line("var w = new Workspace(workspace, (rows + Samples - 1) / Samples);");
                var ctx = new Context { Latent = "z", Samples = "samples" };
                for (int i = plan.EncoderLayerCount; i < plan.Layers.Count - 1; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx, training: false);
                EmitOutputWithLikelihood(w, plan, plan.Layers[plan.Layers.Count - 1], ctx, "rowNll", gradient: null);
            }
        }

        /// <summary>
        /// The forward op list, with the output layer and the likelihood that follows it emitted as one fused call
        /// (the likelihood runs on each block of rows as soon as the GEMM has written it).
        /// </summary>
        private static void EmitForwardOps(SourceWriter w, KernelPlan plan, Context ctx, bool training)
        {
            var ops = plan.Forward;
            for (int i = 0; i < ops.Count; i++)
            {
                var op = ops[i];
                if (op.Kind == OpKind.Linear && i + 1 < ops.Count && ops[i + 1].Kind == OpKind.Likelihood)
                {
                    EmitOutputWithLikelihood(w, plan, plan.Layers[op.Layer], ctx, "w.RowNll", training ? "w." + ops[i + 1].GradientOut : null);
                    i++;
                    continue;
                }
                EmitOp(w, plan, op, ctx, training);
            }
        }

        private static void EmitOutputWithLikelihood(SourceWriter w, KernelPlan plan, LinearPlan l, Context ctx, string rowNll, string? gradient)
        {
            string rows = RowsOf(l.Rows);
            string d = gradient ?? $"{C}.Floats.Null";
            string scale = gradient is null ? "0f" : "1f / rows";
            string target = plan.Model.Likelihood switch
            {
                "Bernoulli" => $"{C}.Likelihoods.BernoulliTarget(Input, {ctx.Samples}, x, {rowNll}, {d}, {scale})",
                "Gaussian" => $"{C}.Likelihoods.GaussianTarget(Input, {ctx.Samples}, x, {rowNll}, {d}, {scale}, Sigma)",
                _ => $"{C}.Likelihoods.GaussianLearnedVarianceTarget(Input, {ctx.Samples}, x, {rowNll}, {d}, {scale})",
            };
            w.Line($"// {l.Name}: [{rows}, {Int(l.In)}] -> [{rows}, {Int(l.Out)}], fused with the {plan.Model.Likelihood} likelihood" + (gradient is null ? "." : " and its gradient."));
            w.Line($"{C}.Linear.ForwardToLikelihood(threads, {rows}, {l.ConstantPrefix}InFeatures, {l.ConstantPrefix}OutFeatures, {Buffer(l.Input, ctx)}, " +
                   $"parameters + {l.ConstantPrefix}Weight, parameters + {l.ConstantPrefix}Bias, {Buffer(l.Output, ctx)}, packed,");
            w.Line($"    {target});");
        }

        private static string Buffer(string name, Context ctx) =>
            name == Planner.InputBuffer ? ctx.Input : name == Planner.LatentBuffer ? ctx.Latent : "w." + name;

        private static string ActivationType(string activation) => $"{C}.{activation}Activation";

        private static void EmitOp(SourceWriter w, KernelPlan plan, Op op, Context ctx, bool training)
        {
            switch (op.Kind)
            {
                case OpKind.Linear:
                {
                    var l = plan.Layers[op.Layer];
                    string rows = RowsOf(l.Rows);
                    w.Line($"// {l.Name}: [{rows}, {Int(l.In)}] -> [{rows}, {Int(l.Out)}], {l.Activation}");
                    w.Line($"{C}.Linear.Forward<{ActivationType(l.Activation)}>(threads, {rows}, {l.ConstantPrefix}InFeatures, {l.ConstantPrefix}OutFeatures, {Buffer(l.Input, ctx)}, " +
                           $"parameters + {l.ConstantPrefix}Weight, parameters + {l.ConstantPrefix}Bias, {Buffer(l.Pre, ctx)}, {Buffer(l.Output, ctx)}, packed);");
                    break;
                }
                case OpKind.Reparameterize:
                    w.Line("// Reparameterisation z = mu + exp(logvar / 2) eps for every sample, and KL per example.");
                    w.Line($"{C}.Reparameterization.Forward(examples, Latent, Samples, w.Heads, eps, w.Z, w.Kl);");
                    break;
                case OpKind.Likelihood:
                    // The plan puts the likelihood right after the output layer, and EmitForwardOps fuses the two.
                    throw new System.InvalidOperationException("A likelihood op must follow the output layer.");
                case OpKind.LinearBackward:
                {
                    var l = plan.Layers[op.Layer];
                    string rows = RowsOf(l.Rows);
                    string dx = op.GradientOut.Length == 0 ? $"{C}.Floats.Null" : "w." + op.GradientOut;
                    w.Line($"// {l.Name} backward: d{l.Activation}, dW, db" + (op.GradientOut.Length == 0 ? "" : ", dx"));
                    w.Line($"{C}.Linear.Backward<{ActivationType(l.Activation)}>(threads, {rows}, {l.ConstantPrefix}InFeatures, {l.ConstantPrefix}OutFeatures, w.{op.GradientIn}, {Buffer(l.Pre, ctx)}, {Buffer(l.Output, ctx)}, {Buffer(l.Input, ctx)}, " +
                           $"parameters + {l.ConstantPrefix}Weight, gradients + {l.ConstantPrefix}Weight, gradients + {l.ConstantPrefix}Bias, {dx}, w.{op.GradientIn});");
                    break;
                }
                case OpKind.ReparameterizeBackward:
                    w.Line("// Reparameterisation and KL backward: dz and the KL term into d(mu | logvar).");
                    w.Line($"{C}.Reparameterization.Backward(examples, Latent, Samples, w.Heads, eps, w.{op.GradientIn}, beta / examples, w.{op.GradientOut});");
                    break;
            }
        }
    }
}
