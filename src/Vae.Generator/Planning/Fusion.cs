using System.Collections.Generic;
using Vae.Generator.Planning.Ops;

namespace Vae.Generator.Planning
{
    /// <summary>
    /// Rewrites of the op list that merge ops into fused ones. Each rewrite keeps the plan's meaning; every target
    /// renders the fused op, so all of them get it from here. (GEMM + bias + activation and heads + reparameterisation +
    /// KL are single ops already; the optimiser is one pass over the flat buffer in the runtime.)
    /// </summary>
    internal static class Fusion
    {
        public static List<Op> Apply(IReadOnlyList<Op> ops)
        {
            var fused = new List<Op>();
            for (int i = 0; i < ops.Count; i++)
            {
                // An identity output layer followed by the likelihood of its rows: the likelihood runs in the GEMM's epilogue.
                if (ops[i] is DenseOp { Activation.IsIdentity: true } dense && i + 1 < ops.Count
                    && ops[i + 1] is LikelihoodOp likelihood && dense.Output == LikelihoodOp.OutputBuffer)
                {
                    fused.Add(new OutputLikelihoodOp(dense, likelihood));
                    i++;
                    continue;
                }
                // A convolution and its BatchNorm: outside training the BatchNorm runs in the convolution's epilogue.
                if (ops[i] is ConvolutionOp convolution && i + 1 < ops.Count && ops[i + 1] is BatchNormOp norm && norm.Input == convolution.Output)
                {
                    fused.Add(new ConvolutionBatchNormOp(convolution, norm));
                    i++;
                    continue;
                }
                fused.Add(ops[i]);
            }
            return fused;
        }
    }
}
