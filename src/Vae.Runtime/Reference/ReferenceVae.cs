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

    /// <summary>An oracle for <paramref name="descriptor"/>'s architecture; parameters are passed to each call.</summary>
    public ReferenceVae(ModelDescriptor descriptor) => _d = descriptor;

    /// <summary>Kept for callers of the oracle's first shape; see <see cref="ReferenceActivations.Activate"/>.</summary>
    public static double Activate(Activation a, double x) => ReferenceActivations.Activate(a, x);

    /// <summary>Kept for callers of the oracle's first shape; see <see cref="ReferenceActivations.Derivative"/>.</summary>
    public static double Derivative(Activation a, double x) => ReferenceActivations.Derivative(a, x);

    /// <summary>
    /// The model's loss over the batch with the given noise ([examples, L, Latent]): the negative ELBO (L samples,
    /// closed-form KL weighted by <paramref name="beta"/>) or the negative importance-weighted bound over K = L samples,
    /// as the descriptor's objective says; and its gradient with respect to every parameter (flat layout) when
    /// <paramref name="gradient"/> is not null, with the DReG estimator for the encoder when the objective asks for it.
    /// With <paramref name="freeBits"/> &gt; 0 (ELBO only) the KL of each dimension, averaged over the batch, is floored
    /// there, as training computes it; <paramref name="exampleLoss"/> gets each example's unfloored value.
    /// </summary>
    /// <remarks>A conditional model takes each example's label in <paramref name="labels"/>; it is appended one-hot to the encoder's input and to every z.</remarks>
    public double Loss(ReadOnlySpan<double> parameters, ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int examples, double beta,
        double[]? gradient, double[]? exampleLoss = null, double freeBits = 0, ReadOnlySpan<int> labels = default)
    {
        if (_d.Classes > 0 && labels.Length != examples) throw new ArgumentException($"A conditional model needs {examples} labels, got {labels.Length}.", nameof(labels));
        var p = parameters.ToArray();
        if (gradient is not null) Array.Clear(gradient);
        int input = _d.Input, latent = _d.Latent, samples = _d.LatentSamples;
        bool importance = _d.Objective != Objective.Elbo;
        if (importance && freeBits > 0) throw new ArgumentException("Free bits apply to the ELBO only.", nameof(freeBits));

        // The encoder of every example first: free bits need the batch's KL per dimension before any gradient.
        var encoders = new Encoded[examples];
        var inputs = new double[examples][];
        var classes = new int[examples];
        for (int b = 0; b < examples; b++)
        {
            var xb = new double[input];
            for (int i = 0; i < input; i++) xb[i] = x[b * input + i];
            inputs[b] = xb;
            classes[b] = _d.Classes > 0 ? labels[b] : -1;
            encoders[b] = Encode(p, Conditioned(xb, classes[b]));
        }
        var mask = new double[latent];
        Array.Fill(mask, 1.0);
        double flooredKl = 0;
        if (freeBits > 0)
        {
            for (int j = 0; j < latent; j++)
            {
                double mean = encoders.Sum(e => ReferenceGaussianLatent.KlPerDimension(e.Mu, e.LogVar)[j]) / examples;
                bool floored = !(mean > freeBits);
                mask[j] = floored ? 0 : 1;
                flooredKl += floored ? freeBits : mean;
            }
        }

        double total = 0, reconstructionTotal = 0;
        for (int b = 0; b < examples; b++)
        {
            var (_, encIn, encPre, mu, logVar) = encoders[b];
            var xb = inputs[b];
            var h = encIn[^1];

            // Every sample forward, kept for the backward pass (the importance weights need all K first).
            var decoded = new Decoded[samples];
            for (int s = 0; s < samples; s++)
            {
                var e = new double[latent];
                for (int j = 0; j < latent; j++) e[j] = eps[(b * samples + s) * latent + j];
                decoded[s] = Decode(p, xb, ReferenceGaussianLatent.Sample(mu, logVar, e), e, classes[b]);
                if (importance) decoded[s].LogRatio = ReferenceGaussianLatent.LogRatio(mu, logVar, e);
            }

            double loss;
            var rowScale = new double[samples];
            if (importance)
            {
                // -log (1/K) sum_k w_k by log-sum-exp; each row's gradient weight is its normalised weight over the batch size.
                var logW = decoded.Select(d => d.LogRatio - d.Nll).ToArray();
                double max = logW.Max();
                double logSum = max + Math.Log(logW.Sum(v => Math.Exp(v - max)));
                loss = Math.Log(samples) - logSum;
                for (int s = 0; s < samples; s++) rowScale[s] = Math.Exp(logW[s] - logSum) / examples;
            }
            else
            {
                double reconstruction = decoded.Sum(d => d.Nll) / samples;
                reconstructionTotal += reconstruction;
                loss = reconstruction + beta * ReferenceGaussianLatent.Kl(mu, logVar);
                Array.Fill(rowScale, 1.0 / (samples * examples));
            }
            if (exampleLoss is not null) exampleLoss[b] = loss;
            total += loss;
            if (gradient is null) continue;

            var dMu = new double[latent];
            var dLogVar = new double[latent];
            for (int s = 0; s < samples; s++)
            {
                var dz = DecodeBackward(p, gradient, decoded[s], rowScale[s]);
                var (z, e) = (decoded[s].Z, decoded[s].Eps);
                switch (_d.Objective)
                {
                    case Objective.Elbo:
                        ReferenceGaussianLatent.SampleBackward(logVar, e, dz, dMu, dLogVar);
                        break;
                    case Objective.ImportanceWeighted:
                    {
                        // The prior adds w~ z / B to dz; log q's reparameterised derivative is -1/2 in logvar per unit weight.
                        var g = new double[latent];
                        for (int j = 0; j < latent; j++) g[j] = dz[j] + rowScale[s] * z[j];
                        ReferenceGaussianLatent.SampleBackward(logVar, e, g, dMu, dLogVar);
                        for (int j = 0; j < latent; j++) dLogVar[j] -= 0.5 * rowScale[s];
                        break;
                    }
                    case Objective.ImportanceWeightedDReG:
                    {
                        // DReG: w~^2 / B times the pathwise derivative of -log w (q's parameters held fixed), no score term.
                        double normalised = rowScale[s] * examples;
                        var g = new double[latent];
                        for (int j = 0; j < latent; j++)
                            g[j] = normalised * (dz[j] + rowScale[s] * (z[j] - e[j] / Math.Exp(0.5 * logVar[j])));
                        ReferenceGaussianLatent.SampleBackward(logVar, e, g, dMu, dLogVar);
                        break;
                    }
                    default:
                        throw new InvalidOperationException($"Unknown objective {_d.Objective}.");
                }
            }
            if (!importance) ReferenceGaussianLatent.KlBackward(mu, logVar, beta, examples, mask, dMu, dLogVar);
            var dH = AffineBackward(p, gradient, "encoder.mu", h, dMu);
            var dH2 = AffineBackward(p, gradient, "encoder.logvar", h, dLogVar);
            for (int i = 0; i < dH.Length; i++) dH[i] += dH2[i];
            for (int l = EncoderLayers - 1; l >= 0; l--)
            {
                var dPre = ReferenceActivations.Backward(EncoderActivation(l), encPre[l], dH);
                dH = LayerBackward(p, gradient, $"encoder.{l}", l, encIn[l], dPre, decoder: false);
            }
        }
        if (freeBits > 0) return reconstructionTotal / examples + beta * flooredKl;
        return total / examples;
    }

    /// <summary>One example through the encoder: its input, every hidden layer's input and pre-activation, and the two heads.</summary>
    private sealed record Encoded(double[] X, List<double[]> Inputs, List<double[]> Pre, double[] Mu, double[] LogVar);

    /// <summary>One sample through the decoder, everything its backward pass needs, and its -log p(x|z) and gradient.</summary>
    private sealed class Decoded
    {
        public required double[] Z, Eps, Top, Output, D, DOutLogVar;
        public required List<double[]> Inputs, Pre;
        public double Nll, LogRatio;
    }

    // Layers are numbered across kinds, as the generator names them: the encoder's convolutions, then its dense layers;
    // the decoder's dense layers, then its transposed convolutions, the last of which is decoder.out.
    private int EncoderLayers => _d.EncoderConvolutions.Count + _d.Encoder.Count;
    private int DecoderHidden => _d.Decoder.Count + Math.Max(0, _d.DecoderConvolutions.Count - 1);

    private Activation EncoderActivation(int l) =>
        l < _d.EncoderConvolutions.Count ? _d.EncoderConvolutions[l].Activation : _d.Encoder[l - _d.EncoderConvolutions.Count].Activation;

    private Activation DecoderActivation(int l) =>
        l < _d.Decoder.Count ? _d.Decoder[l].Activation : _d.DecoderConvolutions[l - _d.Decoder.Count].Activation;

    /// <summary>The convolution of encoder layer <paramref name="l"/> (or decoder layer), or null for a dense layer.</summary>
    private ConvolutionDescriptor? Convolution(int l, bool decoder) => decoder
        ? (l >= _d.Decoder.Count ? _d.DecoderConvolutions[l - _d.Decoder.Count] : null)
        : (l < _d.EncoderConvolutions.Count ? _d.EncoderConvolutions[l] : null);

    private double[] LayerForward(double[] p, string name, int l, double[] input, bool decoder)
    {
        if (Convolution(l, decoder) is not { } c) return Affine(p, name, input);
        var w = _d.Tensor(name + ".weight");
        var b = _d.Tensor(name + ".bias");
        return ReferenceConvolution.Forward(p.AsSpan(w.Offset, w.Length), p.AsSpan(b.Offset, b.Length), input, c, transposed: decoder);
    }

    private double[] LayerBackward(double[] p, double[] gradient, string name, int l, double[] input, double[] dPre, bool decoder)
    {
        if (Convolution(l, decoder) is not { } c) return AffineBackward(p, gradient, name, input, dPre);
        var w = _d.Tensor(name + ".weight");
        var b = _d.Tensor(name + ".bias");
        return ReferenceConvolution.Backward(p.AsSpan(w.Offset, w.Length), input, dPre, c, transposed: decoder,
            gradient.AsSpan(w.Offset, w.Length), gradient.AsSpan(b.Offset, b.Length));
    }

    private Encoded Encode(double[] p, double[] xb)
    {
        var encIn = new List<double[]> { xb };
        var encPre = new List<double[]>();
        for (int l = 0; l < EncoderLayers; l++)
        {
            var pre = LayerForward(p, $"encoder.{l}", l, encIn[^1], decoder: false);
            encPre.Add(pre);
            encIn.Add(ReferenceActivations.Forward(EncoderActivation(l), pre));
        }
        var h = encIn[^1];
        return new Encoded(xb, encIn, encPre, Affine(p, "encoder.mu", h), Affine(p, "encoder.logvar", h));
    }

    /// <summary>A conditional model's input: <paramref name="values"/> with the label appended one-hot; the values alone otherwise.</summary>
    private double[] Conditioned(double[] values, int label)
    {
        if (_d.Classes == 0) return values;
        var joined = new double[values.Length + _d.Classes];
        values.CopyTo(joined, 0);
        joined[values.Length + label] = 1;
        return joined;
    }

    private Decoded Decode(double[] p, double[] xb, double[] z, double[] e, int label)
    {
        var decIn = new List<double[]> { Conditioned(z, label) };
        var decPre = new List<double[]>();
        for (int l = 0; l < DecoderHidden; l++)
        {
            var pre = LayerForward(p, $"decoder.{l}", l, decIn[^1], decoder: true);
            decPre.Add(pre);
            decIn.Add(ReferenceActivations.Forward(DecoderActivation(l), pre));
        }
        var top = decIn[^1];
        var output = _d.DecoderConvolutions.Count > 0
            ? LayerForward(p, "decoder.out", DecoderHidden, top, decoder: true)
            : Affine(p, "decoder.out", top);
        bool learned = _d.Likelihood == Likelihood.GaussianLearnedVariance;
        var outLogVar = learned ? Affine(p, "decoder.logvar", top) : [];
        var d = new double[_d.Input];
        var dOutLogVar = new double[_d.Input];
        double nll = _d.Likelihood switch
        {
            Likelihood.Bernoulli => ReferenceLikelihoods.Bernoulli(xb, output, d),
            Likelihood.Gaussian => ReferenceLikelihoods.Gaussian(xb, output, _d.Sigma, d),
            Likelihood.GaussianLearnedVariance => ReferenceLikelihoods.GaussianLearnedVariance(xb, output, outLogVar, d, dOutLogVar),
            _ => throw new InvalidOperationException($"Unknown likelihood {_d.Likelihood}."),
        };
        return new Decoded { Z = z, Eps = e, Top = top, Output = output, D = d, DOutLogVar = dOutLogVar, Inputs = decIn, Pre = decPre, Nll = nll };
    }

    /// <summary>Backward through the decoder for one sample whose likelihood gradient is weighted by <paramref name="scale"/>; returns dL/dz.</summary>
    private double[] DecodeBackward(double[] p, double[] gradient, Decoded sample, double scale)
    {
        var d = sample.D.Select(v => v * scale).ToArray();
        var dTop = _d.DecoderConvolutions.Count > 0
            ? LayerBackward(p, gradient, "decoder.out", DecoderHidden, sample.Top, d, decoder: true)
            : AffineBackward(p, gradient, "decoder.out", sample.Top, d);
        if (_d.Likelihood == Likelihood.GaussianLearnedVariance)
        {
            var extra = AffineBackward(p, gradient, "decoder.logvar", sample.Top, sample.DOutLogVar.Select(v => v * scale).ToArray());
            for (int i = 0; i < dTop.Length; i++) dTop[i] += extra[i];
        }
        for (int l = DecoderHidden - 1; l >= 0; l--)
        {
            var dPre = ReferenceActivations.Backward(DecoderActivation(l), sample.Pre[l], dTop);
            dTop = LayerBackward(p, gradient, $"decoder.{l}", l, sample.Inputs[l], dPre, decoder: true);
        }
        // A conditional decoder read [z | label]: the label's columns carry no gradient further.
        return dTop.AsSpan(0, _d.Latent).ToArray();
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
