using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Vae;

/// <summary>One hidden layer: its width and non-linearity.</summary>
public sealed record LayerDescriptor(int Units, Activation Activation);

/// <summary>An image shape: channels x height x width, row-major per example (PyTorch's [C, H, W]).</summary>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values in one image: channels times height times width.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>The shape as the generated code and messages print it, e.g. 1x28x28.</summary>
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>
/// A square-kernel convolution layer: Conv2d in the encoder, ConvTranspose2d (with its output padding) in the
/// decoder, with the shapes it reads and writes; with <paramref name="BatchNorm"/>, followed by BatchNorm2d (named
/// <c>&lt;layer&gt;.bn</c>) before <paramref name="Activation"/>.
/// </summary>
public sealed record ConvolutionDescriptor(int OutChannels, int Kernel, int Stride, int Padding, int OutputPadding, Activation Activation,
    ImageShape In, ImageShape Out, bool BatchNorm = false);

/// <summary>
/// A vector-quantised latent: <paramref name="Codes"/> codes of <paramref name="Dimension"/> values, the commitment
/// weight, the EMA decay (0: the codebook is trained by the optimiser through the codebook loss) and the dead-code
/// restart threshold in training steps (0: off). The latent's <see cref="ModelDescriptor.Latent"/> values per example are
/// <see cref="ModelDescriptor.QuantizedPositions"/> vectors of <paramref name="Dimension"/>: the channels of each position of a convolutional
/// encoder's map (<paramref name="Convolutional"/>), or consecutive values of a dense encoder's output.
/// </summary>
public sealed record VectorQuantizerDescriptor(int Codes, int Dimension, double Commitment, double Decay, int RestartAfter, bool Convolutional)
{
    /// <summary>Whether the codebook follows exponential moving averages (Decay &gt; 0) instead of the optimiser.</summary>
    public bool Ema => Decay > 0;
}

/// <summary>What a tensor of the flat layout is for; the optimiser updates <see cref="Parameter"/> tensors.</summary>
public enum TensorRole
{
    /// <summary>A trained weight or bias: the optimiser updates it and keeps state for it.</summary>
    Parameter,
    /// <summary>
    /// Kept and saved with the model but not trained (BatchNorm's running_mean, running_var, num_batches_tracked): no
    /// gradient, no optimiser state. Float state follows every parameter in the flat buffer (offsets from
    /// <see cref="ModelDescriptor.ParameterCount"/> on); int64 state is counted on the host.
    /// </summary>
    State,
}

/// <summary>How a tensor starts, as PyTorch initialises it.</summary>
public enum TensorInit
{
    /// <summary>Uniform in +-1/sqrt(fan-in) (nn.Linear's and nn.Conv2d's kaiming-uniform with a = sqrt(5), and their biases).</summary>
    Uniform,
    /// <summary>Zeros (a BatchNorm bias, running_mean and num_batches_tracked).</summary>
    Zeros,
    /// <summary>Ones (a BatchNorm weight and running_var).</summary>
    Ones,
}

/// <summary>The element type of a tensor; on file F32 or I64.</summary>
public enum TensorType
{
    /// <summary>32-bit floats in the flat buffer.</summary>
    Float32,
    /// <summary>64-bit integers kept by the host (PyTorch's num_batches_tracked); the offset counts the model's integers.</summary>
    Int64,
}

