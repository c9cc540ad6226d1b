using System.Globalization;

namespace Vae.Files;

/// <summary>
/// Model checkpoints as safetensors files: parameters under PyTorch nn.Linear names and shapes, optimiser state under
/// <c>optimizer.{tensor}.{state}</c>, and the format version, architecture, step, seed, optimiser and a SHA-256 of the
/// tensor data in the header's metadata. Files are written to a temporary name and renamed, so a crash never leaves a
/// half-written checkpoint.
/// </summary>
/// <remarks>
/// <para>
/// Loading is strict by default: the format version must be one this version reads, the data must match its recorded
/// SHA-256, the file must hold every tensor of the model and nothing else, values must be finite and below
/// <see cref="CheckpointLoadOptions.MaxMagnitude"/>, and resuming (passing an optimiser) needs the step, the optimiser's
/// type and all of its state. <see cref="CheckpointLoadOptions"/> relaxes each rule for callers who mean it.
/// Files written by PyTorch (no Vae metadata, F32, F16, BF16 or F64 tensors) load when their names and shapes match.
/// </para>
/// <para>
/// Every method throws only the exceptions it lists. Anything wrong with a file's content, metadata or kind is an
/// <see cref="InvalidDataException"/> whose message starts with the file's path and names the tensor or metadata
/// entry at fault; a model whose load fails is left unchanged.
/// </para>
/// </remarks>
public static class Checkpoint
{
    /// <summary>The metadata entry holding the checkpoint format version (<see cref="FormatValue"/>).</summary>
    public const string FormatKey = "format";

    /// <summary>The format this version writes. It reads <see cref="ReadableFormats"/>.</summary>
    public const string FormatValue = "vae-checkpoint-2";

    /// <summary>The metadata entry holding the model's architecture as JSON, compared field by field on load.</summary>
    public const string ArchitectureKey = "architecture";

    /// <summary>The metadata entry holding the optimiser steps taken (<see cref="VaeModel.Step"/>).</summary>
    public const string StepKey = "step";

    /// <summary>The metadata entry holding the model's noise seed (<see cref="VaeModel.Seed"/>).</summary>
    public const string SeedKey = "seed";

    /// <summary>The metadata entry holding the optimiser's settings (<see cref="Optimizer.Describe"/>), for people.</summary>
    public const string OptimizerKey = "optimizer";

    /// <summary>The metadata entry holding the optimiser's type name, checked when resuming.</summary>
    public const string OptimizerTypeKey = "optimizer_type";

    /// <summary>The SHA-256 of the data buffer (every tensor's bytes, in file order), lowercase hex.</summary>
    public const string DataSha256Key = "data_sha256";

    /// <summary>
    /// The versions this library reads: vae-checkpoint-1 (no checksum) and vae-checkpoint-2 (checksum required).
    /// A file whose format starts with "vae-checkpoint-" but is not listed here is refused; a file with another
    /// format (PyTorch's "pt") or none is read as a plain state dict.
    /// </summary>
    public static IReadOnlyList<string> ReadableFormats { get; } = ["vae-checkpoint-1", FormatValue];

    internal const string VaeFormatPrefix = "vae-checkpoint-";

    /// <summary>The keys <see cref="Save"/> writes itself; extra metadata may not use them.</summary>
    internal static readonly HashSet<string> ReservedKeys = new(StringComparer.Ordinal)
    {
        FormatKey, ArchitectureKey, StepKey, SeedKey, OptimizerKey, OptimizerTypeKey, DataSha256Key,
    };

    // The state names every optimiser of this library uses (Adam: exp_avg, exp_avg_sq; SGD: momentum_buffer); a file
    // loaded without an optimiser may hold any of them, which is then skipped.
    private static readonly HashSet<string> KnownStateNames = new(StringComparer.Ordinal) { "exp_avg", "exp_avg_sq", "momentum_buffer" };

    // Adam divides by the square root of this state: a negative value can only be corruption.
    private const string SecondMomentState = "exp_avg_sq";

    private const string OptimizerPrefix = "optimizer.";
    private const int NamesListed = 10;

