using System.Linq;
using Vae.Generator.Planning;
using static Vae.Generator.Emitting.CSharpEmitter;

namespace Vae.Generator.Emitting
{
    /// <summary>
    /// Emits the C# launch sequence for the OpenCL and CUDA targets: the same walk over the plan's ops as the CPU
    /// kernels, each op becoming one or more launches of the kernels <see cref="DeviceKernelEmitter"/> wrote.
    /// </summary>
    internal static class AcceleratorLauncherEmitter
    {
        private const string A = "global::Vae.Kernels.Accelerators";

        private sealed class Context
        {
            public string Latent = "Z";
            public string Samples = "Samples";
        }

        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>The OpenCL and CUDA launch sequence of this architecture (both sources share kernel names and arguments).</summary>");
            using (w.Block($"private sealed class GeneratedAcceleratorKernels : {A}.IAcceleratorKernels"))
            {
                w.Line("public static readonly GeneratedAcceleratorKernels Instance = new GeneratedAcceleratorKernels();");
                w.Line();
                w.Line("private const int Input = InputSize;");
                w.Line("private const int Latent = LatentSize;");
                w.Line("private const int Samples = LatentSampleCount;");
                w.Line($"private const int NoiseGroups = (Latent + 3) / 4; // one Philox call gives four normals");
                w.Line();
                w.Line("// Standard buffers, then the workspace in the order of Workspace.");
                w.Line($"private const int Parameters = {A}.AcceleratorBuffers.Parameters;");
                w.Line($"private const int Gradients = {A}.AcceleratorBuffers.Gradients;");
                w.Line($"private const int X = {A}.AcceleratorBuffers.X;");
                w.Line($"private const int Eps = {A}.AcceleratorBuffers.Eps;");
                w.Line($"private const int Mu = {A}.AcceleratorBuffers.Mu;");
                w.Line($"private const int LogVar = {A}.AcceleratorBuffers.LogVar;");
                w.Line($"private const int Mean = {A}.AcceleratorBuffers.Mean;");
                for (int i = 0; i < plan.Buffers.Count; i++)
                    w.Line($"private const int {plan.Buffers[i].Name} = {A}.AcceleratorBuffers.FirstWorkspace + {Int(i)};");
                w.Line();
                w.Line($"public {A}.WorkspaceBuffer[] Workspace {{ get; }} = new[]");
                w.Line("{");
                w.Indent();
                foreach (var b in plan.Buffers)
                    w.Line($"new {A}.WorkspaceBuffer(\"{b.Name}\", {Int(b.Width)}, PerSample: {(b.Rows == RowSpace.DecoderRows ? "true" : "false")}),");
                w.Outdent();
                w.Line("};");
                w.Line();
                w.Line("public int RowNllBuffer => RowNll;");
                w.Line("public int KlBuffer => Kl;");
                w.Line("public int LatentBuffer => Z;");
                w.Line();
                using (w.Block($"public void DrawNoise({A}.IAcceleratorQueue queue, ulong seed, uint step, int examples)"))
                {
                    w.Line("queue.Launch(\"draw_noise\", (long)examples * Samples * NoiseGroups, [Buffer(Eps), Unsigned((uint)seed), Unsigned((uint)(seed >> 32)), Unsigned(step), Int(0)]);");
                }
                w.Line();
                using (w.Block($"public void Forward({A}.IAcceleratorQueue queue, int examples, bool withGradient)"))
                {
                    w.Line("int rows = examples * Samples;");
                    var ctx = new Context();
                    foreach (var op in plan.Forward) EmitOp(w, plan, op, ctx);
                }
                w.Line();
                using (w.Block($"public void Backward({A}.IAcceleratorQueue queue, int examples, float beta)"))
                {
                    w.Line("int rows = examples * Samples;");
                    var ctx = new Context();
                    foreach (var op in plan.Backward) EmitOp(w, plan, op, ctx);
                }
                w.Line();
                using (w.Block($"public void Encode({A}.IAcceleratorQueue queue, int examples)"))
                {
                    var ctx = new Context();
                    for (int i = 0; i < plan.EncoderLayerCount; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx);
                    w.Line("queue.Launch(\"split_heads\", (long)examples * Latent, [Buffer(Heads), Buffer(Mu), Buffer(LogVar)]);");
                }
                w.Line();
                using (w.Block($"public void Decode({A}.IAcceleratorQueue queue, int rows)"))
                {
                    var ctx = new Context();
                    for (int i = plan.EncoderLayerCount; i < plan.Layers.Count; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx);
                    w.Line("queue.Launch(\"decode_mean\", (long)rows * Input, [Buffer(Output), Buffer(Mean)]);");
                }
                w.Line();
                using (w.Block($"public void DecoderNegativeLogLikelihood({A}.IAcceleratorQueue queue, int examples, int samples)"))
                {
                    w.Line("int rows = examples * samples;");
                    var ctx = new Context { Samples = "samples" };
                    for (int i = plan.EncoderLayerCount; i < plan.Layers.Count; i++) EmitOp(w, plan, new Op(OpKind.Linear, i, "", ""), ctx);
                    w.Line("queue.Launch(\"likelihood\", rows, [Buffer(Output), Buffer(X), Buffer(RowNll), Buffer(GradientA), Int(samples), Float(0f), Int(0)]);");
                }
                w.Line();
                w.Line($"private static {A}.KernelArgument Buffer(int id) => {A}.KernelArgument.Buffer(id);");
                w.Line($"private static {A}.KernelArgument Int(int value) => {A}.KernelArgument.Int(value);");
                w.Line($"private static {A}.KernelArgument Unsigned(uint value) => {A}.KernelArgument.Int(unchecked((int)value));");
                w.Line($"private static {A}.KernelArgument Float(float value) => {A}.KernelArgument.Float(value);");
            }
        }