/// <summary>
/// A named tensor of the generated plan's flat layout: PyTorch name and shape, where it starts, its role, and the
/// fan-in its nn.Linear-style initialisation uses (a bias takes its weight's).
/// </summary>
/// <remarks>An empty <see cref="Shape"/> is a scalar (one value), as PyTorch's num_batches_tracked.</remarks>
public sealed record TensorDescriptor(string Name, int[] Shape, int Offset, TensorRole Role = TensorRole.Parameter, int FanIn = 0,
    TensorInit Init = TensorInit.Uniform, TensorType Type = TensorType.Float32)
{
    /// <summary>Number of floats.</summary>
    /// <exception cref="OverflowException">The shape holds more than int.MaxValue values.</exception>
    public int Length => Shape.Aggregate(1, (a, b) => checked(a * b));

    /// <summary>Shape as PyTorch prints it, e.g. [400, 784].</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>Equal when name, shape, offset, role and fan-in are equal (the shape compared element by element).</summary>
    public bool Equals(TensorDescriptor? other) =>
        other is not null && Name == other.Name && Offset == other.Offset && Role == other.Role && FanIn == other.FanIn && Init == other.Init &&
        Type == other.Type && Shape.AsSpan().SequenceEqual(other.Shape);

    /// <summary>A hash consistent with <see cref="Equals(TensorDescriptor?)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(Name, Offset, Shape.Length);
}