    /// <summary>
    /// Writes the model (and the optimiser's state, when given) to <paramref name="path"/> atomically, with the
    /// SHA-256 of the tensor data in its metadata. Stale temporary files of earlier killed saves of the same path
    /// are removed.
    /// </summary>
    /// <param name="model">The model to save; its step and seed go in the metadata.</param>
    /// <param name="path">The file to write (normally *.safetensors); its folder must exist.</param>
    /// <param name="optimizer">The optimiser whose state to save for resuming, or null for the model alone.</param>
    /// <param name="extraMetadata">The caller's own entries; they may not use the keys the checkpoint writes itself.</param>
    /// <exception cref="ArgumentException">The path is empty or invalid, or <paramref name="extraMetadata"/> uses a reserved key.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder or the file may not be written.</exception>
    /// <exception cref="IOException">
    /// The write failed (a full disk, an I/O error); the message says the previous checkpoint is intact, or that none
    /// was created, and the partial temporary file is removed.
    /// </exception>
    public static void Save(VaeModel model, string path, Optimizer? optimizer = null, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(path);
        if (extraMetadata is not null)
        {
            foreach (var (key, value) in extraMetadata)
            {
                if (key is null || value is null)
                    throw new ArgumentException("Metadata keys and values must not be null.", nameof(extraMetadata));
                if (ReservedKeys.Contains(key))
                    throw new ArgumentException($"Metadata key '{key}' is written by the checkpoint itself; choose another name.", nameof(extraMetadata));
            }
        }

        var architecture = model.Architecture;
        var parameters = model.GetParameters();
        var stateValues = model.GetState();
        var integers = model.GetInt64State();
        var tensors = new List<SafeTensor>();
        // In the model's order, PyTorch's state_dict order: BatchNorm's running statistics (F32) and num_batches_tracked
        // (I64) beside its weight and bias.
        foreach (var t in architecture.Tensors)
            tensors.Add(ToFile(t, architecture, parameters, stateValues, integers));

        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = FormatValue,
            [ArchitectureKey] = architecture.ToJson(),
            [StepKey] = model.Step.ToString(CultureInfo.InvariantCulture),
            [SeedKey] = model.Seed.ToString(CultureInfo.InvariantCulture),
        };
        if (optimizer is not null)
        {
            metadata[OptimizerKey] = optimizer.Describe();
            metadata[OptimizerTypeKey] = optimizer.GetType().Name;
            var state = new float[architecture.ParameterCount];
            for (int slot = 0; slot < optimizer.StateNames.Count; slot++)
            {
                model.GetOptimizerState(slot, state);
                foreach (var t in architecture.Tensors.Where(t => t.Role == TensorRole.Parameter))
                    tensors.Add(new SafeTensor($"{OptimizerPrefix}{t.Name}.{optimizer.StateNames[slot]}", t.Shape, state.AsSpan(t.Offset, t.Length).ToArray()));
            }
        }
        metadata[DataSha256Key] = SafeTensors.ComputeDataSha256(tensors);
        if (extraMetadata is not null)
            foreach (var (key, value) in extraMetadata) metadata[key] = value;
        SafeTensors.WriteFile(path, tensors, metadata);
    }

    private static SafeTensor ToFile(TensorDescriptor t, ModelDescriptor architecture, float[] parameters, float[] state, long[] integers) =>
        t.Type == TensorType.Int64 ? SafeTensor.FromInt64(t.Name, t.Shape, integers.AsSpan(t.Offset, t.Length).ToArray())
        : t.Role == TensorRole.State ? new SafeTensor(t.Name, t.Shape, state.AsSpan(t.Offset - architecture.ParameterCount, t.Length).ToArray())
        : new SafeTensor(t.Name, t.Shape, parameters.AsSpan(t.Offset, t.Length).ToArray());

    /// <summary>
    /// The architecture a checkpoint was saved with, or null when the file carries none (e.g. written by PyTorch).
    /// Reads and checks the header only (see <see cref="ReadMetadata"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The header or the metadata is malformed (the architecture is not valid JSON, has a field of the wrong type or
    /// an unknown value, the format version is unknown...), or the path is not a regular file.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static ModelDescriptor? ReadArchitecture(string path) => ReadMetadata(path).Architecture;

    /// <summary>
    /// The metadata of a checkpoint (format, architecture, step, seed, optimiser, and anything the caller added), with
    /// the checkpoint's own entries checked and parsed, and typed readers for the caller's. Reads the header only: the
    /// layout is checked against the file's length, the data (and its checksum) only by a load.
    /// </summary>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The header or the checkpoint's own metadata is malformed, or the path is not a regular file.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static CheckpointMetadata ReadMetadata(string path)
    {
        var header = SafeTensors.ReadHeader(path);
        return new CheckpointMetadata(header.Source, header.Metadata);
    }

    /// <summary>
    /// Loads parameters, the step and the noise seed (and the optimiser's state, when <paramref name="optimizer"/> is
    /// given) into <paramref name="model"/>. A file of another architecture is refused with every difference named;
    /// the model is left unchanged on any error.
    /// </summary>
    /// <param name="model">The model to load into; it must have the file's architecture.</param>
    /// <param name="path">The checkpoint or PyTorch state dict (safetensors).</param>
    /// <param name="optimizer">
    /// Resume training with this optimiser: the file must then hold the step, the same optimiser type and all of its
    /// state. Without one, any optimiser state in the file is skipped.
    /// </param>
    /// <param name="options">How strict to be; <see cref="CheckpointLoadOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The file cannot be loaded into this model: it is malformed, not a regular file, of an unknown format version, of
    /// another architecture, corrupted (checksum mismatch), holds tensors the model does not have or lacks ones it
    /// has, holds NaN, infinite or out-of-range values, or lacks what resuming with <paramref name="optimizer"/> needs.
    /// The message names the file and the tensor or metadata entry at fault.
    /// </exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">Reading the file failed.</exception>
    public static void LoadInto(VaeModel model, string path, Optimizer? optimizer = null, CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = SafeTensors.ReadFile(path);
        Load(model, file, optimizer, options ?? CheckpointLoadOptions.Default);
    }

    /// <summary>Loads a checkpoint from <paramref name="input"/>, as <see cref="LoadInto(VaeModel, string, Optimizer?, CheckpointLoadOptions?)"/> does.</summary>
    /// <param name="model">The model to load into; it must have the file's architecture.</param>
    /// <param name="input">A readable stream positioned at the file's start.</param>
    /// <param name="nameForErrors">Names the source in exception messages.</param>
    /// <param name="optimizer">Resume training with this optimiser, as for the path overload.</param>
    /// <param name="options">How strict to be; <see cref="CheckpointLoadOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">The stream cannot be read.</exception>
    /// <exception cref="InvalidDataException">The content cannot be loaded into this model (see the path overload).</exception>
    /// <exception cref="IOException">The stream failed.</exception>
    public static void LoadInto(VaeModel model, Stream input, string nameForErrors, Optimizer? optimizer = null, CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = SafeTensors.Read(input, nameForErrors);
        Load(model, file, optimizer, options ?? CheckpointLoadOptions.Default);
    }

    private static void Load(VaeModel model, SafeTensorsFile file, Optimizer? optimizer, CheckpointLoadOptions options)
    {
        string source = file.Source;
        var metadata = new CheckpointMetadata(source, file.Metadata);

        // First, because a corrupted file fails every later check in a more puzzling way.
        if (options.VerifyChecksum && metadata.DataSha256 is null && metadata.Format == FormatValue)
            throw Bad(source, $"metadata '{DataSha256Key}' is missing, though every {FormatValue} file carries it: the metadata is " +
                              $"corrupt (loading with {nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.VerifyChecksum)} = false accepts it unverified)");
        if (options.VerifyChecksum && metadata.DataSha256 is string recorded && recorded != file.DataSha256)
            throw Bad(source, $"the tensor data is corrupt: its SHA-256 is {file.DataSha256} but metadata '{DataSha256Key}' " +
                              $"records {recorded} from when it was written. Restore the file from a copy (loading with " +
                              $"{nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.VerifyChecksum)} = false accepts it as it is)");

        var architecture = model.Architecture;
        if (options.Strict && metadata.Architecture is ModelDescriptor saved)
        {
            var differences = architecture.DifferencesFrom(saved);
            if (differences.Count > 0)
                throw Bad(source, $"it holds a different architecture ({saved}) from {architecture.Name} ({architecture}): " +
                                  string.Join("; ", differences.Select(d => "model vs file: " + d)));
        }

        // Resuming needs the optimiser's kind and the step before anything else matters.
        if (optimizer is not null)
        {
            string type = optimizer.GetType().Name;
            if (metadata.OptimizerType is not string savedType)
                throw Bad(source, $"it carries no optimiser state (metadata '{OptimizerTypeKey}' is missing), so training cannot resume " +
                                  $"with the {type} given; load without an optimiser to start {type} afresh from these weights");
            if (savedType != type)
                throw Bad(source, $"it holds {savedType} state (metadata '{OptimizerTypeKey}'), but the optimiser given is {type}; " +
                                  $"load without an optimiser to start {type} afresh from these weights");
            if (metadata.Step is null)
                throw Bad(source, $"metadata '{StepKey}' is missing: resuming needs the step, which keys the training noise " +
                                  "(starting again from step 0 would repeat the noise of the first steps)");
        }

        var parameterNames = new HashSet<string>(architecture.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        var trainedNames = new HashSet<string>(architecture.Tensors.Where(t => t.Role == TensorRole.Parameter).Select(t => t.Name), StringComparer.Ordinal);
        if (options.Strict)
        {
            var unexpected = file.Tensors.Select(t => t.Name)
                .Where(name => !IsExpected(name, parameterNames, trainedNames, optimizer))
                .ToList();
            if (unexpected.Count > 0)
                throw Bad(source, $"it holds {Count(unexpected.Count, "tensor")} that {architecture.Name} does not have: {List(unexpected)}" +
                                  UnexpectedHint(unexpected, optimizer) +
                                  $". Load with {nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.Strict)} = false to load only the tensors the model has");
        }

        // The flat buffer (parameters, then the float state) and the int64 state, filled tensor by tensor.
        float[] parameters;
        long[] integers;
        if (options.Strict)
        {
            parameters = new float[architecture.ParameterCount + architecture.StateCount];
            integers = new long[architecture.Int64Count];
            foreach (var t in architecture.Tensors)
                CopyAny(file, Require(file, t.Name, t, what: t.Role == TensorRole.Parameter ? "parameter" : "state"), t, parameters, integers, options);
        }
        else
        {
            // A partial load: tensors the file lacks keep the model's values.
            parameters = [.. model.GetParameters(), .. model.GetState()];
            integers = model.GetInt64State();
            int found = 0;
            foreach (var t in architecture.Tensors)
            {
                if (!file.TryGet(t.Name, out var tensor)) continue;
                CopyAny(file, tensor, t, parameters, integers, options);
                found++;
            }
            if (found == 0)
                throw Bad(source, $"it holds none of the tensors of {architecture.Name} ({List(architecture.Tensors.Select(t => t.Name).ToList())}); " +
                                  $"it has: {List(file.Tensors.Select(t => t.Name).ToList())}");
        }

        float[][]? state = null;
        long step = metadata.Step ?? model.Step;
        if (optimizer is not null)
        {
            string type = optimizer.GetType().Name;
            state = new float[optimizer.StateNames.Count][];
            for (int slot = 0; slot < state.Length; slot++)
            {
                string stateName = optimizer.StateNames[slot];
                state[slot] = new float[architecture.ParameterCount];
                foreach (var t in architecture.Tensors.Where(t => t.Role == TensorRole.Parameter))
                {
                    string name = $"{OptimizerPrefix}{t.Name}.{stateName}";
                    Copy(file, Require(file, name, t, what: $"{type} state"), t, state[slot], options, nonNegative: stateName == SecondMomentState);
                }
            }
        }
        ulong seed = metadata.Seed ?? model.Seed;

        // Everything is read and checked: only now touch the model.
        model.SetParameters(parameters.AsSpan(0, architecture.ParameterCount));
        model.SetState(parameters.AsSpan(architecture.ParameterCount));
        model.SetInt64State(integers);
        if (state is not null)
            for (int slot = 0; slot < state.Length; slot++) model.SetOptimizerState(optimizer!, slot, state[slot]);
        model.Step = step;
        model.Seed = seed;
    }

    private static bool IsExpected(string name, HashSet<string> parameterNames, HashSet<string> trainedNames, Optimizer? optimizer)
    {
        if (parameterNames.Contains(name)) return true;
        if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)) return false;
        int dot = name.LastIndexOf('.');
        if (dot <= OptimizerPrefix.Length) return false;
        string tensor = name[OptimizerPrefix.Length..dot];
        string state = name[(dot + 1)..];
        // The optimiser keeps state for trained tensors only, never for BatchNorm's running statistics.
        if (!trainedNames.Contains(tensor)) return false;
        // Resuming: exactly the given optimiser's state. Not resuming: any optimiser's state, which is skipped.
        return optimizer is null ? KnownStateNames.Contains(state) : optimizer.StateNames.Contains(state);
    }

    private static string UnexpectedHint(List<string> unexpected, Optimizer? optimizer) =>
        optimizer is not null && unexpected.Any(n => n.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            ? $" (the {optimizer.GetType().Name} given keeps {(optimizer.StateNames.Count == 0 ? "no state" : string.Join(" and ", optimizer.StateNames))})"
            : "";

    private static SafeTensor Require(SafeTensorsFile file, string name, TensorDescriptor layout, string what)
    {
        if (file.TryGet(name, out var tensor)) return tensor;
        var names = file.Tensors.Select(t => t.Name).ToList();
        throw Bad(file.Source, $"it has no {what} tensor '{name}' (shape {layout.ShapeText}); it has " +
                               (names.Count == 0 ? "no tensors" : List(names)));
    }

    /// <summary>A tensor of the model from the file: floats into the flat buffer at its offset, int64 into the host's integers.</summary>
    private static void CopyAny(SafeTensorsFile file, SafeTensor tensor, TensorDescriptor layout, float[] floats, long[] integers, CheckpointLoadOptions options)
    {
        if (layout.Type == TensorType.Int64)
        {
            if (tensor.Int64Data is not { } values)
                throw Bad(file.Source, $"tensor '{tensor.Name}' is {tensor.SourceDtype}, the model keeps it as I64 (64-bit integers)");
            if (!tensor.Shape.AsSpan().SequenceEqual(layout.Shape))
                throw Bad(file.Source, $"tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}], the model needs {layout.ShapeText}");
            if (!options.AllowNonFinite)
                for (int i = 0; i < values.Length; i++)
                    if (values[i] < 0)
                        throw Bad(file.Source, $"tensor '{tensor.Name}' holds the negative count {values[i]} at index {i}; a number of batches cannot be negative " +
                                               $"({nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.AllowNonFinite)} = true loads it anyway)");
            values.CopyTo(integers, layout.Offset);
            return;
        }
        // A running variance is a mean of squares: a negative one can only be corruption, like Adam's second moment.
        Copy(file, tensor, layout, floats, options, nonNegative: layout.Role == TensorRole.State && layout.Name.EndsWith(".running_var", StringComparison.Ordinal));
    }

    private static void Copy(SafeTensorsFile file, SafeTensor tensor, TensorDescriptor layout, float[] destination, CheckpointLoadOptions options, bool nonNegative)
    {
        if (tensor.IsInt64)
            throw Bad(file.Source, $"tensor '{tensor.Name}' is I64 (64-bit integers), the model needs floats");
        if (!tensor.Shape.AsSpan().SequenceEqual(layout.Shape))
            throw Bad(file.Source, $"tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}], the model needs {layout.ShapeText}");
        CheckValues(file.Source, tensor, options, nonNegative);
        tensor.Data.CopyTo(destination, layout.Offset);
    }

    private static void CheckValues(string source, SafeTensor tensor, CheckpointLoadOptions options, bool nonNegative)
    {
        if (options.AllowNonFinite) return;
        float limit = options.MaxMagnitude;
        var data = tensor.Data;
        for (int i = 0; i < data.Length; i++)
        {
            float v = data[i];
            if (float.IsFinite(v) && Math.Abs(v) <= limit && !(nonNegative && v < 0)) continue;

            string what;
            string hint;
            if (float.IsNaN(v) || float.IsInfinity(v))
            {
                what = float.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";
                hint = $"{nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.AllowNonFinite)} = true loads it anyway";
            }
            else if (nonNegative && v < 0)
            {
                what = $"the negative value {Text(v)}, which a second moment (a mean of squares) cannot be";
                hint = $"{nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.AllowNonFinite)} = true loads it anyway";
            }
            else
            {
                what = $"{Text(v)}, beyond the largest magnitude a weight may have ({Text(limit)})";
                hint = $"raise {nameof(CheckpointLoadOptions)}.{nameof(CheckpointLoadOptions.MaxMagnitude)} if it is meant";
            }
            throw Bad(source, $"tensor '{tensor.Name}' holds {what} at index {i}{Position(tensor.Shape, i)}, its first bad value; " +
                              $"the file is corrupt or was saved from a diverged model ({hint})");
        }
    }

    /// <summary>" (element [r, c] of [R, C])" for a tensor of two or more dimensions, "" otherwise.</summary>
    private static string Position(int[] shape, int index)
    {
        if (shape.Length < 2) return "";
        var at = new int[shape.Length];
        int rest = index;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            at[d] = shape[d] == 0 ? 0 : rest % shape[d];
            rest = shape[d] == 0 ? 0 : rest / shape[d];
        }
        return $" (element [{string.Join(", ", at)}] of [{string.Join(", ", shape)}])";
    }

    private static string Text(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static string List(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(NamesListed).Select(n => $"'{n}'")) +
        (names.Count > NamesListed ? $" and {names.Count - NamesListed} more" : "");

    internal static InvalidDataException Bad(string source, string message, Exception? inner = null) =>
        new($"{source}: {message}.", inner);
}

