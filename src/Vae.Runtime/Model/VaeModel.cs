using Vae.Devices;
using Vae.Noise;

namespace Vae;

/// <summary>
/// The base of every generated model. It owns the model's buffers on a device and offers training steps,
/// encoding, decoding, sampling and evaluation; the generated subclass supplies the architecture and its kernels.
/// Inputs and outputs are row-major spans: x is [examples, Input], z, mu and logvar are [examples, Latent].
/// </summary>
public abstract class VaeModel : IDisposable
{
    private readonly IModelBackend _backend;
    private Type? _optimizerType;
    private bool _disposed;

    protected VaeModel(Device device, ModelDescriptor architecture, ModelKernels kernels, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(kernels);
        Device = device;
        Architecture = architecture;
        Seed = seed;
        KlWeight = (float)architecture.Beta;
        FreeBits = (float)architecture.FreeBits;
        _backend = device.CreateBackend(architecture, kernels);
        _backend.SetParameters(InitialParameters(architecture, seed));
    }

    public Device Device { get; }
    public ModelDescriptor Architecture { get; }

    /// <summary>Seed of the initial weights and of the training noise; a loaded checkpoint restores it, so resumed training draws the same noise.</summary>
    public ulong Seed { get; internal set; }

    /// <summary>Optimiser steps taken so far; the noise of step s is keyed by s.</summary>
    public long Step { get; internal set; }

    /// <summary>Weight of the KL term used by training and evaluation; starts at the attribute's Beta (a schedule may change it).</summary>
    public float KlWeight { get; set; }

    private float _freeBits;

    /// <summary>
    /// Free bits used by training: each latent dimension's KL, averaged over the batch, is floored at this many nats
    /// and gets no gradient below it (Kingma et al. 2016). Starts at the attribute's FreeBits; ELBO models only; 0 is none.
    /// Evaluation (<see cref="Loss"/>, <see cref="Elbo"/>) reports the unfloored bound.
    /// </summary>
    public float FreeBits
    {
        get => _freeBits;
        set
        {
            if (!(value >= 0) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(FreeBits), value, "Free bits must be a finite number >= 0.");
            if (value > 0 && Architecture.Objective != Objective.Elbo)
                throw new ArgumentException($"Free bits apply to the ELBO only; {Architecture.Name} trains the {Architecture.Objective} objective.", nameof(FreeBits));
            _freeBits = value;
        }
    }

    // Private names: the generated subclass declares public constants InputSize, LatentSize and ParameterCount.
    private int InputWidth => Architecture.Input;
    private int LatentWidth => Architecture.Latent;
    private int Parameters => Architecture.ParameterCount;

    /// <summary>
    /// PyTorch's nn.Linear initialisation: weight and bias uniform in +-1/sqrt(fan_in), drawn from Philox keyed by the
    /// seed, so the same seed gives the same model on every target.
    /// </summary>
    public static float[] InitialParameters(ModelDescriptor architecture, ulong seed)
    {
        var values = new float[architecture.ParameterCount];
        var tensors = architecture.Tensors;
        for (int t = 0; t < tensors.Count; t++)
        {
            var tensor = tensors[t];
            // The plan gives every tensor its fan-in (a bias takes its weight's).
            if (tensor.FanIn <= 0) throw new ArgumentException($"Tensor '{tensor.Name}' of {architecture.Name} has no fan-in to initialise from.", nameof(architecture));
            double bound = 1.0 / Math.Sqrt(tensor.FanIn);
            for (int i = 0; i < tensor.Length; i += 4)
            {
                var r = Philox.Philox4x32_10((uint)(i / 4), (uint)t, 0, uint.MaxValue, (uint)seed, (uint)(seed >> 32));
                ReadOnlySpan<uint> words = [r.X0, r.X1, r.X2, r.X3];
                for (int k = 0; k < 4 && i + k < tensor.Length; k++)
                    values[tensor.Offset + i + k] = (float)((2.0 * ((words[k] + 0.5) / 4294967296.0) - 1.0) * bound);
            }
        }
        return values;
    }

    public float[] GetParameters()
    {
        var values = new float[Parameters];
        _backend.GetParameters(values);
        return values;
    }

    public void SetParameters(ReadOnlySpan<float> values)
    {
        if (values.Length != Parameters)
            throw new ArgumentException($"Expected {Parameters} parameters for {Architecture.Name}, got {values.Length}.", nameof(values));
        _backend.SetParameters(values);
    }