/// <summary>
/// The architecture of a model, as the generator planned it: sizes, layers, likelihood, loss weights and the flat
/// parameter layout. The reference oracle evaluates it, checkpoints store it, and a load compares against it.
/// </summary>
public sealed class ModelDescriptor : IEquatable<ModelDescriptor>
{
    /// <summary>
    /// Describes an architecture; the generator writes this call for every model, so user code rarely makes one (the
    /// reference oracle and tests do). Checks every size and that <paramref name="tensors"/> tile one flat buffer.
    /// </summary>
    /// <param name="name">The model's type name.</param>
    /// <param name="input">Values per example.</param>
    /// <param name="latent">Latent dimensions.</param>
    /// <param name="likelihood">The decoder's distribution.</param>
    /// <param name="beta">The compiled KL weight, &gt;= 0.</param>
    /// <param name="latentSamples">Noise draws per example (K for the importance-weighted objectives), &gt;= 1.</param>
    /// <param name="sigma">The fixed standard deviation of a Gaussian decoder, &gt; 0.</param>
    /// <param name="encoder">Hidden layers from x to the heads, in order.</param>
    /// <param name="decoder">Hidden layers from z to the output layer, in order.</param>
    /// <param name="tensors">
    /// The flat layout in declaration order, empty when only the architecture matters: the parameters tile
    /// [0, ParameterCount), the float state tiles the floats after them, the int64 state its own count from 0, each in the order listed.
    /// </param>
    /// <param name="objective">The bound training maximises.</param>
    /// <param name="freeBits">The free-bits floor per latent dimension, ELBO only; 0 for none.</param>
    /// <param name="classes">Classes of a conditional model's label; 0 for unconditional.</param>
    /// <param name="image">The input's image shape for a convolutional model; null otherwise.</param>
    /// <param name="encoderConvolutions">Conv2d layers before the encoder's dense layers.</param>
    /// <param name="decoderReshape">The shape the decoder's dense output is reshaped to before its transposed convolutions.</param>
    /// <param name="decoderConvolutions">ConvTranspose2d layers after the reshape, the last being the output layer.</param>
    /// <param name="quantizer">The vector quantiser of a VQ-VAE in place of the Gaussian latent; null for a Gaussian latent.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size or setting is outside its range.</exception>
    /// <exception cref="ArgumentException">Free bits with another objective, or tensors that are not one flat buffer.</exception>
    public ModelDescriptor(string name, int input, int latent, Likelihood likelihood, double beta, int latentSamples, double sigma,
        IReadOnlyList<LayerDescriptor> encoder, IReadOnlyList<LayerDescriptor> decoder, IReadOnlyList<TensorDescriptor>? tensors = null,
        Objective objective = Objective.Elbo, double freeBits = 0, int classes = 0, ImageShape? image = null,
        IReadOnlyList<ConvolutionDescriptor>? encoderConvolutions = null, ImageShape? decoderReshape = null,
        IReadOnlyList<ConvolutionDescriptor>? decoderConvolutions = null, VectorQuantizerDescriptor? quantizer = null)
    {
        if (quantizer is not null)
        {
            if (quantizer.Codes < 2) throw new ArgumentOutOfRangeException(nameof(quantizer), quantizer.Codes, "A codebook needs at least 2 codes.");
            if (quantizer.Dimension < 1 || latent % quantizer.Dimension != 0)
                throw new ArgumentOutOfRangeException(nameof(quantizer), quantizer.Dimension, $"The code dimension must be >= 1 and divide the latent size {latent}.");
            if (!(quantizer.Commitment >= 0) || double.IsInfinity(quantizer.Commitment))
                throw new ArgumentOutOfRangeException(nameof(quantizer), quantizer.Commitment, "The commitment weight must be a finite number >= 0.");
            if (!(quantizer.Decay >= 0 && quantizer.Decay < 1)) throw new ArgumentOutOfRangeException(nameof(quantizer), quantizer.Decay, "The EMA decay must be in [0, 1).");
            if (quantizer.RestartAfter < 0) throw new ArgumentOutOfRangeException(nameof(quantizer), quantizer.RestartAfter, "The restart threshold must be >= 0.");
        }
        if (classes < 0 || classes == 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A conditional model needs at least 2 classes (0 is unconditional).");
        if (!Enum.IsDefined(objective)) throw new ArgumentOutOfRangeException(nameof(objective), objective, "Unknown objective.");
        if (!(freeBits >= 0) || double.IsInfinity(freeBits)) throw new ArgumentOutOfRangeException(nameof(freeBits), freeBits, "Free bits must be a finite number >= 0.");
        if (freeBits > 0 && objective != Objective.Elbo) throw new ArgumentException("Free bits apply to the ELBO only.", nameof(freeBits));
        if (input <= 0) throw new ArgumentOutOfRangeException(nameof(input), input, "Input size must be > 0.");
        if (latent <= 0) throw new ArgumentOutOfRangeException(nameof(latent), latent, "Latent size must be > 0.");
        if (latentSamples < 1) throw new ArgumentOutOfRangeException(nameof(latentSamples), latentSamples, "LatentSamples must be >= 1.");
        if (!(beta >= 0)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "Beta must be >= 0.");
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "Sigma must be > 0.");
        foreach (var layer in encoder.Concat(decoder))
            if (layer.Units <= 0) throw new ArgumentOutOfRangeException(nameof(encoder), layer.Units, "Layer units must be > 0.");

        Name = name;
        Input = input;
        Latent = latent;
        Likelihood = likelihood;
        Beta = beta;
        LatentSamples = latentSamples;
        Sigma = sigma;
        Encoder = encoder.ToArray();
        Objective = objective;
        FreeBits = freeBits;
        Classes = classes;
        Image = image;
        EncoderConvolutions = (encoderConvolutions ?? []).ToArray();
        DecoderReshape = decoderReshape;
        DecoderConvolutions = (decoderConvolutions ?? []).ToArray();
        Decoder = decoder.ToArray();
        Quantizer = quantizer;
        // The layout comes from the generator's plan, computed there once; here it is only checked to be one flat buffer:
        // the parameters from 0, the float state straight after them, the int64 state in its own count.
        Tensors = (tensors ?? []).ToArray();
        long parameters = 0, state = 0, integers = 0;
        foreach (var t in Tensors)
        {
            if (!Enum.IsDefined(t.Role) || !Enum.IsDefined(t.Init) || !Enum.IsDefined(t.Type) || (t.Type == TensorType.Int64 && t.Role != TensorRole.State))
                throw new ArgumentException($"Tensor '{t.Name}' of model '{name}' has an unknown role, initialisation or type, or is an int64 parameter.", nameof(tensors));
            if (t.Role == TensorRole.Parameter) parameters += Length(t, name);
            else if (t.Type == TensorType.Float32) state += Length(t, name);
            else integers += Length(t, name);
        }
        if (parameters + state > int.MaxValue)
            throw new ArgumentException($"The tensors of model '{name}' end past {int.MaxValue} floats: the flat layout does not fit one buffer.", nameof(tensors));
        ParameterCount = (int)parameters;
        StateCount = (int)state;
        Int64Count = (int)integers;
        long nextParameter = 0, nextState = parameters, nextInteger = 0;
        foreach (var t in Tensors)
        {
            ref long next = ref t.Role == TensorRole.Parameter ? ref nextParameter : ref t.Type == TensorType.Float32 ? ref nextState : ref nextInteger;
            if (t.Offset != next)
                throw new ArgumentException($"Tensor '{t.Name}' of model '{name}' does not continue the flat layout at offset {next} " +
                                            $"({(t.Role == TensorRole.Parameter ? "parameters" : t.Type == TensorType.Float32 ? "float state, after the parameters" : "int64 state")}).", nameof(tensors));
            next += t.Length;
        }
    }

