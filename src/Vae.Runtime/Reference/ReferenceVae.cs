namespace Vae.Reference;

/// <summary>
/// The reference oracle: a plain, slow, double-precision evaluator of any architecture descriptor, with its gradient
/// written out by hand one example at a time. Every generated kernel is tested against it, and it is tested against
/// finite differences. It shares no code with the kernels on purpose.
/// </summary>
/// <remarks>
/// This class only walks the model, forward then backward in reverse; each op's arithmetic lives in its own reference
/// (<see cref="ReferenceDense"/>, <see cref="ReferenceActivations"/>, <see cref="ReferenceGaussianLatent"/>,
/// <see cref="ReferenceLikelihoods"/>), beside the CPU primitive it checks.
/// </remarks>
public sealed class ReferenceVae
{
    private readonly ModelDescriptor _d;

    public ReferenceVae(ModelDescriptor descriptor) => _d = descriptor;

    /// <summary>Kept for callers of the oracle's first shape; see <see cref="ReferenceActivations.Activate"/>.</summary>
    public static double Activate(Activation a, double x) => ReferenceActivations.Activate(a, x);

    /// <summary>Kept for callers of the oracle's first shape; see <see cref="ReferenceActivations.Derivative"/>.</summary>
    public static double Derivative(Activation a, double x) => ReferenceActivations.Derivative(a, x);

    /// <summary>
    /// Mean negative ELBO over the batch with the given noise ([examples, L, Latent]), and its gradient with respect
    /// to every parameter (flat layout) when <paramref name="gradient"/> is not null.
    /// </summary>
    public double Loss(ReadOnlySpan<double> parameters, ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int examples, double beta, double[]? gradient, double[]? exampleLoss = null)
    {
        var p = parameters.ToArray();
        if (gradient is not null) Array.Clear(gradient);
        int input = _d.Input, latent = _d.Latent, samples = _d.LatentSamples;
        double total = 0;
        for (int b = 0; b < examples; b++)
        {
            var xb = new double[input];
            for (int i = 0; i < input; i++) xb[i] = x[b * input + i];

            // Encoder: encIn[l] is the input of hidden layer l, encPre[l] its pre-activation.
            var encIn = new List<double[]> { xb };
            var encPre = new List<double[]>();
            for (int l = 0; l < _d.Encoder.Count; l++)
            {
                var pre = Affine(p, $"encoder.{l}", encIn[^1]);
                encPre.Add(pre);
                encIn.Add(ReferenceActivations.Forward(_d.Encoder[l].Activation, pre));
            }
            var h = encIn[^1];
            var mu = Affine(p, "encoder.mu", h);
            var logVar = Affine(p, "encoder.logvar", h);
            double kl = ReferenceGaussianLatent.Kl(mu, logVar);

            double reconstruction = 0;
            var dMu = new double[latent];
            var dLogVar = new double[latent];
            var d = new double[input];
            var dOutLogVar = new double[input];
            for (int s = 0; s < samples; s++)
            {
                var e = new double[latent];
                for (int j = 0; j < latent; j++) e[j] = eps[(b * samples + s) * latent + j];
                var z = ReferenceGaussianLatent.Sample(mu, logVar, e);
                var decIn = new List<double[]> { z };
                var decPre = new List<double[]>();
                for (int l = 0; l < _d.Decoder.Count; l++)
                {
                    var pre = Affine(p, $"decoder.{l}", decIn[^1]);
                    decPre.Add(pre);
                    decIn.Add(ReferenceActivations.Forward(_d.Decoder[l].Activation, pre));
                }
                var top = decIn[^1];
                var output = Affine(p, "decoder.out", top);
                bool learned = _d.Likelihood == Likelihood.GaussianLearnedVariance;
                var outLogVar = learned ? Affine(p, "decoder.logvar", top) : [];
                reconstruction += _d.Likelihood switch
                {
                    Likelihood.Bernoulli => ReferenceLikelihoods.Bernoulli(xb, output, d),
                    Likelihood.Gaussian => ReferenceLikelihoods.Gaussian(xb, output, _d.Sigma, d),
                    Likelihood.GaussianLearnedVariance => ReferenceLikelihoods.GaussianLearnedVariance(xb, output, outLogVar, d, dOutLogVar),
                    _ => throw new InvalidOperationException($"Unknown likelihood {_d.Likelihood}."),
                };
                if (gradient is null) continue;

                // Backward through the decoder for this sample, scaled for the mean over samples and batch.
                double scale = 1.0 / (samples * examples);
                for (int i = 0; i < d.Length; i++) d[i] *= scale;
                var dTop = AffineBackward(p, gradient, "decoder.out", top, d);
                if (learned)
                {
                    for (int i = 0; i < dOutLogVar.Length; i++) dOutLogVar[i] *= scale;
                    var extra = AffineBackward(p, gradient, "decoder.logvar", top, dOutLogVar);
                    for (int i = 0; i < dTop.Length; i++) dTop[i] += extra[i];
                }
                for (int l = _d.Decoder.Count - 1; l >= 0; l--)
                {
                    var dPre = ReferenceActivations.Backward(_d.Decoder[l].Activation, decPre[l], dTop);
                    dTop = AffineBackward(p, gradient, $"decoder.{l}", decIn[l], dPre);
                }
                ReferenceGaussianLatent.SampleBackward(logVar, e, dTop, dMu, dLogVar);
            }
            double loss = reconstruction / samples + beta * kl;
            if (exampleLoss is not null) exampleLoss[b] = loss;
            total += loss;
            if (gradient is null) continue;

            ReferenceGaussianLatent.KlBackward(mu, logVar, beta, examples, dMu, dLogVar);
            var dH = AffineBackward(p, gradient, "encoder.mu", h, dMu);
            var dH2 = AffineBackward(p, gradient, "encoder.logvar", h, dLogVar);
            for (int i = 0; i < dH.Length; i++) dH[i] += dH2[i];
            for (int l = _d.Encoder.Count - 1; l >= 0; l--)
            {
                var dPre = ReferenceActivations.Backward(_d.Encoder[l].Activation, encPre[l], dH);
                dH = AffineBackward(p, gradient, $"encoder.{l}", encIn[l], dPre);
            }
        }
        return total / examples;
    }

    private double[] Affine(double[] p, string layer, double[] input)
    {
        var w = _d.Tensor(layer + ".weight");
        var b = _d.Tensor(layer + ".bias");
        return ReferenceDense.Forward(p.AsSpan(w.Offset, w.Length), p.AsSpan(b.Offset, b.Length), input);
    }

    /// <summary>Accumulates dW and db of one layer for one row and returns dInput.</summary>
    private double[] AffineBackward(double[] p, double[] gradient, string layer, double[] input, double[] dOut)
    {
        var w = _d.Tensor(layer + ".weight");
        var b = _d.Tensor(layer + ".bias");
        return ReferenceDense.Backward(p.AsSpan(w.Offset, w.Length), input, dOut, gradient.AsSpan(w.Offset, w.Length), gradient.AsSpan(b.Offset, b.Length));
    }
}
