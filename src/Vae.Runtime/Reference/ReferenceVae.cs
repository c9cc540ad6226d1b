namespace Vae.Reference;

/// <summary>
/// The reference oracle: a plain, slow, double-precision evaluator of any architecture descriptor, with its gradient
/// written out by hand one example at a time. Every generated kernel is tested against it, and it is tested against
/// finite differences. It shares no code with the kernels on purpose.
/// </summary>
public sealed class ReferenceVae
{
    private readonly ModelDescriptor _d;

    public ReferenceVae(ModelDescriptor descriptor) => _d = descriptor;

    public static double Activate(Activation a, double x) => a switch
    {
        Activation.Identity => x,
        Activation.Relu => x > 0 ? x : 0,
        Activation.LeakyRelu => x > 0 ? x : 0.01 * x,
        Activation.Elu => x > 0 ? x : Math.Exp(x) - 1,
        Activation.Tanh => Math.Tanh(x),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        Activation.Softplus => Math.Max(x, 0) + Math.Log(1 + Math.Exp(-Math.Abs(x))),
        Activation.Gelu => x * HalfOnePlusTanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)),
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "Unknown activation."),
    };

    /// <summary>(1 + tanh u) / 2 from e = exp(-2|u|), exact in both tails.</summary>
    private static double HalfOnePlusTanh(double u)
    {
        double e = Math.Exp(-2 * Math.Abs(u));
        return u >= 0 ? 1 / (1 + e) : e / (1 + e);
    }

    /// <summary>1 - tanh(u)^2 = 4e / (1 + e)^2 with e = exp(-2|u|): no cancellation when tanh is near +-1.</summary>
    private static double OneMinusTanhSquared(double u)
    {
        double e = Math.Exp(-2 * Math.Abs(u));
        return 4 * e / ((1 + e) * (1 + e));
    }

    public static double Derivative(Activation a, double x)
    {
        switch (a)
        {
            case Activation.Identity: return 1;
            case Activation.Relu: return x > 0 ? 1 : 0;
            case Activation.LeakyRelu: return x > 0 ? 1 : 0.01;
            case Activation.Elu: return x > 0 ? 1 : Math.Exp(x);
            case Activation.Tanh: return OneMinusTanhSquared(x);
            case Activation.Sigmoid: { double s = 1 / (1 + Math.Exp(-x)); return s * (1 - s); }
            case Activation.Softplus: return 1 / (1 + Math.Exp(-x));
            case Activation.Gelu:
            {
                double c = Math.Sqrt(2 / Math.PI), k = 0.044715;
                double u = c * (x + k * x * x * x);
                return HalfOnePlusTanh(u) + 0.5 * x * OneMinusTanhSquared(u) * c * (1 + 3 * k * x * x);
            }
            default: throw new ArgumentOutOfRangeException(nameof(a), a, "Unknown activation.");
        }
    }

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

            // Encoder.
            var encIn = new List<double[]> { xb };
            var encPre = new List<double[]>();
            for (int l = 0; l < _d.Encoder.Count; l++)
            {
                var pre = Affine(p, $"encoder.{l}", encIn[^1]);
                encPre.Add(pre);
                encIn.Add(pre.Select(v => Activate(_d.Encoder[l].Activation, v)).ToArray());
            }
            var h = encIn[^1];
            var mu = Affine(p, "encoder.mu", h);
            var logVar = Affine(p, "encoder.logvar", h);
            double kl = 0;
            for (int j = 0; j < latent; j++) kl += 0.5 * (mu[j] * mu[j] + Math.Exp(logVar[j]) - 1 - logVar[j]);

            double reconstruction = 0;
            var dMu = new double[latent];
            var dLogVar = new double[latent];
            for (int s = 0; s < samples; s++)
            {
                var e = new double[latent];
                var z = new double[latent];
                for (int j = 0; j < latent; j++)
                {
                    e[j] = eps[(b * samples + s) * latent + j];
                    z[j] = mu[j] + Math.Exp(0.5 * logVar[j]) * e[j];
                }
                var decIn = new List<double[]> { z };
                var decPre = new List<double[]>();
                for (int l = 0; l < _d.Decoder.Count; l++)
                {
                    var pre = Affine(p, $"decoder.{l}", decIn[^1]);
                    decPre.Add(pre);
                    decIn.Add(pre.Select(v => Activate(_d.Decoder[l].Activation, v)).ToArray());
                }
                var top = decIn[^1];
                var output = Affine(p, "decoder.out", top);
                var outLogVar = _d.Likelihood == Likelihood.GaussianLearnedVariance ? Affine(p, "decoder.logvar", top) : null;
                var (nll, dOut, dOutLogVar) = NegativeLogLikelihood(xb, output, outLogVar);
                reconstruction += nll;
                if (gradient is null) continue;

                // Backward through the decoder for this sample, scaled for the mean over samples and batch.
                double scale = 1.0 / (samples * examples);
                for (int i = 0; i < dOut.Length; i++) dOut[i] *= scale;
                var dTop = AffineBackward(p, gradient, "decoder.out", top, dOut);
                if (dOutLogVar is not null)
                {
                    for (int i = 0; i < dOutLogVar.Length; i++) dOutLogVar[i] *= scale;
                    var extra = AffineBackward(p, gradient, "decoder.logvar", top, dOutLogVar);
                    for (int i = 0; i < dTop.Length; i++) dTop[i] += extra[i];
                }
                for (int l = _d.Decoder.Count - 1; l >= 0; l--)
                {
                    var dPre = new double[dTop.Length];
                    for (int i = 0; i < dPre.Length; i++) dPre[i] = dTop[i] * Derivative(_d.Decoder[l].Activation, decPre[l][i]);
                    dTop = AffineBackward(p, gradient, $"decoder.{l}", decIn[l], dPre);
                }
                for (int j = 0; j < latent; j++)
                {
                    dMu[j] += dTop[j];
                    dLogVar[j] += dTop[j] * e[j] * 0.5 * Math.Exp(0.5 * logVar[j]);
                }
            }
            double loss = reconstruction / samples + beta * kl;
            if (exampleLoss is not null) exampleLoss[b] = loss;
            total += loss;
            if (gradient is null) continue;

            for (int j = 0; j < latent; j++)
            {
                dMu[j] += beta * mu[j] / examples;
                dLogVar[j] += beta * 0.5 * (Math.Exp(logVar[j]) - 1) / examples;
            }
            var dH = AffineBackward(p, gradient, "encoder.mu", h, dMu);
            var dH2 = AffineBackward(p, gradient, "encoder.logvar", h, dLogVar);
            for (int i = 0; i < dH.Length; i++) dH[i] += dH2[i];
            for (int l = _d.Encoder.Count - 1; l >= 0; l--)
            {
                var dPre = new double[dH.Length];
                for (int i = 0; i < dPre.Length; i++) dPre[i] = dH[i] * Derivative(_d.Encoder[l].Activation, encPre[l][i]);
                dH = AffineBackward(p, gradient, $"encoder.{l}", encIn[l], dPre);
            }
        }
        return total / examples;
    }

    /// <summary>-log p(x | decoder output) and its gradient with respect to the output (and the log-variance head).</summary>
    private (double Nll, double[] DOut, double[]? DLogVar) NegativeLogLikelihood(double[] x, double[] output, double[]? logVar)
    {
        int n = x.Length;
        var d = new double[n];
        double nll = 0;
        switch (_d.Likelihood)
        {
            case Likelihood.Bernoulli:
                for (int i = 0; i < n; i++)
                {
                    double l = output[i];
                    nll += Math.Max(l, 0) - x[i] * l + Math.Log(1 + Math.Exp(-Math.Abs(l)));
                    d[i] = 1 / (1 + Math.Exp(-l)) - x[i];
                }
                return (nll, d, null);
            case Likelihood.Gaussian:
            {
                double s2 = _d.Sigma * _d.Sigma;
                for (int i = 0; i < n; i++)
                {
                    double diff = output[i] - x[i];
                    nll += 0.5 * diff * diff / s2 + 0.5 * Math.Log(2 * Math.PI * s2);
                    d[i] = diff / s2;
                }
                return (nll, d, null);
            }
            default:
            {
                var dl = new double[n];
                for (int i = 0; i < n; i++)
                {
                    double diff = x[i] - output[i];
                    double precision = Math.Exp(-logVar![i]);
                    nll += 0.5 * (Math.Log(2 * Math.PI) + logVar[i] + diff * diff * precision);
                    d[i] = -diff * precision;
                    dl[i] = 0.5 * (1 - diff * diff * precision);
                }
                return (nll, d, dl);
            }
        }
    }

    private double[] Affine(double[] p, string layer, double[] input)
    {
        var w = _d.Tensor(layer + ".weight");
        var b = _d.Tensor(layer + ".bias");
        int outs = w.Shape[0], ins = w.Shape[1];
        var y = new double[outs];
        for (int o = 0; o < outs; o++)
        {
            double sum = p[b.Offset + o];
            for (int i = 0; i < ins; i++) sum += p[w.Offset + o * ins + i] * input[i];
            y[o] = sum;
        }
        return y;
    }

    /// <summary>Accumulates dW and db of one layer for one row and returns dInput.</summary>
    private double[] AffineBackward(double[] p, double[] gradient, string layer, double[] input, double[] dOut)
    {
        var w = _d.Tensor(layer + ".weight");
        var b = _d.Tensor(layer + ".bias");
        int outs = w.Shape[0], ins = w.Shape[1];
        var dIn = new double[ins];
        for (int o = 0; o < outs; o++)
        {
            gradient[b.Offset + o] += dOut[o];
            for (int i = 0; i < ins; i++)
            {
                gradient[w.Offset + o * ins + i] += dOut[o] * input[i];
                dIn[i] += dOut[o] * p[w.Offset + o * ins + i];
            }
        }
        return dIn;
    }
}
