namespace Vae.Reference;

/// <summary>
/// The reference oracle: a plain, slow, double-precision evaluator of any architecture descriptor, with its gradient
/// written out by hand, layer by layer over the batch (BatchNorm's training mode couples the rows). Every generated
/// kernel is tested against it, and it is tested against
/// finite differences. It shares no code with the kernels on purpose.
/// </summary>
/// <remarks>
/// This class only walks the model, forward then backward in reverse; each op's arithmetic lives in its own reference
/// (<see cref="ReferenceDense"/>, <see cref="ReferenceConvolution"/>, <see cref="ReferenceBatchNorm"/>,
/// <see cref="ReferenceActivations"/>, <see cref="ReferenceGaussianLatent"/>, <see cref="ReferenceLikelihoods"/>),
/// beside the CPU primitive it checks.
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
    /// <remarks>
    /// A conditional model takes each example's label in <paramref name="labels"/>; it is appended one-hot to the encoder's input (after the
    /// last convolution, flattened, in a convolutional encoder) and to every z.
    /// A model with BatchNorm runs it in training mode when <paramref name="training"/> (the batch's statistics, over
    /// the examples in the encoder and the examples times samples in the decoder; the gradient flows through them, and
    /// the moved running statistics go to <paramref name="updatedState"/>), in evaluation mode otherwise (the running
    /// statistics of <paramref name="state"/>). <paramref name="state"/> is [StateCount] in the flat buffer's order after
    /// the parameters; empty means PyTorch's initial state (running_mean 0, running_var 1).
    /// </remarks>
    public double Loss(ReadOnlySpan<double> parameters, ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int examples, double beta,
        double[]? gradient, double[]? exampleLoss = null, double freeBits = 0, ReadOnlySpan<int> labels = default,
        bool training = false, ReadOnlySpan<double> state = default, double[]? updatedState = null)
    {
        if (_d.Classes > 0 && labels.Length != examples) throw new ArgumentException($"A conditional model needs {examples} labels, got {labels.Length}.", nameof(labels));
        if (!state.IsEmpty && state.Length != _d.StateCount) throw new ArgumentException($"The state has {_d.StateCount} values, got {state.Length}.", nameof(state));
        // The parameters and the state in one flat array, as the model holds them, so every tensor's offset applies.
        var p = new double[_d.ParameterCount + _d.StateCount];
        parameters[.._d.ParameterCount].CopyTo(p);
        if (state.IsEmpty) Array.Copy(VaeModel.InitialState(_d).Select(v => (double)v).ToArray(), 0, p, _d.ParameterCount, _d.StateCount);
        else state.CopyTo(p.AsSpan(_d.ParameterCount));
        if (gradient is not null) Array.Clear(gradient);
        var g = gradient is null ? null : new double[p.Length];
        int input = _d.Input, latent = _d.Latent, samples = _d.LatentSamples;
        bool importance = _d.Objective != Objective.Elbo;
        if (importance && freeBits > 0) throw new ArgumentException("Free bits apply to the ELBO only.", nameof(freeBits));

        // The encoder, layer by layer over the whole batch: BatchNorm in training mode needs every example's values.
        var inputs = new double[examples][];
        var classes = new int[examples];
        for (int b = 0; b < examples; b++)
        {
            inputs[b] = new double[input];
            for (int i = 0; i < input; i++) inputs[b][i] = x[b * input + i];
            classes[b] = _d.Classes > 0 ? labels[b] : -1;
        }
        // A dense encoder reads [x | label]; a convolutional one reads x and appends the label after its convolutions.
        var encoder = Forward(p, inputs, decoder: false, training, _d.Classes > 0 ? classes : null);
        var h = encoder.Inputs[^1];
        var mu = h.Select(hb => Affine(p, "encoder.mu", hb)).ToArray();
        var logVar = h.Select(hb => Affine(p, "encoder.logvar", hb)).ToArray();

        // Free bits need the batch's KL per dimension before any gradient.
        var mask = new double[latent];
        Array.Fill(mask, 1.0);
        double flooredKl = 0;
        if (freeBits > 0)
        {
            for (int j = 0; j < latent; j++)
            {
                double mean = Enumerable.Range(0, examples).Sum(b => ReferenceGaussianLatent.KlPerDimension(mu[b], logVar[b])[j]) / examples;
                bool floored = !(mean > freeBits);
                mask[j] = floored ? 0 : 1;
                flooredKl += floored ? freeBits : mean;
            }
        }

        // The decoder over every (example, sample) row, the rows of one example adjacent.
        int rows = examples * samples;
        var epsRows = new double[rows][];
        var z = new double[rows][];
        for (int b = 0; b < examples; b++)
        for (int s = 0; s < samples; s++)
        {
            var e = new double[latent];
            for (int j = 0; j < latent; j++) e[j] = eps[(b * samples + s) * latent + j];
            epsRows[b * samples + s] = e;
            z[b * samples + s] = ReferenceGaussianLatent.Sample(mu[b], logVar[b], e);
        }
        var decoder = Forward(p, z.Select((zr, r) => ConditionedLatent(zr, classes[r / samples])).ToArray(), decoder: true, training);
        var top = decoder.Inputs[^1];
        bool learned = _d.Likelihood == Likelihood.GaussianLearnedVariance;
        var d = new double[rows][];
        var dOutLogVar = new double[rows][];
        var nll = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            var output = _d.DecoderConvolutions.Count > 0
                ? LayerForward(p, "decoder.out", DecoderHidden, top[r], decoder: true)
                : Affine(p, "decoder.out", top[r]);
            // A learned variance: a dense decoder has a second head; a transposed-convolution output has 2C channels,
            // the C mean planes then the C log-variance planes.
            double[] outLogVar = !learned ? []
                : _d.DecoderConvolutions.Count > 0 ? output[input..] : Affine(p, "decoder.logvar", top[r]);
            if (learned && _d.DecoderConvolutions.Count > 0) output = output[..input];
            var xb = inputs[r / samples];
            d[r] = new double[input];
            dOutLogVar[r] = new double[input];
            nll[r] = _d.Likelihood switch
            {
                Likelihood.Bernoulli => ReferenceLikelihoods.Bernoulli(xb, output, d[r]),
                Likelihood.Gaussian => ReferenceLikelihoods.Gaussian(xb, output, _d.Sigma, d[r]),
                Likelihood.GaussianLearnedVariance => ReferenceLikelihoods.GaussianLearnedVariance(xb, output, outLogVar, d[r], dOutLogVar[r]),
                _ => throw new InvalidOperationException($"Unknown likelihood {_d.Likelihood}."),
            };
        }

        double total = 0, reconstructionTotal = 0;
        var rowScale = new double[rows];
        for (int b = 0; b < examples; b++)
        {
            double loss;
            if (importance)
            {
                // -log (1/K) sum_k w_k by log-sum-exp; each row's gradient weight is its normalised weight over the batch size.
                var logW = Enumerable.Range(0, samples).Select(s => ReferenceGaussianLatent.LogRatio(mu[b], logVar[b], epsRows[b * samples + s]) - nll[b * samples + s]).ToArray();
                double max = logW.Max();
                double logSum = max + Math.Log(logW.Sum(v => Math.Exp(v - max)));
                loss = Math.Log(samples) - logSum;
                for (int s = 0; s < samples; s++) rowScale[b * samples + s] = Math.Exp(logW[s] - logSum) / examples;
            }
            else
            {
                double reconstruction = Enumerable.Range(0, samples).Sum(s => nll[b * samples + s]) / samples;
                reconstructionTotal += reconstruction;
                loss = reconstruction + beta * ReferenceGaussianLatent.Kl(mu[b], logVar[b]);
                for (int s = 0; s < samples; s++) rowScale[b * samples + s] = 1.0 / (samples * examples);
            }
            if (exampleLoss is not null) exampleLoss[b] = loss;
            total += loss;
        }
        if (updatedState is not null) p.AsSpan(_d.ParameterCount).CopyTo(updatedState);
        if (g is not null)
        {
            Backward(p, g, rows, d, dOutLogVar, rowScale, decoder, encoder, mu, logVar, epsRows, z, beta, examples, mask);
            g.AsSpan(0, gradient!.Length).CopyTo(gradient);
        }
        if (freeBits > 0) return reconstructionTotal / examples + beta * flooredKl;
        return total / examples;
    }

    /// <summary>The backward pass over the batch: the decoder's rows, the latent per example, the encoder; the gradient accumulates in <paramref name="g"/>.</summary>
    private void Backward(double[] p, double[] g, int rows, double[][] d, double[][] dOutLogVar, double[] rowScale, Pass decoder, Pass encoder,
        double[][] mu, double[][] logVar, double[][] epsRows, double[][] z, double beta, int examples, double[] mask)
    {
        int latent = _d.Latent, samples = _d.LatentSamples;
        var top = decoder.Inputs[^1];
        var dTop = new double[rows][];
        for (int r = 0; r < rows; r++)
        {
            var dr = d[r].Select(v => v * rowScale[r]).ToArray();
            bool learned = _d.Likelihood == Likelihood.GaussianLearnedVariance;
            if (learned && _d.DecoderConvolutions.Count > 0)
            {
                // One output layer gives both halves: its gradient is [d mean | d log variance].
                var both = dr.Concat(dOutLogVar[r].Select(v => v * rowScale[r])).ToArray();
                dTop[r] = LayerBackward(p, g, "decoder.out", DecoderHidden, top[r], both, decoder: true);
                continue;
            }
            dTop[r] = _d.DecoderConvolutions.Count > 0
                ? LayerBackward(p, g, "decoder.out", DecoderHidden, top[r], dr, decoder: true)
                : AffineBackward(p, g, "decoder.out", top[r], dr);
            if (learned)
            {
                var extra = AffineBackward(p, g, "decoder.logvar", top[r], dOutLogVar[r].Select(v => v * rowScale[r]).ToArray());
                for (int i = 0; i < dTop[r].Length; i++) dTop[r][i] += extra[i];
            }
        }
        dTop = PassBackward(p, g, decoder, dTop, decoder: true);

        var dH = new double[examples][];
        for (int b = 0; b < examples; b++)
        {
            var dMu = new double[latent];
            var dLogVar = new double[latent];
            for (int s = 0; s < samples; s++)
            {
                int r = b * samples + s;
                // A conditional decoder read [z | label]: the label's columns carry no gradient further.
                var dz = dTop[r].AsSpan(0, latent).ToArray();
                var (zr, e) = (z[r], epsRows[r]);
                switch (_d.Objective)
                {
                    case Objective.Elbo:
                        ReferenceGaussianLatent.SampleBackward(logVar[b], e, dz, dMu, dLogVar);
                        break;
                    case Objective.ImportanceWeighted:
                    {
                        // The prior adds w~ z / B to dz; log q's reparameterised derivative is -1/2 in logvar per unit weight.
                        var gz = new double[latent];
                        for (int j = 0; j < latent; j++) gz[j] = dz[j] + rowScale[r] * zr[j];
                        ReferenceGaussianLatent.SampleBackward(logVar[b], e, gz, dMu, dLogVar);
                        for (int j = 0; j < latent; j++) dLogVar[j] -= 0.5 * rowScale[r];
                        break;
                    }
                    case Objective.ImportanceWeightedDReG:
                    {
                        // DReG: w~^2 / B times the pathwise derivative of -log w (q's parameters held fixed), no score term.
                        double normalised = rowScale[r] * examples;
                        var gz = new double[latent];
                        for (int j = 0; j < latent; j++)
                            gz[j] = normalised * (dz[j] + rowScale[r] * (zr[j] - e[j] / Math.Exp(0.5 * logVar[b][j])));
                        ReferenceGaussianLatent.SampleBackward(logVar[b], e, gz, dMu, dLogVar);
                        break;
                    }
                    default:
                        throw new InvalidOperationException($"Unknown objective {_d.Objective}.");
                }
            }
            if (_d.Objective == Objective.Elbo) ReferenceGaussianLatent.KlBackward(mu[b], logVar[b], beta, examples, mask, dMu, dLogVar);
            var h = encoder.Inputs[^1][b];
            dH[b] = AffineBackward(p, g, "encoder.mu", h, dMu);
            var dH2 = AffineBackward(p, g, "encoder.logvar", h, dLogVar);
            for (int i = 0; i < dH[b].Length; i++) dH[b][i] += dH2[i];
        }
        PassBackward(p, g, encoder, dH, decoder: false);
    }

    /// <summary>
    /// A VQ-VAE's loss over the batch, as the PyTorch peer defines it, with the codebook and the rest of the state as
    /// given (no initialisation, EMA step or restart: those are checked op by op against
    /// <see cref="ReferenceVectorQuantizer"/>): mean over examples of the reconstruction term + (commitment, + 1 with
    /// Decay 0) times the mean squared distance of every quantised vector to its nearest code; its gradient with the
    /// codes held fixed, the decoder's gradient copied straight through to z_e (the codebook's own with Decay 0);
    /// each example's share in <paramref name="exampleLoss"/>; the chosen codes, [examples, positions], in
    /// <paramref name="codes"/>. BatchNorm runs in evaluation mode.
    /// </summary>
    public double QuantizedLoss(ReadOnlySpan<double> parameters, ReadOnlySpan<double> state, ReadOnlySpan<float> x, int examples,
        double[]? gradient, double[]? exampleLoss, int[] codes)
    {
        var q = _d.Quantizer ?? throw new InvalidOperationException($"{_d.Name} has no vector-quantised latent.");
        if (state.Length != _d.StateCount) throw new ArgumentException($"The state has {_d.StateCount} values, got {state.Length}.", nameof(state));
        int input = _d.Input, latent = _d.Latent, dim = q.Dimension, positions = _d.QuantizedPositions, rows = examples * positions;
        if (codes.Length != rows) throw new ArgumentException($"codes must have {rows} values.", nameof(codes));
        var p = new double[_d.ParameterCount + _d.StateCount];
        parameters[.._d.ParameterCount].CopyTo(p);
        state.CopyTo(p.AsSpan(_d.ParameterCount));
        var g = gradient is null ? null : new double[p.Length];
        var book = _d.Tensor("quantizer.codebook");
        var codebook = p.AsSpan(book.Offset, book.Length).ToArray();

        var inputs = new double[examples][];
        for (int b = 0; b < examples; b++)
        {
            inputs[b] = new double[input];
            for (int i = 0; i < input; i++) inputs[b][i] = x[b * input + i];
        }
        var encoder = Forward(p, inputs, decoder: false, training: false);
        var ze = encoder.Inputs[^1];
        // Vector (b, position) of z_e: the channels of a position of a convolutional map, or D consecutive values.
        int At(int position, int d) => q.Convolutional ? d * positions + position : position * dim + d;
        var zRows = new double[rows * dim];
        for (int b = 0; b < examples; b++)
        for (int pos = 0; pos < positions; pos++)
        for (int d = 0; d < dim; d++) zRows[(b * positions + pos) * dim + d] = ze[b][At(pos, d)];
        ReferenceVectorQuantizer.Assign(zRows, codebook, dim).CopyTo(codes, 0);
        var zqRows = ReferenceVectorQuantizer.Gather(codes, codebook, dim);
        var distance = ReferenceVectorQuantizer.Distances(zRows, codebook, codes, dim);
        var zq = new double[examples][];
        for (int b = 0; b < examples; b++)
        {
            zq[b] = new double[latent];
            for (int pos = 0; pos < positions; pos++)
            for (int d = 0; d < dim; d++) zq[b][At(pos, d)] = zqRows[(b * positions + pos) * dim + d];
        }

        var decoder = Forward(p, zq, decoder: true, training: false);
        var top = decoder.Inputs[^1];
        double weight = q.Commitment + (q.Ema ? 0 : 1);
        double total = 0;
        var dTop = new double[examples][];
        for (int b = 0; b < examples; b++)
        {
            var output = _d.DecoderConvolutions.Count > 0 ? LayerForward(p, "decoder.out", DecoderHidden, top[b], decoder: true) : Affine(p, "decoder.out", top[b]);
            var dOutput = new double[input];
            double reconstruction = _d.Likelihood switch
            {
                Likelihood.MeanSquaredError => ReferenceLikelihoods.MeanSquaredError(inputs[b], output, dOutput),
                Likelihood.Bernoulli => ReferenceLikelihoods.Bernoulli(inputs[b], output, dOutput),
                _ => throw new InvalidOperationException($"A VQ-VAE with the {_d.Likelihood} likelihood."),
            };
            double own = 0;
            for (int pos = 0; pos < positions; pos++) own += distance[b * positions + pos];
            double loss = reconstruction + weight * own / ((double)positions * dim);
            if (exampleLoss is not null) exampleLoss[b] = loss;
            total += loss;
            if (g is not null)
            {
                for (int i = 0; i < input; i++) dOutput[i] /= examples;
                dTop[b] = _d.DecoderConvolutions.Count > 0
                    ? LayerBackward(p, g, "decoder.out", DecoderHidden, top[b], dOutput, decoder: true)
                    : AffineBackward(p, g, "decoder.out", top[b], dOutput);
            }
        }
        if (g is not null)
        {
            var dZq = PassBackward(p, g, decoder, dTop, decoder: true);
            var dZqRows = new double[rows * dim];
            for (int b = 0; b < examples; b++)
            for (int pos = 0; pos < positions; pos++)
            for (int d = 0; d < dim; d++) dZqRows[(b * positions + pos) * dim + d] = dZq[b][At(pos, d)];
            var dZeRows = ReferenceVectorQuantizer.StraightThroughBackward(dZqRows, zRows, codebook, codes, dim, q.Commitment);
            var dZe = new double[examples][];
            for (int b = 0; b < examples; b++)
            {
                dZe[b] = new double[latent];
                for (int pos = 0; pos < positions; pos++)
                for (int d = 0; d < dim; d++) dZe[b][At(pos, d)] = dZeRows[(b * positions + pos) * dim + d];
            }
            PassBackward(p, g, encoder, dZe, decoder: false);
            if (!q.Ema)
            {
                var dBook = ReferenceVectorQuantizer.CodebookGradient(zRows, codebook, codes, dim);
                dBook.CopyTo(g, book.Offset);
            }
            g.AsSpan(0, gradient!.Length).CopyTo(gradient);
        }
        return examples == 0 ? 0 : total / examples;
    }

    /// <summary>
    /// One side's hidden layers over a batch of rows: each layer's input, its layer output (before BatchNorm), the
    /// activation's input (after BatchNorm), and BatchNorm's batch statistics when it ran in training mode.
    /// </summary>
    private sealed class Pass
    {
        public readonly List<double[][]> Inputs = new(), Layer = new(), Pre = new();
        public readonly List<(double[] Mean, double[] Variance)?> Statistics = new();
        public bool Training;
    }

    // labels: a conditional encoder's labels, appended one-hot to the input of its first dense layer (or of the heads):
    // the rows themselves without convolutions, the last convolution's flattened output with them.
    private Pass Forward(double[] p, double[][] rows, bool decoder, bool training, int[]? labels = null)
    {
        var pass = new Pass { Training = training };
        int conditionAt = labels is null ? -1 : _d.EncoderConvolutions.Count;
        pass.Inputs.Add(conditionAt == 0 ? Conditioned(rows, labels!) : rows);
        int layers = decoder ? DecoderHidden : EncoderLayers;
        for (int l = 0; l < layers; l++)
        {
            string name = $"{(decoder ? "decoder" : "encoder")}.{l}";
            var input = pass.Inputs[^1];
            var layer = input.Select(row => LayerForward(p, name, l, row, decoder)).ToArray();
            var pre = layer;
            (double[], double[])? statistics = null;
            if (Convolution(l, decoder) is { BatchNorm: true } c)
            {
                var (w, b, rm, rv) = Norm(name);
                int area = c.Out.Height * c.Out.Width;
                if (training)
                {
                    pre = ReferenceBatchNorm.TrainingForward(layer, c.Out.Channels, area, p.AsSpan(w.Offset, w.Length), p.AsSpan(b.Offset, b.Length),
                        p.AsSpan(rm.Offset, rm.Length), p.AsSpan(rv.Offset, rv.Length), out var mean, out var variance);
                    statistics = (mean, variance);
                }
                else
                {
                    pre = ReferenceBatchNorm.EvaluationForward(layer, c.Out.Channels, area, p.AsSpan(w.Offset, w.Length), p.AsSpan(b.Offset, b.Length),
                        p.AsSpan(rm.Offset, rm.Length), p.AsSpan(rv.Offset, rv.Length));
                }
            }
            var activation = decoder ? DecoderActivation(l) : EncoderActivation(l);
            pass.Layer.Add(layer);
            pass.Pre.Add(pre);
            pass.Statistics.Add(statistics);
            var next = pre.Select(row => ReferenceActivations.Forward(activation, row)).ToArray();
            pass.Inputs.Add(l + 1 == conditionAt ? Conditioned(next, labels!) : next);
        }
        return pass;
    }

    private double[][] Conditioned(double[][] rows, int[] labels) => rows.Select((row, b) => Conditioned(row, labels[b])).ToArray();

    /// <summary>Backward through one side's hidden layers, last to first, given dL/d(their output); returns dL/d(their input).</summary>
    private double[][] PassBackward(double[] p, double[] g, Pass pass, double[][] dOut, bool decoder)
    {
        for (int l = pass.Pre.Count - 1; l >= 0; l--)
        {
            string name = $"{(decoder ? "decoder" : "encoder")}.{l}";
            var activation = decoder ? DecoderActivation(l) : EncoderActivation(l);
            // Layer l's output had the label appended (a conditional convolutional encoder): its columns carry no gradient.
            int width = pass.Pre[l].Length > 0 ? pass.Pre[l][0].Length : 0;
            if (dOut.Length > 0 && dOut[0].Length > width) dOut = dOut.Select(dr => dr.AsSpan(0, width).ToArray()).ToArray();
            var dPre = dOut.Select((dr, r) => ReferenceActivations.Backward(activation, pass.Pre[l][r], dr)).ToArray();
            if (Convolution(l, decoder) is { BatchNorm: true } c)
            {
                var (w, b, rm, rv) = Norm(name);
                int area = c.Out.Height * c.Out.Width;
                dPre = pass.Statistics[l] is var (mean, variance)
                    ? ReferenceBatchNorm.TrainingBackward(pass.Layer[l], dPre, c.Out.Channels, area, p.AsSpan(w.Offset, w.Length), mean, variance,
                        g.AsSpan(w.Offset, w.Length), g.AsSpan(b.Offset, b.Length))
                    : ReferenceBatchNorm.EvaluationBackward(pass.Layer[l], dPre, c.Out.Channels, area, p.AsSpan(w.Offset, w.Length),
                        p.AsSpan(rm.Offset, rm.Length), p.AsSpan(rv.Offset, rv.Length), g.AsSpan(w.Offset, w.Length), g.AsSpan(b.Offset, b.Length));
            }
            var input = pass.Inputs[l];
            dOut = dPre.Select((dr, r) => LayerBackward(p, g, name, l, input[r], dr, decoder)).ToArray();
        }
        return dOut;
    }

    private (TensorDescriptor Weight, TensorDescriptor Bias, TensorDescriptor RunningMean, TensorDescriptor RunningVar) Norm(string layer) =>
        (_d.Tensor(layer + ".bn.weight"), _d.Tensor(layer + ".bn.bias"), _d.Tensor(layer + ".bn.running_mean"), _d.Tensor(layer + ".bn.running_var"));

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

    /// <summary>
    /// A conditional model's decoder input: z with the label appended one-hot, or, where the decoder reshapes z straight
    /// into an image, one plane per class after z's channels (ones in the label's plane); z alone otherwise. Either way
    /// z comes first, so the gradient of z is the first Latent values of the input's.
    /// </summary>
    private double[] ConditionedLatent(double[] z, int label)
    {
        if (_d.Classes == 0 || _d.Decoder.Count > 0 || _d.DecoderConvolutions.Count == 0) return Conditioned(z, label);
        var first = _d.DecoderConvolutions[0].In;
        int area = first.Height * first.Width;
        var joined = new double[z.Length + _d.Classes * area];
        z.CopyTo(joined, 0);
        Array.Fill(joined, 1.0, z.Length + label * area, area);
        return joined;
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
