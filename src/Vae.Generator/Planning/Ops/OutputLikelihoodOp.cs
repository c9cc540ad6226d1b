using System.Collections.Generic;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The decoder's output layer fused with the likelihood that reads it (made by <see cref="Fusion"/>): on the CPU
    /// each thread evaluates -log p(x|z) and its gradient on the rows its GEMM block just wrote, while they are in
    /// cache. Devices launch the two kernels back to back (a row-wise likelihood cannot share the GEMM's work items).
    /// </summary>
    internal sealed record OutputLikelihoodOp(DenseOp Output, LikelihoodOp Likelihood) : Op(Side.Decoder)
    {
        public override IEnumerable<Step> Forward(ProgramKind program)
        {
            switch (program)
            {
                case ProgramKind.Train:
                case ProgramKind.Evaluate:
                case ProgramKind.DecoderNegativeLogLikelihood:
                    var o = Output;
                    yield return Step($"{o.Name}: [rows, {o.In}] -> [rows, {o.Out}], fused with the {Likelihood.Name} likelihood" +
                                      (program == ProgramKind.Train ? " and its gradient." : "."),
                        Cpu("global::Vae.Kernels.Cpu.Linear.ForwardToLikelihood", Arg.Value("threads"), Arg.Rows(o.Rows),
                            Arg.Constant(o.InFeatures), Arg.Constant(o.OutFeatures), Arg.Buffer(o.Input), Arg.Parameters(o.Weight), Arg.Parameters(o.Bias),
                            Arg.Buffer(o.Output), Arg.Value("packed"), Arg.Nested(Likelihood.Target(program))),
                        o.ForwardLaunch(), Likelihood.DeviceLaunch());
                    break;
                case ProgramKind.Decode:
                case ProgramKind.DecodeCodes:
                    yield return Output.ForwardStep();
                    yield return Likelihood.MeanStep();
                    break;
                case ProgramKind.Encode:
                case ProgramKind.EncodeCodes:
                case ProgramKind.DrawNoise:
                    break;
            }
        }

        public override IEnumerable<Step> Backward(GradientFlow flow, bool first) => Output.Backward(flow, first);
    }
}