    /// <summary>A tensor's length, refusing a non-positive dimension (an empty shape is a scalar: only int64 state may be one).</summary>
    private static long Length(TensorDescriptor t, string model)
    {
        if ((t.Shape.Length == 0 && t.Type != TensorType.Int64) || t.Shape.Any(d => d <= 0))
            throw new ArgumentException($"Tensor '{t.Name}' of model '{model}' does not have a positive shape.", "tensors");
        long length = 1;
        foreach (int d in t.Shape) length = Math.Min(length * d, (long)int.MaxValue + 1);
        if (length > int.MaxValue)
            throw new ArgumentException($"Tensor '{t.Name}' of model '{model}' holds more than {int.MaxValue} values.", "tensors");
        return length;
    }

    /// <summary>The model's type name.</summary>
    public string Name { get; }
    /// <summary>Values per example: the width of x and of the decoder's output.</summary>
    public int Input { get; }

    /// <summary>Dimensions of z.</summary>
    public int Latent { get; }

    /// <summary>The decoder's distribution p(x|z).</summary>
    public Likelihood Likelihood { get; }

    /// <summary>The compiled KL weight (the runtime's <see cref="VaeModel.KlWeight"/> starts here).</summary>
    public double Beta { get; }

    /// <summary>Noise draws per example: L of the SGVB estimator, or K of an importance-weighted bound.</summary>
    public int LatentSamples { get; }

    /// <summary>The bound training maximises (with K = <see cref="LatentSamples"/> for the importance-weighted ones).</summary>
    public Objective Objective { get; }

    /// <summary>The free-bits floor per latent dimension that training starts with (ELBO only; 0 is none).</summary>
    public double FreeBits { get; }

    /// <summary>Classes of a conditional model's label (appended one-hot to x, or to the last encoder convolution's flattened output, and to z); 0 for an unconditional model.</summary>
    public int Classes { get; }

    /// <summary>True when every call takes class labels (<see cref="Classes"/> &gt; 0).</summary>
    public bool IsConditional => Classes > 0;

    /// <summary>The input's image shape when the model has convolutions (Input is its size).</summary>
    public ImageShape? Image { get; }

    /// <summary>Encoder Conv2d layers, before the dense <see cref="Encoder"/> layers (named encoder.0.. first).</summary>
    public IReadOnlyList<ConvolutionDescriptor> EncoderConvolutions { get; }

    /// <summary>The image shape the decoder's dense output (or z) is reshaped to before <see cref="DecoderConvolutions"/>.</summary>
    public ImageShape? DecoderReshape { get; }

    /// <summary>Decoder ConvTranspose2d layers after the reshape; the last is the output layer (decoder.out).</summary>
    public IReadOnlyList<ConvolutionDescriptor> DecoderConvolutions { get; }

    /// <summary>The fixed decoder standard deviation of <see cref="Likelihood.Gaussian"/> (unused otherwise).</summary>
    public double Sigma { get; }

    /// <summary>The vector quantiser of a VQ-VAE, or null for a Gaussian latent.</summary>
    public VectorQuantizerDescriptor? Quantizer { get; }

    /// <summary>Code positions per example of a VQ-VAE (Latent / Dimension); 0 for a Gaussian latent.</summary>
    public int QuantizedPositions => Quantizer is null ? 0 : Latent / Quantizer.Dimension;

    /// <summary>The encoder's hidden layers, from x towards the mu and logvar heads.</summary>
    public IReadOnlyList<LayerDescriptor> Encoder { get; }

