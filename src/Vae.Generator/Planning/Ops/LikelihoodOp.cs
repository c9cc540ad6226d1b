using System.Collections.Generic;
using System.Linq;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A decoder likelihood p(x|z): reads the output layer's rows and writes -log p(x|z) per row (nats, constants
    /// included) and, when training, its gradient scaled by 1 / rows into the first gradient buffer. It also turns the
    /// output rows into the decoder's mean for Decode. Row r belongs to example r / samples.
    /// Each likelihood supplies its CPU target factory, its per-row device loop and its mean.
    /// </summary>
    internal abstract record LikelihoodOp(string Gradient) : Op(Side.Decoder)
    {
        public const string InputBuffer = "X";
        public const string OutputBuffer = "Output";
        public const string RowNllBuffer = "RowNll";
        public const string MeanBuffer = "Mean";

        /// <summary>The enum member name, for comments.</summary>
        public abstract string Name { get; }

        /// <summary>Floats of decoder output per row: Input, or twice that with a variance head.</summary>
        public virtual int OutputWidth(int input) => input;

        /// <summary>The runtime's factory of a <c>Likelihoods.Target</c> for this likelihood.</summary>
        protected abstract string CpuTarget { get; }

        /// <summary>Arguments of the target factory after the common ones (size, samples, x, rowNll, gradient, scale).</summary>
        protected virtual IEnumerable<Arg> ExtraTargetArgs => Enumerable.Empty<Arg>();

        /// <summary>The device body for one row: reads o[], xr[], writes row_nll[gid] and, when with_gradient, d[].</summary>
        protected abstract string DeviceRow { get; }

        /// <summary>The runtime's CPU primitive that writes the mean [rows, Input] from output rows.</summary>
        protected abstract string CpuMean { get; }

        /// <summary>The device expression of the mean from the mean head's value v.</summary>
        protected abstract string DeviceMean { get; }

        /// <summary>Declares the constants the likelihood's kernels use (none by default).</summary>
        public virtual void Declare(LayoutBuilder layout)
        {
        }

        /// <summary>The CPU target for rows of the output layer in <paramref name="program"/>.</summary>
        public CpuCall Target(ProgramKind program) => Cpu(CpuTarget, new[]
        {
            Arg.Constant("Input"), Arg.Samples(), Arg.Buffer(InputBuffer), Arg.Buffer(RowNllBuffer),
            program == ProgramKind.Train ? Arg.Buffer(Gradient) : Arg.None(), Arg.Value("gradScale"),
        }.Concat(ExtraTargetArgs).ToArray());

        /// <summary>The device launch that evaluates every row (with the gradient when the program trains).</summary>
        public Launch DeviceLaunch() => Launch(Kernel("likelihood",
                $"-log p(x|z) under the {Name} likelihood per decoder row (row gid belongs to example gid / samples), and its gradient scaled by grad_scale when asked.",
                @"VAE_GLOBAL const float* xr = x + (gid / samples) * INPUT;
VAE_GLOBAL const float* o = output + gid * OUTPUT_WIDTH;
VAE_GLOBAL float* d = d_output + gid * OUTPUT_WIDTH;
float sum = 0.0f;
" + DeviceRow,
                Reads("output"), Reads("x"), Writes("row_nll"), Writes("d_output"), IntParameter("samples"), FloatParameter("grad_scale"), IntParameter("with_gradient")),
            RowSpace.Samples, "1", Arg.Buffer(OutputBuffer), Arg.Buffer(InputBuffer), Arg.Buffer(RowNllBuffer), Arg.Buffer(Gradient),
            Arg.Samples(), Arg.Value("gradScale"), Arg.Value("withGradient"));

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            switch (program)
            {
                case ProgramKind.Train:
                case ProgramKind.Evaluate:
                case ProgramKind.DecoderNegativeLogLikelihood:
                    yield return Step($"The {Name} likelihood of every row" + (program == ProgramKind.Train ? ", with its gradient." : "."),
                        Cpu("global::Vae.Kernels.Cpu.Likelihoods.Run", Arg.Value("threads"), Arg.Rows(RowSpace.Samples), Arg.Buffer(OutputBuffer),
                            Arg.Nested(Target(program))),
                        DeviceLaunch());
                    break;
                case ProgramKind.Decode:
                case ProgramKind.DecodeCodes:
                    yield return MeanStep();
                    break;
                case ProgramKind.Encode:
                case ProgramKind.EncodeCodes:
                case ProgramKind.DrawNoise:
                    break;
            }
        }

        public Step MeanStep() => Step($"The mean of p(x|z) from the decoder output ({Name}).",
            Cpu(CpuMean, Arg.Rows(RowSpace.Samples), Arg.Constant("Input"), Arg.Constant("OutputWidth"), Arg.Buffer(OutputBuffer), Arg.Buffer(MeanBuffer)),
            Launch(Kernel("decode_mean", "The decoder's mean [rows, INPUT] from its output rows.",
                    $@"float v = output[(gid / INPUT) * OUTPUT_WIDTH + gid % INPUT];
mean[gid] = {DeviceMean};", Reads("output"), Writes("mean")),
                RowSpace.Samples, "Input", Arg.Buffer(OutputBuffer), Arg.Buffer(MeanBuffer)));

        /// <summary>The likelihood's gradient is written in the forward pass; nothing is left for the backward pass.</summary>
        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) => Enumerable.Empty<Step>();
    }
}
