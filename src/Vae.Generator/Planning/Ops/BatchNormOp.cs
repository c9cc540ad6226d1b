using System;
using System.Collections.Generic;
using System.Globalization;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Specs;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// PyTorch's BatchNorm2d(C) (eps 1e-5, momentum 0.1, affine) after a convolution, fused with the activation the
    /// convolution declared: Conv -> BatchNorm -> activation, so the convolution before it is planned with the identity.
    /// The Train program runs it in training mode (statistics of the batch over rows and positions, biased variance;
    /// the running statistics move by the momentum, the variance's unbiased); every other program in evaluation mode
    /// (the running statistics), inside the convolution's epilogue (<see cref="ConvolutionBatchNormOp"/>). Weight and
    /// bias are parameters; running_mean and running_var are state after the parameters in the flat buffer, which the
    /// optimiser never reaches; num_batches_tracked is an int64 the host counts.
    /// Every reduction is one sum per channel in a fixed order (rows, then positions): no atomics, the same on any thread count.
    /// </summary>
    internal sealed record BatchNormOp(Side Side, string Name, string Prefix, ImageSpec Shape, ActivationFunction Activation, string Input,
        string Pre, string Output, RowSpace Rows) : Op(Side)
    {
        public const string Epsilon = "BatchNormEpsilon";
        public const string Momentum = "BatchNormMomentum";

        private string Channels => Prefix + "Channels";
        private string Area => Prefix + "Area";
        private string Features => Prefix + "Features";
        public string Weight => Prefix + "Weight";
        public string Bias => Prefix + "Bias";
        public string RunningMean => Prefix + "RunningMean";
        public string RunningVar => Prefix + "RunningVar";
        private string Mean => Prefix + "Mean";
        private string InvStd => Prefix + "InvStd";

        /// <summary>
        /// Declares the tensors under <paramref name="name"/> (weight 1, bias 0, running_mean 0, running_var 1,
        /// num_batches_tracked 0, as PyTorch initialises them), the constants, the per-channel batch statistics and the output buffers.
        /// </summary>
        public static BatchNormOp Declare(LayoutBuilder layout, Side side, string name, string prefix, ImageSpec shape, ActivationFunction activation,
            string input, RowSpace rows)
        {
            int c = shape.Channels;
            layout.Constant(new ConstantPlan(Epsilon, Macro(Epsilon), "float", "1e-5f", "1e-5f", "BatchNorm2d's eps, PyTorch's default"));
            layout.Constant(new ConstantPlan(Momentum, Macro(Momentum), "float", "0.1f", "0.1f", "BatchNorm2d's momentum, PyTorch's default"));
            int weight = layout.Tensor(name + ".weight", TensorRole.Parameter, 0, TensorInit.Ones, c);
            int bias = layout.Tensor(name + ".bias", TensorRole.Parameter, 0, TensorInit.Zeros, c);
            layout.IntConstant(prefix + "Channels", c, Int(c), $"{name} normalises {shape} per channel");
            layout.IntConstant(prefix + "Area", shape.Height * shape.Width, Int(shape.Height * shape.Width), "positions per channel");
            layout.IntConstant(prefix + "Features", shape.Size, $"{prefix}Channels * {prefix}Area", $"values per row of {name}");
            layout.IntConstant(prefix + "Weight", weight, Int(weight), $"offset of {name}.weight [{Int(c)}]");
            layout.IntConstant(prefix + "Bias", bias, Int(bias), $"offset of {name}.bias [{Int(c)}]");
            layout.State(name + ".running_mean", TensorInit.Zeros, prefix + "RunningMean", $"offset of {name}.running_mean [{Int(c)}], state after the parameters", c);
            layout.State(name + ".running_var", TensorInit.Ones, prefix + "RunningVar", $"offset of {name}.running_var [{Int(c)}], state after the parameters", c);
            layout.Counter(name + ".num_batches_tracked");
            layout.Buffer(prefix + "Mean", c, prefix + "Channels", RowSpace.Single, BufferKind.Workspace, $"{name}: the training batch's mean per channel");
            layout.Buffer(prefix + "InvStd", c, prefix + "Channels", RowSpace.Single, BufferKind.Workspace, $"{name}: 1 / sqrt(the batch's biased variance + eps) per channel");
            string pre, output;
            if (activation.IsIdentity)
            {
                pre = output = prefix + "Out";
                layout.Buffer(output, shape.Size, prefix + "Features", rows, BufferKind.Workspace, $"{name} output {shape}");
            }
            else
            {
                pre = prefix + "Pre";
                output = prefix + "Out";
                layout.Buffer(pre, shape.Size, prefix + "Features", rows, BufferKind.Workspace, $"{name} before {activation.Name}, {shape}");
                layout.Buffer(output, shape.Size, prefix + "Features", rows, BufferKind.Workspace, $"{name} after {activation.Name}, {shape}");
            }
            return new BatchNormOp(side, name, prefix, shape, activation, input, pre, output, rows);
        }

        public string OutFeatures => Features;


        private string Method(string stage) => $"global::Vae.Kernels.Cpu.BatchNorm.{stage}<{Activation.CpuType}>";

        private Arg[] Sizes() => new[] { Arg.Value("threads"), Arg.Rows(Rows), Arg.Constant(Channels), Arg.Constant(Area) };

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (!Runs(Side, program)) yield break;
            string shapes = $"[rows, {Shape}], {Activation.Name} after";
            if (program == ProgramKind.Train)
            {
                var args = new List<Arg>(Sizes());
                args.AddRange(new[]
                {
                    Arg.Constant(Epsilon), Arg.Constant(Momentum), Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Parameters(Bias),
                    Arg.Parameters(RunningMean), Arg.Parameters(RunningVar), Arg.Buffer(Mean), Arg.Buffer(InvStd), Arg.Buffer(Pre), Arg.Buffer(Output),
                });
                yield return Step($"{Name} (training): {shapes}; batch statistics, running statistics updated",
                    Cpu(Method("TrainingForward"), args.ToArray()),
                    Launch(Kernel(KernelName("statistics"), $"{Name} (training): mean and biased variance of each channel over rows and positions, the running statistics moved by the momentum (the variance's unbiased); one work item per channel, summing in a fixed order.", $@"int c = (int)gid;
vae_i64 count = (vae_i64)rows * {M("Area")};
float sum = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("Area")}; i++) sum += x[(vae_i64)r * {M("Features")} + c * {M("Area")} + i];
float m = sum / (float)count;
float squares = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("Area")}; i++)
{{
    float v = x[(vae_i64)r * {M("Features")} + c * {M("Area")} + i] - m;
    squares += v * v;
}}
mean[c] = m;
inv_std[c] = 1.0f / VAE_SQRT(squares / (float)count + {Macro(Epsilon)});
/* The host refuses a training batch with one value per channel, where the unbiased variance is undefined. */
float unbiased = count > 1 ? squares / (float)(count - 1) : 0.0f;
params[{M("RunningMean")} + c] = (1.0f - {Macro(Momentum)}) * params[{M("RunningMean")} + c] + {Macro(Momentum)} * m;
params[{M("RunningVar")} + c] = (1.0f - {Macro(Momentum)}) * params[{M("RunningVar")} + c] + {Macro(Momentum)} * unbiased;",
                            Writes("params"), Reads("x"), Writes("mean"), Writes("inv_std"), IntParameter("rows")),
                        null, Channels, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Mean), Arg.Buffer(InvStd), Arg.Rows(Rows)),
                    Launch(Kernel(KernelName("normalize"), $"{Name} (training): y = weight (x - mean) inv_std + bias, then {Activation.Name}; one work item per value.", $@"int c = (int)(gid % {M("Features")}) / {M("Area")};
float y = params[{M("Weight")} + c] * ((x[gid] - mean[c]) * inv_std[c]) + params[{M("Bias")} + c];
pre[gid] = y;
out[gid] = {Activation.DeviceFunction}(y);", Reads("params"), Reads("x"), Reads("mean"), Reads("inv_std"), Writes("pre"), Writes("out")),
                        Rows, Features, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Input), Arg.Buffer(Mean), Arg.Buffer(InvStd), Arg.Buffer(Pre), Arg.Buffer(Output)));
            }
            else
            {
                // Evaluation mode runs in the convolution's epilogue (ConvolutionBatchNormOp, which Fusion always makes
                // of a convolution and its BatchNorm); reaching here would silently skip the normalisation.
                throw new InvalidOperationException($"{Name} runs in evaluation mode only fused into its convolution.");
            }
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first)
        {
            // In place: the gradient of the output becomes the gradient of the input in the same buffer.
            string d = flow.Current;
            var device = new List<Launch>();
            if (!Activation.IsIdentity)
            {
                device.Add(ActivationDerivative(KernelName("delta"), $"{Name} backward: d *= the {Activation.Name} derivative, in place.",
                    Activation, Rows, Features, d, Pre, Output));
            }
            device.Add(Launch(Kernel(KernelName("param_grad"), $"{Name} backward: dbias = sum of d, dweight = sum of d x_hat, per channel over rows and positions; one work item per channel.", $@"int c = (int)gid;
float sum = 0.0f, weighted = 0.0f;
for (int r = 0; r < rows; r++)
for (int i = 0; i < {M("Area")}; i++)
{{
    vae_i64 at = (vae_i64)r * {M("Features")} + c * {M("Area")} + i;
    sum += d[at];
    weighted += d[at] * ((x[at] - mean[c]) * inv_std[c]);
}}
grads[{M("Weight")} + c] = weighted;
grads[{M("Bias")} + c] = sum;", Writes("grads"), Reads("d"), Reads("x"), Reads("mean"), Reads("inv_std"), IntParameter("rows")),
                null, Channels, Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input), Arg.Buffer(Mean), Arg.Buffer(InvStd), Arg.Rows(Rows)));
            device.Add(Launch(Kernel(KernelName("input_grad"), $"{Name} backward through the batch statistics: dx = weight inv_std / M (M d - dbias - x_hat dweight), M = rows * positions, in place; one work item per value.", $@"int c = (int)(gid % {M("Features")}) / {M("Area")};
float count = (float)((vae_i64)rows * {M("Area")});
float x_hat = (x[gid] - mean[c]) * inv_std[c];
d[gid] = params[{M("Weight")} + c] * inv_std[c] / count * (count * d[gid] - grads[{M("Bias")} + c] - x_hat * grads[{M("Weight")} + c]);",
                    Reads("params"), Reads("grads"), Writes("d"), Reads("x"), Reads("mean"), Reads("inv_std"), IntParameter("rows")),
                Rows, Features, Arg.Buffer(Planner.ParametersBuffer), Arg.Buffer(Planner.GradientsBuffer), Arg.Buffer(d), Arg.Buffer(Input),
                Arg.Buffer(Mean), Arg.Buffer(InvStd), Arg.Rows(Rows)));
            var args = new List<Arg>(Sizes());
            args.AddRange(new[]
            {
                Arg.Buffer(d), Arg.Buffer(Pre), Arg.Buffer(Output), Arg.Buffer(Input), Arg.Parameters(Weight), Arg.Buffer(Mean), Arg.Buffer(InvStd),
                Arg.Gradients(Weight), Arg.Gradients(Bias),
            });
            return new[] { Step($"{Name} backward (training mode, through the batch statistics): d{Activation.Name}, dweight, dbias, dx in place",
                Cpu(Method("Backward"), args.ToArray()), device.ToArray()) };
        }

        private string KernelName(string stage) => Name.Replace('.', '_') + "_" + stage;

        private string M(string constant) => Macro(Prefix + constant);
    }
}