    /// <summary>One tensor in PyTorch's layout, e.g. "encoder.0.weight" as [out, in].</summary>
    public float[] GetTensor(string name)
    {
        var t = Architecture.Tensor(name);
        return GetParameters().AsSpan(t.Offset, t.Length).ToArray();
    }

    internal IModelBackend Backend => _backend;

    internal void GetOptimizerState(int slot, Span<float> values) => _backend.GetOptimizerState(slot, values);

    internal void SetOptimizerState(Optimizer optimizer, int slot, ReadOnlySpan<float> values)
    {
        _optimizerType = optimizer.GetType();
        _backend.SetOptimizerState(slot, values);
    }

    /// <summary>The mean negative ELBO of a batch with the given noise, and each example's value when asked.</summary>
    /// <param name="eps">[examples, LatentSamples, Latent] standard-normal noise.</param>
    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> exampleLoss = default) => Loss(x, default, eps, exampleLoss);

    /// <summary>
    /// The model's loss (the negative of its bound) for a batch with the given noise, and each example's value when
    /// asked; <paramref name="labels"/> are a conditional model's class labels, one per example (empty otherwise).
    /// </summary>
    public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> exampleLoss = default)
    {
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        CheckLength(eps, (long)n * Architecture.LatentSamples * LatentWidth, nameof(eps), "[examples, LatentSamples, Latent]");
        if (!exampleLoss.IsEmpty) CheckLength(exampleLoss, n, nameof(exampleLoss), "[examples]");
        double total = 0;
        foreach (var (start, count) in Chunks(n))
        {
            total += count * _backend.Loss(
                x.Slice(start * InputWidth, count * InputWidth), Slice(y, start, count),
                eps.Slice(start * Architecture.LatentSamples * LatentWidth, count * Architecture.LatentSamples * LatentWidth),
                count, KlWeight, exampleLoss.IsEmpty ? default : exampleLoss.Slice(start, count));
        }
        return n == 0 ? 0 : total / n;
    }

    /// <summary>The gradient of <see cref="Loss"/> for one batch (no optimiser step); returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> gradients) => ComputeGradients(x, default, eps, gradients);

    /// <summary>The gradient of the training loss for one labelled batch (a conditional model's); returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> gradients)
    {
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        CheckBatch(n);
        CheckLength(eps, (long)n * Architecture.LatentSamples * LatentWidth, nameof(eps), "[examples, LatentSamples, Latent]");
        CheckLength(gradients, Parameters, nameof(gradients), "[Parameters]");
        double loss = _backend.ForwardBackward(x, y, eps, n, KlWeight, FreeBits);
        _backend.GetGradients(gradients);
        return loss;
    }

    /// <summary>
    /// One optimiser step on a batch, with noise drawn from Philox keyed by (Seed, Step + 1, row, sample) on the
    /// device that runs the model.
    /// </summary>
    /// <param name="firstExample">
    /// The index of x's first row in the global batch: noise is keyed by it, so a batch split across processes draws
    /// the same noise as one process would for the whole batch.
    /// </param>
    public double TrainStep(ReadOnlySpan<float> x, Optimizer optimizer, float? clipGradientNorm = null, int firstExample = 0) =>
        TrainStep(x, default, optimizer, clipGradientNorm, firstExample);

    /// <summary>One optimiser step on a labelled batch (a conditional model's), with noise drawn as by the unlabelled overload.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Optimizer optimizer, float? clipGradientNorm = null, int firstExample = 0)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfNegative(firstExample);
        int n = Examples(x, nameof(x));
        CheckBatch(n);
        var y = Labels(labels, n);
        long step = Step + 1;
        PrepareOptimizer(optimizer);
        double loss = _backend.ForwardBackward(x, y, n, KlWeight, FreeBits, Seed, (uint)step, firstExample);
        return FinishStep(optimizer, step, loss, clipGradientNorm);
    }

    /// <summary>One optimiser step with explicit noise. A non-finite loss or gradient throws and changes nothing.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Optimizer optimizer, float? clipGradientNorm = null) =>
        TrainStep(x, default, eps, optimizer, clipGradientNorm);

    /// <summary>One optimiser step on a labelled batch with explicit noise.</summary>
    public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Optimizer optimizer, float? clipGradientNorm = null)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        int n = Examples(x, nameof(x));
        CheckBatch(n);
        CheckLength(eps, (long)n * Architecture.LatentSamples * LatentWidth, nameof(eps), "[examples, LatentSamples, Latent]");
        var y = Labels(labels, n);
        long step = Step + 1;
        PrepareOptimizer(optimizer);
        double loss = _backend.ForwardBackward(x, y, eps, n, KlWeight, FreeBits);
        return FinishStep(optimizer, step, loss, clipGradientNorm);
    }

    /// <summary>Optimiser state belongs to one kind of optimiser: switching kinds starts it afresh.</summary>
    private void PrepareOptimizer(Optimizer optimizer)
    {
        if (_optimizerType == optimizer.GetType()) return;
        _backend.ResetOptimizerState();
        _optimizerType = optimizer.GetType();
    }

    private double FinishStep(Optimizer optimizer, long step, double loss, float? clipGradientNorm)
    {
        if (!double.IsFinite(loss)) throw new NonFiniteLossException(step, loss, "loss");
        if (clipGradientNorm is float clip)
        {
            double norm = Math.Sqrt(_backend.GradientSumOfSquares());
            if (!double.IsFinite(norm)) throw new NonFiniteLossException(step, norm, "gradient norm");
            if (norm > clip) _backend.ScaleGradients((float)(clip / norm));
        }
        _backend.ApplyOptimizer(optimizer, step);
        Step = step;
        return loss;
    }

    /// <summary>The encoder's mean and log variance for each example.</summary>
    public void Encode(ReadOnlySpan<float> x, Span<float> mu, Span<float> logVar) => Encode(x, default, mu, logVar);

    /// <summary>q(z|x, y) of a conditional model: the mean and log variance of each labelled example.</summary>
    public void Encode(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Span<float> mu, Span<float> logVar)
    {
        int n = Examples(x, nameof(x));
        var y = Labels(labels, n);
        CheckLength(mu, (long)n * LatentWidth, nameof(mu), "[examples, Latent]");
        CheckLength(logVar, (long)n * LatentWidth, nameof(logVar), "[examples, Latent]");
        foreach (var (start, count) in Chunks(n))
            _backend.Encode(x.Slice(start * InputWidth, count * InputWidth), Slice(y, start, count), count,
                mu.Slice(start * LatentWidth, count * LatentWidth), logVar.Slice(start * LatentWidth, count * LatentWidth));
    }

    /// <summary>The decoder's mean for each latent row: pixel probabilities for Bernoulli, the Gaussian mean otherwise.</summary>
    public void Decode(ReadOnlySpan<float> z, Span<float> mean) => Decode(z, default, mean);

    /// <summary>The decoder's mean for each latent row of a conditional model, each row with its own label.</summary>
    public void Decode(ReadOnlySpan<float> z, ReadOnlySpan<int> labels, Span<float> mean)
    {
        if (z.Length % LatentWidth != 0)
            throw new ArgumentException($"z has {z.Length} values, not a whole number of rows of Latent = {LatentWidth}.", nameof(z));
        int n = z.Length / LatentWidth;
        CheckLength(mean, (long)n * InputWidth, nameof(mean), "[rows, Input]");
        var y = Labels(labels, n);
        foreach (var (start, count) in Chunks(n))
            _backend.Decode(z.Slice(start * LatentWidth, count * LatentWidth), Slice(y, start, count), count, mean.Slice(start * InputWidth, count * InputWidth));
    }

    /// <summary>Decodes each example's posterior mean: the usual deterministic reconstruction.</summary>
    public void Reconstruct(ReadOnlySpan<float> x, Span<float> mean) => Reconstruct(x, ReadOnlySpan<int>.Empty, mean);

    /// <summary>The same for a conditional model's labelled examples (the label goes to the encoder and the decoder).</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, Span<float> mean)
    {
        int n = Examples(x, nameof(x));
        var mu = new float[n * LatentWidth];
        Encode(x, labels, mu, new float[n * LatentWidth]);
        Decode(mu, labels, mean);
    }

    /// <summary>Decodes z = mu + exp(logvar / 2) eps for each example, with explicit eps [examples, Latent].</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, Span<float> mean) => Reconstruct(x, default, eps, mean);

    /// <summary>The same for a conditional model's labelled examples.</summary>
    public void Reconstruct(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, ReadOnlySpan<float> eps, Span<float> mean)
    {
        int n = Examples(x, nameof(x));
        CheckLength(eps, (long)n * LatentWidth, nameof(eps), "[examples, Latent]");
        var mu = new float[n * LatentWidth];
        var logVar = new float[n * LatentWidth];
        Encode(x, labels, mu, logVar);
        for (int i = 0; i < mu.Length; i++) mu[i] += MathF.Exp(0.5f * logVar[i]) * eps[i];
        Decode(mu, labels, mean);
    }

    /// <summary>Decodes <paramref name="count"/> draws from the prior N(0, I); returns [count, Input] means.</summary>
    public float[] Sample(int count, ulong seed) => Sample(count, ReadOnlySpan<int>.Empty, seed);

    /// <summary>
    /// A conditional model's samples: one draw from the prior per label, decoded with that label ("draw me a
    /// sneaker"); returns [labels, Input] means.
    /// </summary>
    public float[] Sample(ReadOnlySpan<int> labels, ulong seed) => Sample(labels.Length, labels, seed);

    private float[] Sample(int count, ReadOnlySpan<int> labels, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var z = new float[count * LatentWidth];
        Philox.FillNormal(seed, 0, 0, count, 1, LatentWidth, z);
        var mean = new float[count * InputWidth];
        Decode(z, labels, mean);
        return mean;
    }

    /// <summary>
    /// Mean ELBO over a data set in nats per example (the negative of the loss), with noise keyed by
    /// (seed, step 0, example index in the data set), so chunking never changes the figure.
    /// </summary>
    public double Elbo(ReadOnlySpan<float> data, ulong seed = 0) => Elbo(data, default, seed);

    /// <summary>The same over a conditional model's labelled data set.</summary>
    public double Elbo(ReadOnlySpan<float> data, ReadOnlySpan<int> labels, ulong seed = 0)
    {
        int n = Examples(data, nameof(data));
        var y = Labels(labels, n);
        int per = Architecture.LatentSamples * LatentWidth;
        double total = 0;
        var eps = new float[Math.Min(n, _backend.MaxExamples) * per];
        foreach (var (start, count) in Chunks(n))
        {
            var e = eps.AsSpan(0, count * per);
            Philox.FillNormal(seed, 0, start, count, Architecture.LatentSamples, LatentWidth, e);
            total += count * _backend.Loss(data.Slice(start * InputWidth, count * InputWidth), Slice(y, start, count), e, count, KlWeight, default);
        }
        return n == 0 ? 0 : -total / n;
    }

    /// <summary>
    /// The importance-sampled estimate of -log p(x), mean over the data set in nats: for each example,
    /// -log mean_k exp(log p(x|z_k) + log p(z_k) - log q(z_k|x)) with z_k ~ q(z|x), computed stably (log-sum-exp).
    /// </summary>
    public double NegativeLogLikelihood(ReadOnlySpan<float> data, int importanceSamples, ulong seed = 0, IProgress<int>? progress = null, CancellationToken cancellationToken = default) =>
        NegativeLogLikelihood(data, default, importanceSamples, seed, progress, cancellationToken);

    /// <summary>The same for a conditional model's labelled data set: -log p(x|y), mean over the data set.</summary>
    public double NegativeLogLikelihood(ReadOnlySpan<float> data, ReadOnlySpan<int> labels, int importanceSamples, ulong seed = 0, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(importanceSamples, 1);
        int n = Examples(data, nameof(data));
        // Copied: the labelled passes below call back into Encode, which reuses the model's label scratch.
        var y = Labels(labels, n).ToArray();
        int j = LatentWidth;
        int perCall = Math.Max(1, Math.Min(_backend.MaxExamples * Architecture.LatentSamples / importanceSamples, 256));
        int k = Math.Min(importanceSamples, _backend.MaxExamples * Architecture.LatentSamples);
        var mu = new float[perCall * j];
        var logVar = new float[perCall * j];
        var eps = new float[perCall * k * j];
        var z = new float[perCall * k * j];
        var nll = new float[perCall * k];
        var logWeights = new double[perCall * importanceSamples];
        var logWeightsScratch = new double[perCall * k];
        double total = 0;
        for (int start = 0; start < n; start += perCall)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(perCall, n - start);
            var x = data.Slice(start * InputWidth, count * InputWidth);
            var xLabels = labels.IsEmpty ? ReadOnlySpan<int>.Empty : labels.Slice(start, count);
            Encode(x, xLabels, mu.AsSpan(0, count * j), logVar.AsSpan(0, count * j));
            for (int k0 = 0; k0 < importanceSamples; k0 += k)
            {
                int kc = Math.Min(k, importanceSamples - k0);
                // Importance-sampling noise has its own steps counted down from 2^32 - 1 (training counts up from 1,
                // the ELBO uses 0), one per chunk of K, keyed by (example, sample) within it.
                Philox.FillNormal(seed, uint.MaxValue - (uint)(k0 / k), start, count, kc, j, eps.AsSpan(0, count * kc * j));
                var logQ = logWeightsScratch.AsSpan(0, count * kc);
                for (int b = 0; b < count; b++)
                for (int s = 0; s < kc; s++)
                {
                    double lq = 0, lp = 0;
                    for (int i = 0; i < j; i++)
                    {
                        float e = eps[(b * kc + s) * j + i];
                        float lv = logVar[b * j + i];
                        float zi = mu[b * j + i] + MathF.Exp(0.5f * lv) * e;
                        z[(b * kc + s) * j + i] = zi;
                        lq += -0.5 * (e * (double)e + lv + Math.Log(2 * Math.PI));
                        lp += -0.5 * (zi * (double)zi + Math.Log(2 * Math.PI));
                    }
                    logQ[b * kc + s] = lp - lq;
                }
                _backend.DecoderNegativeLogLikelihood(z.AsSpan(0, count * kc * j), x, Slice(y, start, count), count, kc, nll.AsSpan(0, count * kc));
                for (int b = 0; b < count; b++)
                for (int s = 0; s < kc; s++)
                    logWeights[b * importanceSamples + k0 + s] = logQ[b * kc + s] - nll[b * kc + s];
            }
            for (int b = 0; b < count; b++)
                total -= LogMeanExp(logWeights.AsSpan(b * importanceSamples, importanceSamples));
            progress?.Report(start + count);
        }
        return n == 0 ? 0 : total / n;
    }

    /// <summary>log(mean(exp(v))) without overflow: the maximum is taken out before exponentiating.</summary>
    public static double LogMeanExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (var v in values) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) return max;
        double sum = 0;
        foreach (var v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum / values.Length);
    }

    private float[] _labels = [];

    /// <summary>
    /// A conditional model's labels, checked (one per example, each in 0 .. Classes - 1) and held as floats for the
    /// kernels in a buffer the model reuses; empty for an unconditional model, which must be given none.
    /// </summary>
    private ReadOnlySpan<float> Labels(ReadOnlySpan<int> labels, int n)
    {
        int classes = Architecture.Classes;
        if (classes == 0)
        {
            if (!labels.IsEmpty)
                throw new ArgumentException($"{Architecture.Name} is not conditional: it takes no labels (declare [Conditional(Classes = C)] for one that does).", nameof(labels));
            return default;
        }
        if (labels.Length != n)
            throw new ArgumentException(labels.IsEmpty
                ? $"{Architecture.Name} is conditional on {classes} classes: pass each example's label (the overloads that take labels)."
                : $"labels has {labels.Length} values for {n} examples.", nameof(labels));
        if (_labels.Length < n) _labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {i} is {labels[i]}; {Architecture.Name} has classes 0 to {classes - 1}.");
            _labels[i] = labels[i];
        }
        return _labels.AsSpan(0, n);
    }

    private static ReadOnlySpan<float> Slice(ReadOnlySpan<float> labels, int start, int count) =>
        labels.IsEmpty ? default : labels.Slice(start, count);

    private int Examples(ReadOnlySpan<float> x, string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (x.Length % InputWidth != 0)
            throw new ArgumentException($"{name} has {x.Length} values, not a whole number of examples of Input = {InputWidth}.", name);
        return x.Length / InputWidth;
    }

    private void CheckBatch(int n)
    {
        if (n < 1) throw new ArgumentException("A training batch needs at least one example.");
        if (n > _backend.MaxExamples) throw new ArgumentException($"A training batch holds at most {_backend.MaxExamples} examples on {Device.Name}; got {n}.");
    }

    private static void CheckLength(ReadOnlySpan<float> span, long expected, string name, string shape)
    {
        if (span.Length != expected)
            throw new ArgumentException($"{name} must have {expected} values ({shape}), got {span.Length}.", name);
    }

    private IEnumerable<(int Start, int Count)> Chunks(int n)
    {
        int size = _backend.MaxExamples;
        for (int start = 0; start < n; start += size) yield return (start, Math.Min(size, n - start));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _backend.Dispose();
        GC.SuppressFinalize(this);
    }
}
