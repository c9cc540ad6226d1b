using System.Globalization;

namespace Vae.Files;

/// <summary>
/// Model checkpoints as safetensors files: parameters under PyTorch nn.Linear names and shapes, optimiser state under
/// <c>optimizer.{tensor}.{state}</c>, and the architecture, step and optimiser in the header's metadata.
/// Files are written to a temporary name and renamed, so a crash never leaves a half-written checkpoint.
/// </summary>
public static class Checkpoint
{
    public const string FormatKey = "format";
    public const string FormatValue = "vae-checkpoint-1";
    public const string ArchitectureKey = "architecture";
    public const string StepKey = "step";
    public const string SeedKey = "seed";
    public const string OptimizerKey = "optimizer";
    public const string OptimizerTypeKey = "optimizer_type";

    /// <summary>Writes the model (and the optimiser's state, when given) to <paramref name="path"/> atomically.</summary>
    public static void Save(VaeModel model, string path, Optimizer? optimizer = null, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var architecture = model.Architecture;
        var parameters = model.GetParameters();
        var tensors = new List<SafeTensor>();
        foreach (var t in architecture.Tensors)
            tensors.Add(new SafeTensor(t.Name, t.Shape, parameters.AsSpan(t.Offset, t.Length).ToArray()));

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
                foreach (var t in architecture.Tensors)
                    tensors.Add(new SafeTensor($"optimizer.{t.Name}.{optimizer.StateNames[slot]}", t.Shape, state.AsSpan(t.Offset, t.Length).ToArray()));
            }
        }
        if (extraMetadata is not null)
            foreach (var (key, value) in extraMetadata) metadata.TryAdd(key, value);
        SafeTensors.WriteFile(path, tensors, metadata);
    }

    /// <summary>The architecture a checkpoint was saved with, or null when the file carries none (e.g. written by PyTorch).</summary>
    public static ModelDescriptor? ReadArchitecture(string path)
    {
        var file = SafeTensors.ReadFile(path);
        return file.Metadata.TryGetValue(ArchitectureKey, out var json) ? ModelDescriptor.FromJson(json) : null;
    }

    /// <summary>The metadata of a checkpoint (step, optimiser, and anything the caller added).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => SafeTensors.ReadFile(path).Metadata;

    /// <summary>
    /// Loads parameters, the step and the noise seed (and optimiser state, when <paramref name="optimizer"/> is given
    /// and the file has it) into <paramref name="model"/>. A file of another architecture is refused with every difference named;
    /// the model is left unchanged on any error.
    /// </summary>
    public static void LoadInto(VaeModel model, string path, Optimizer? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = SafeTensors.ReadFile(path);
        var architecture = model.Architecture;
        if (file.Metadata.TryGetValue(ArchitectureKey, out var json))
        {
            ModelDescriptor saved;
            try { saved = ModelDescriptor.FromJson(json); }
            catch (FormatException e) { throw new InvalidDataException($"Checkpoint '{path}': {e.Message}", e); }
            var differences = architecture.DifferencesFrom(saved);
            if (differences.Count > 0)
                throw new InvalidDataException(
                    $"Checkpoint '{path}' holds a different architecture ({saved}) from {architecture.Name} ({architecture}): " +
                    string.Join("; ", differences.Select(d => "model vs file: " + d)) + ".");
        }

        var parameters = new float[architecture.ParameterCount];
        foreach (var t in architecture.Tensors) Copy(file, path, t.Name, t, parameters);

        float[][]? state = null;
        long step = model.Step;
        if (optimizer is not null && file.Metadata.TryGetValue(OptimizerTypeKey, out var type))
        {
            if (type != optimizer.GetType().Name)
                throw new InvalidDataException($"Checkpoint '{path}' holds {type} state, but the optimiser given is {optimizer.GetType().Name}.");
            state = new float[optimizer.StateNames.Count][];
            for (int slot = 0; slot < state.Length; slot++)
            {
                state[slot] = new float[architecture.ParameterCount];
                foreach (var t in architecture.Tensors)
                    Copy(file, path, $"optimizer.{t.Name}.{optimizer.StateNames[slot]}", t, state[slot]);
            }
        }
        ulong seed = model.Seed;
        if (file.Metadata.TryGetValue(SeedKey, out var seedText) &&
            !ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out seed))
            throw new InvalidDataException($"Checkpoint '{path}' has a seed '{seedText}' that is not a non-negative integer.");
        if (file.Metadata.TryGetValue(StepKey, out var stepText) &&
            !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step))
            throw new InvalidDataException($"Checkpoint '{path}' has a step '{stepText}' that is not a non-negative integer.");

        // Everything is read and checked: only now touch the model.
        model.SetParameters(parameters);
        if (state is not null)
            for (int slot = 0; slot < state.Length; slot++) model.SetOptimizerState(optimizer!, slot, state[slot]);
        model.Step = step;
        model.Seed = seed;
    }

    private static void Copy(SafeTensorsFile file, string path, string name, TensorDescriptor layout, float[] destination)
    {
        if (!file.TryGet(name, out var tensor))
            throw new InvalidDataException($"Checkpoint '{path}' has no tensor '{name}' (shape {layout.ShapeText}). It has: {string.Join(", ", file.Tensors.Select(t => t.Name))}.");
        if (!tensor.Shape.AsSpan().SequenceEqual(layout.Shape))
            throw new InvalidDataException($"Checkpoint '{path}': tensor '{name}' has shape [{string.Join(", ", tensor.Shape)}], the model needs {layout.ShapeText}.");
        tensor.Data.CopyTo(destination, layout.Offset);
    }
}