    /// <summary>The decoder's hidden layers, from z towards the output layer.</summary>
    public IReadOnlyList<LayerDescriptor> Decoder { get; }

    /// <summary>Every tensor of the flat buffer, in offset order, with PyTorch names and shapes.</summary>
    public IReadOnlyList<TensorDescriptor> Tensors { get; }

    /// <summary>Trained floats: the <see cref="TensorRole.Parameter"/> tensors, which tile [0, ParameterCount) of the flat buffer.</summary>
    public int ParameterCount { get; }

    /// <summary>Floats of float <see cref="TensorRole.State"/> tensors (BatchNorm's running statistics), after the parameters in the flat buffer.</summary>
    public int StateCount { get; }

    /// <summary>Int64 <see cref="TensorRole.State"/> values (BatchNorm's num_batches_tracked), kept by the host.</summary>
    public int Int64Count { get; }

    /// <summary>
    /// Each BatchNorm layer: its name (<c>encoder.0.bn</c>), channels, values per channel of one row, and whether its
    /// rows are examples times latent samples (the decoder's) rather than examples.
    /// </summary>
    public IEnumerable<(string Name, int Channels, int Area, bool PerSample)> BatchNormLayers
    {
        get
        {
            for (int i = 0; i < EncoderConvolutions.Count; i++)
                if (EncoderConvolutions[i].BatchNorm) yield return ($"encoder.{i}.bn", EncoderConvolutions[i].Out.Channels, EncoderConvolutions[i].Out.Height * EncoderConvolutions[i].Out.Width, false);
            for (int i = 0; i < DecoderConvolutions.Count; i++)
                if (DecoderConvolutions[i].BatchNorm) yield return ($"decoder.{Decoder.Count + i}.bn", DecoderConvolutions[i].Out.Channels, DecoderConvolutions[i].Out.Height * DecoderConvolutions[i].Out.Width, true);
        }
    }