/// <summary>
/// How strictly <see cref="Checkpoint.LoadInto(VaeModel, string, Optimizer?, CheckpointLoadOptions?)"/> judges a file.
/// The defaults refuse anything that is not exactly a healthy checkpoint of the model; each property relaxes one rule.
/// </summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>
    /// 2^64 = 1.8e19, the square root of float32's largest value: a weight beyond it has a square (its L2 penalty, its
    /// share of a gradient norm, Adam's second moment of a comparable gradient) that overflows float32, so no model
    /// that trained normally holds one, while a flipped high exponent bit lands there.
    /// </summary>
    public const float DefaultMaxMagnitude = 18446744073709551616f;

    private readonly float _maxMagnitude = DefaultMaxMagnitude;

    /// <summary>The strict defaults.</summary>
    public static CheckpointLoadOptions Default { get; } = new();

    /// <summary>
    /// True (the default): the file must hold every tensor of the model and nothing else (optimiser state aside), and
    /// the architecture in its metadata must be the model's. False, like PyTorch's <c>load_state_dict(strict=False)</c>:
    /// a partial load of the tensors whose names the model has (their shapes must still match), the others keeping
    /// the model's values; tensors the model does not have are skipped, and the saved architecture is not compared.
    /// At least one tensor must match.
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// False (the default): NaN, infinities, values beyond <see cref="MaxMagnitude"/> and negative second moments are
    /// refused, naming the tensor and the first bad index. True: values are loaded as they are.
    /// </summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>The largest magnitude a loaded value may have (inclusive); <see cref="DefaultMaxMagnitude"/> unless set.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive (or is NaN).</exception>
    public float MaxMagnitude
    {
        get => _maxMagnitude;
        init => _maxMagnitude = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxMagnitude), value, "The largest magnitude must be > 0.");
    }

    /// <summary>
    /// True (the default): when the metadata records the data's SHA-256 (every checkpoint this library writes does), the
    /// data must match it. False: the checksum is not compared (for a file edited on purpose).
    /// </summary>
    public bool VerifyChecksum { get; init; } = true;
}