        private static string RowsOf(RowSpace rows) => rows == RowSpace.Examples ? "examples" : "rows";

        private static void EmitOp(SourceWriter w, KernelPlan plan, Op op, Context ctx)
        {
            switch (op.Kind)
            {
                case OpKind.Linear:
                {
                    var l = plan.Layers[op.Layer];
                    w.Line($"// {l.Name}: [{RowsOf(l.Rows)}, {Int(l.In)}] -> [{RowsOf(l.Rows)}, {Int(l.Out)}], {l.Activation}");
                    w.Line($"queue.Launch(\"{DeviceKernelEmitter.KernelName(l, "forward")}\", (long){RowsOf(l.Rows)} * {Int(l.Out)}, [Buffer(Parameters), Buffer({l.Input}), Buffer({l.Pre}), Buffer({l.Output})]);");
                    break;
                }
                case OpKind.Reparameterize:
                    w.Line("// Reparameterisation and KL.");
                    w.Line("queue.Launch(\"reparameterize\", examples, [Buffer(Heads), Buffer(Eps), Buffer(Z), Buffer(Kl)]);");
                    break;
                case OpKind.Likelihood:
                    w.Line("// Likelihood per row, with its gradient when training.");
                    w.Line($"queue.Launch(\"likelihood\", rows, [Buffer(Output), Buffer(X), Buffer(RowNll), Buffer({op.GradientOut}), Int({ctx.Samples}), Float(1f / rows), Int(withGradient ? 1 : 0)]);");
                    break;
                case OpKind.LinearBackward:
                {
                    var l = plan.Layers[op.Layer];
                    string rows = RowsOf(l.Rows);
                    w.Line($"// {l.Name} backward");
                    if (l.Activation != Planner.Identity)
                        w.Line($"queue.Launch(\"{DeviceKernelEmitter.KernelName(l, "delta")}\", (long){rows} * {Int(l.Out)}, [Buffer({op.GradientIn}), Buffer({l.Pre}), Buffer({l.Output})]);");
                    w.Line($"queue.Launch(\"{DeviceKernelEmitter.KernelName(l, "weight_grad")}\", {Int(l.Out * l.In)}, [Buffer(Gradients), Buffer({op.GradientIn}), Buffer({l.Input}), Int({rows})]);");
                    w.Line($"queue.Launch(\"{DeviceKernelEmitter.KernelName(l, "bias_grad")}\", {Int(l.Out)}, [Buffer(Gradients), Buffer({op.GradientIn}), Int({rows})]);");
                    if (op.GradientOut.Length > 0)
                        w.Line($"queue.Launch(\"{DeviceKernelEmitter.KernelName(l, "input_grad")}\", (long){rows} * {Int(l.In)}, [Buffer(Parameters), Buffer({op.GradientIn}), Buffer({op.GradientOut})]);");
                    break;
                }
                case OpKind.ReparameterizeBackward:
                    w.Line("// Reparameterisation and KL backward.");
                    w.Line($"queue.Launch(\"reparameterize_backward\", (long)examples * Latent, [Buffer(Heads), Buffer(Eps), Buffer({op.GradientIn}), Buffer({op.GradientOut}), Float(beta / examples)]);");
                    break;
            }
        }
    }
}