    /// <summary>Finds a tensor by its PyTorch name.</summary>
    public TensorDescriptor Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name)
        ?? throw new KeyNotFoundException($"Model '{Name}' has no tensor '{name}'. It has: {string.Join(", ", Tensors.Select(t => t.Name))}.");

    /// <summary>The architecture as compact JSON, for a checkpoint's metadata.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WriteNumber("input", Input);
            w.WriteNumber("latent", Latent);
            w.WriteString("likelihood", Likelihood.ToString());
            w.WriteNumber("beta", Beta);
            w.WriteNumber("latent_samples", LatentSamples);
            w.WriteNumber("sigma", Sigma);
            w.WriteString("objective", Objective.ToString());
            w.WriteNumber("free_bits", FreeBits);
            w.WriteNumber("classes", Classes);
            if (Image is not null)
            {
                WriteShape(w, "image", Image);
                WriteConvolutions(w, "encoder_convolutions", EncoderConvolutions);
                if (DecoderReshape is not null) WriteShape(w, "decoder_reshape", DecoderReshape);
                WriteConvolutions(w, "decoder_convolutions", DecoderConvolutions);
            }
            if (Quantizer is { } q)
            {
                // Written only for a VQ-VAE, so a Gaussian model's architecture reads as before.
                w.WriteStartObject("quantizer");
                w.WriteNumber("codes", q.Codes);
                w.WriteNumber("dimension", q.Dimension);
                w.WriteNumber("commitment", q.Commitment);
                w.WriteNumber("decay", q.Decay);
                w.WriteNumber("restart_after", q.RestartAfter);
                w.WriteBoolean("convolutional", q.Convolutional);
                w.WriteEndObject();
            }
            WriteLayers(w, "encoder", Encoder);
            WriteLayers(w, "decoder", Decoder);
            w.WriteStartArray("tensors");
            foreach (var t in Tensors)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteNumber("offset", t.Offset);
                w.WriteString("role", t.Role.ToString());
                w.WriteNumber("fan_in", t.FanIn);
                // Written only when not the default, so the architecture of a model without BatchNorm reads as before.
                if (t.Init != TensorInit.Uniform) w.WriteString("init", t.Init.ToString());
                if (t.Type != TensorType.Float32) w.WriteString("type", t.Type.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteShape(Utf8JsonWriter w, string name, ImageShape shape)
    {
        w.WriteStartArray(name);
        w.WriteNumberValue(shape.Channels);
        w.WriteNumberValue(shape.Height);
        w.WriteNumberValue(shape.Width);
        w.WriteEndArray();
    }

    private static void WriteConvolutions(Utf8JsonWriter w, string name, IReadOnlyList<ConvolutionDescriptor> layers)
    {
        w.WriteStartArray(name);
        foreach (var c in layers)
        {
            w.WriteStartObject();
            w.WriteNumber("out_channels", c.OutChannels);
            w.WriteNumber("kernel", c.Kernel);
            w.WriteNumber("stride", c.Stride);
            w.WriteNumber("padding", c.Padding);
            w.WriteNumber("output_padding", c.OutputPadding);
            w.WriteString("activation", c.Activation.ToString());
            WriteShape(w, "in", c.In);
            WriteShape(w, "out", c.Out);
            if (c.BatchNorm) w.WriteBoolean("batch_norm", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteLayers(Utf8JsonWriter w, string name, IReadOnlyList<LayerDescriptor> layers)
    {
        w.WriteStartArray(name);
        foreach (var layer in layers)
        {
            w.WriteStartObject();
            w.WriteNumber("units", layer.Units);
            w.WriteString("activation", layer.Activation.ToString());
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static ImageShape Shape(JsonElement e)
    {
        var v = e.EnumerateArray().Select(d => d.GetInt32()).ToArray();
        if (v.Length != 3) throw new FormatException("an image shape needs channels, height and width");
        return new ImageShape(v[0], v[1], v[2]);
    }

    private static ConvolutionDescriptor[] Convolutions(JsonElement e) => e.EnumerateArray().Select(c => new ConvolutionDescriptor(
        c.GetProperty("out_channels").GetInt32(), c.GetProperty("kernel").GetInt32(), c.GetProperty("stride").GetInt32(),
        c.GetProperty("padding").GetInt32(), c.GetProperty("output_padding").GetInt32(),
        Enum.Parse<Activation>(c.GetProperty("activation").GetString()!), Shape(c.GetProperty("in")), Shape(c.GetProperty("out")),
        c.TryGetProperty("batch_norm", out var batchNorm) && batchNorm.GetBoolean())).ToArray();

    /// <summary>Reads what <see cref="ToJson"/> wrote; throws <see cref="FormatException"/> naming the field at fault.</summary>
    public static ModelDescriptor FromJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            LayerDescriptor[] Layers(string name) => root.GetProperty(name).EnumerateArray()
                .Select(e => new LayerDescriptor(e.GetProperty("units").GetInt32(), Enum.Parse<Activation>(e.GetProperty("activation").GetString()!)))
                .ToArray();
            return new ModelDescriptor(
                root.GetProperty("name").GetString() ?? "",
                root.GetProperty("input").GetInt32(),
                root.GetProperty("latent").GetInt32(),
                Enum.Parse<Likelihood>(root.GetProperty("likelihood").GetString()!),
                root.GetProperty("beta").GetDouble(),
                root.GetProperty("latent_samples").GetInt32(),
                root.GetProperty("sigma").GetDouble(),
                Layers("encoder"),
                Layers("decoder"),
                // Files written before the layout travelled with the architecture have none: compare architectures only.
                root.TryGetProperty("tensors", out var tensors)
                    ? tensors.EnumerateArray().Select(e => new TensorDescriptor(
                        e.GetProperty("name").GetString()!,
                        e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
                        e.GetProperty("offset").GetInt32(),
                        Enum.Parse<TensorRole>(e.GetProperty("role").GetString()!),
                        e.GetProperty("fan_in").GetInt32(),
                        e.TryGetProperty("init", out var init) ? Enum.Parse<TensorInit>(init.GetString()!) : TensorInit.Uniform,
                        e.TryGetProperty("type", out var type) ? Enum.Parse<TensorType>(type.GetString()!) : TensorType.Float32)).ToArray()
                    : null,
                // Files written before objectives existed are ELBO models.
                root.TryGetProperty("objective", out var objective) ? Enum.Parse<Objective>(objective.GetString()!) : Objective.Elbo,
                root.TryGetProperty("free_bits", out var freeBits) ? freeBits.GetDouble() : 0,
                root.TryGetProperty("classes", out var classes) ? classes.GetInt32() : 0,
                root.TryGetProperty("image", out var image) ? Shape(image) : null,
                root.TryGetProperty("encoder_convolutions", out var encoderConvolutions) ? Convolutions(encoderConvolutions) : null,
                root.TryGetProperty("decoder_reshape", out var reshape) ? Shape(reshape) : null,
                root.TryGetProperty("decoder_convolutions", out var decoderConvolutions) ? Convolutions(decoderConvolutions) : null,
                root.TryGetProperty("quantizer", out var q)
                    ? new VectorQuantizerDescriptor(q.GetProperty("codes").GetInt32(), q.GetProperty("dimension").GetInt32(), q.GetProperty("commitment").GetDouble(),
                        q.GetProperty("decay").GetDouble(), q.GetProperty("restart_after").GetInt32(), q.GetProperty("convolutional").GetBoolean())
                    : null);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new FormatException($"The architecture description is not valid: {e.Message}", e);
        }
    }

    /// <summary>A one-line summary such as 784-400(Relu)-[20]-400(Relu)-784 Bernoulli.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Image?.ToString() ?? Input.ToString(CultureInfo.InvariantCulture));
        foreach (var c in EncoderConvolutions) sb.Append(CultureInfo.InvariantCulture, $"-{c.Out}({(c.BatchNorm ? "BatchNorm, " : "")}{c.Activation})");
        foreach (var l in Encoder) sb.Append(CultureInfo.InvariantCulture, $"-{l.Units}({l.Activation})");
        if (Quantizer is { } q) sb.Append(CultureInfo.InvariantCulture, $"-[{QuantizedPositions}x{q.Dimension} of {q.Codes} codes]");
        else sb.Append(CultureInfo.InvariantCulture, $"-[{Latent}]");
        foreach (var l in Decoder) sb.Append(CultureInfo.InvariantCulture, $"-{l.Units}({l.Activation})");
        if (DecoderReshape is not null) sb.Append(CultureInfo.InvariantCulture, $"-{DecoderReshape}");
        for (int i = 0; i + 1 < DecoderConvolutions.Count; i++)
            sb.Append(CultureInfo.InvariantCulture, $"-{DecoderConvolutions[i].Out}({(DecoderConvolutions[i].BatchNorm ? "BatchNorm, " : "")}{DecoderConvolutions[i].Activation})");
        sb.Append(CultureInfo.InvariantCulture, $"-{Image?.ToString() ?? Input.ToString(CultureInfo.InvariantCulture)} {Likelihood}");
        if (Likelihood == Likelihood.Gaussian) sb.Append(CultureInfo.InvariantCulture, $"(sigma={Sigma})");
        if (Beta != 1) sb.Append(CultureInfo.InvariantCulture, $" beta={Beta}");
        if (LatentSamples != 1) sb.Append(CultureInfo.InvariantCulture, $" L={LatentSamples}");
        if (Objective != Objective.Elbo) sb.Append(CultureInfo.InvariantCulture, $" {Objective}");
        if (FreeBits != 0) sb.Append(CultureInfo.InvariantCulture, $" free bits {FreeBits}");
        if (Classes != 0) sb.Append(CultureInfo.InvariantCulture, $" conditional on {Classes} classes");
        return sb.ToString();
    }

    /// <summary>Human-readable differences in architecture (the name is not compared), empty when compatible.</summary>
    public IReadOnlyList<string> DifferencesFrom(ModelDescriptor other)
    {
        var d = new List<string>();
        if (Input != other.Input) d.Add($"input size {Input} vs {other.Input}");
        if (Latent != other.Latent) d.Add($"latent size {Latent} vs {other.Latent}");
        if (Likelihood != other.Likelihood) d.Add($"likelihood {Likelihood} vs {other.Likelihood}");
        if (Likelihood == Likelihood.Gaussian && other.Likelihood == Likelihood.Gaussian && Sigma != other.Sigma) d.Add($"sigma {Sigma} vs {other.Sigma}");
        if (Beta != other.Beta) d.Add($"beta {Beta} vs {other.Beta}");
        if (LatentSamples != other.LatentSamples) d.Add($"latent samples {LatentSamples} vs {other.LatentSamples}");
        if (Objective != other.Objective) d.Add($"objective {Objective} vs {other.Objective}");
        if (FreeBits != other.FreeBits) d.Add($"free bits {FreeBits} vs {other.FreeBits}");
        if (Classes != other.Classes) d.Add($"label classes {Classes} vs {other.Classes}");
        if (!Equals(Quantizer, other.Quantizer)) d.Add($"quantizer {Quantizer?.ToString() ?? "none"} vs {other.Quantizer?.ToString() ?? "none"}");
        if (!Equals(Image, other.Image)) d.Add($"image input {Image?.ToString() ?? "none"} vs {other.Image?.ToString() ?? "none"}");
        if (!EncoderConvolutions.SequenceEqual(other.EncoderConvolutions)) d.Add($"encoder convolutions {Describe(EncoderConvolutions)} vs {Describe(other.EncoderConvolutions)}");
        if (!Equals(DecoderReshape, other.DecoderReshape)) d.Add($"decoder reshape {DecoderReshape?.ToString() ?? "none"} vs {other.DecoderReshape?.ToString() ?? "none"}");
        if (!DecoderConvolutions.SequenceEqual(other.DecoderConvolutions)) d.Add($"decoder convolutions {Describe(DecoderConvolutions)} vs {Describe(other.DecoderConvolutions)}");
        CompareLayers(d, "encoder", Encoder, other.Encoder);
        CompareLayers(d, "decoder", Decoder, other.Decoder);
        if (d.Count == 0 && Tensors.Count > 0 && other.Tensors.Count > 0 && !Tensors.SequenceEqual(other.Tensors))
            d.Add("the same layers in a different parameter layout");
        return d;
    }

    private static string Describe(IReadOnlyList<ConvolutionDescriptor> layers) =>
        layers.Count == 0 ? "none" : string.Join(" ", layers.Select(c => $"{c.In}->{c.Out}(k{c.Kernel} s{c.Stride} p{c.Padding}{(c.BatchNorm ? " BatchNorm" : "")} {c.Activation})"));

    private static void CompareLayers(List<string> d, string side, IReadOnlyList<LayerDescriptor> a, IReadOnlyList<LayerDescriptor> b)
    {
        if (a.Count != b.Count) d.Add($"{side} has {a.Count} hidden layers vs {b.Count}");
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            if (a[i].Units != b[i].Units) d.Add($"{side}.{i} has {a[i].Units} units vs {b[i].Units}");
            if (a[i].Activation != b[i].Activation) d.Add($"{side}.{i} uses {a[i].Activation} vs {b[i].Activation}");
        }
    }

    /// <summary>Equal when the names match and no architecture field differs (the differences a checkpoint load names).</summary>
    public bool Equals(ModelDescriptor? other) => other is not null && Name == other.Name && DifferencesFrom(other).Count == 0;
    /// <summary>Equal to another <see cref="ModelDescriptor"/> by <see cref="Equals(ModelDescriptor?)"/>.</summary>
    public override bool Equals(object? obj) => Equals(obj as ModelDescriptor);

    /// <summary>A hash of the name and sizes, consistent with <see cref="Equals(ModelDescriptor?)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(Name, Input, Latent, Likelihood, LatentSamples);
}
