using System.Collections.Generic;
using System.Linq;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A convolution and the BatchNorm2d after it, made by <see cref="Fusion"/>. Outside training the BatchNorm runs in
    /// evaluation mode, an affine map per channel known before the convolution runs, so it and its activation go into
    /// the convolution's epilogue: one pass over the output instead of two, and the convolution's own output buffer is
    /// not written. Training mode needs the statistics of the whole output first, so Train runs the two ops as they are,
    /// forward and backward.
    /// </summary>
    internal sealed record ConvolutionBatchNormOp(ConvolutionOp Convolution, BatchNormOp Norm) : Op(Convolution.Side)
    {
        public override bool TakesNoGradient => Convolution.TakesNoGradient;

        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            if (program == ProgramKind.Train) return Convolution.Forward(program).Concat(Norm.Forward(program));
            if (!Runs(Side, program)) return Enumerable.Empty<Step>();
            return new[] { Convolution.NormalizedForwardStep(Norm) };
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) =>
            Norm.Backward(flow, first: false).ToList().Concat(Convolution.Backward(flow, first).ToList());
    }
}
