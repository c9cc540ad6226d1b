using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace Vae.Files;

/// <summary>
/// A checkpoint's metadata, checked. The entries the checkpoint writes itself are parsed when it is made (format
/// version, architecture, step, seed, optimiser type, data checksum) and a malformed one is refused; the caller's own
/// entries are read through typed getters that refuse a malformed value (not a number, NaN, out of range) with the
/// file and key named, instead of letting it through.
/// </summary>
/// <remarks>
/// The rules: a format that starts with "vae-checkpoint-" must be one of <see cref="Checkpoint.ReadableFormats"/>, and
/// such a file must carry its architecture, step and seed; a file with an architecture must have such a format;
/// the step is an integer in 0..<see cref="MaxStep"/>; the seed an unsigned 64-bit integer; the optimiser type an
/// identifier; the checksum 64 hex digits. A file without a Vae format (PyTorch's "pt", or none) may lack all of them.
/// </remarks>
public sealed class CheckpointMetadata : IReadOnlyDictionary<string, string>
{
    /// <summary>
    /// The largest step a checkpoint may record: training step s draws its noise keyed by s as a 32-bit counter, so the
    /// next step (s + 1) must still fit.
    /// </summary>
    public const long MaxStep = uint.MaxValue - 1L;

    private readonly IReadOnlyDictionary<string, string> _entries;

    /// <summary>Checks and parses <paramref name="entries"/>, the "__metadata__" of the file <paramref name="source"/>.</summary>
    /// <exception cref="ArgumentException">A key or value is null.</exception>
    /// <exception cref="InvalidDataException">One of the checkpoint's own entries is malformed or missing.</exception>
    public CheckpointMetadata(string source, IReadOnlyDictionary<string, string> entries)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var (key, value) in entries)
            if (key is null || value is null)
                throw new ArgumentException("Metadata keys and values must not be null.", nameof(entries));
        Source = source;
        _entries = entries;

        if (entries.TryGetValue(Checkpoint.FormatKey, out var format) && format.StartsWith(Checkpoint.VaeFormatPrefix, StringComparison.Ordinal))
        {
            if (!Checkpoint.ReadableFormats.Contains(format))
                throw Bad($"metadata '{Checkpoint.FormatKey}' is '{Shorten(format)}', a version this library cannot read (it reads " +
                          $"{string.Join(" and ", Checkpoint.ReadableFormats)}): the file was written by a newer version of Vae, or its metadata is corrupt");
            Format = format;
            foreach (string key in new[] { Checkpoint.ArchitectureKey, Checkpoint.StepKey, Checkpoint.SeedKey })
                if (!entries.ContainsKey(key))
                    throw Bad($"metadata '{key}' is missing, though every {format} file carries it: the metadata is corrupt");
        }
        else if (entries.ContainsKey(Checkpoint.ArchitectureKey))
        {
            string found = format is null ? "there is none" : $"it is '{Shorten(format)}'";
            throw Bad($"metadata '{Checkpoint.ArchitectureKey}' marks a Vae checkpoint, but metadata '{Checkpoint.FormatKey}' is not a Vae " +
                      $"format version ({found}; expected one of {string.Join(", ", Checkpoint.ReadableFormats)}): the metadata is corrupt");
        }

        if (entries.TryGetValue(Checkpoint.ArchitectureKey, out var json))
            Architecture = ParseArchitecture(json);
        if (entries.TryGetValue(Checkpoint.StepKey, out var stepText))
            Step = (long)ParseUnsigned(Checkpoint.StepKey, stepText, MaxStep);
        if (entries.TryGetValue(Checkpoint.SeedKey, out var seedText))
            Seed = ParseUnsigned(Checkpoint.SeedKey, seedText, ulong.MaxValue);
        if (entries.TryGetValue(Checkpoint.OptimizerTypeKey, out var type))
        {
            if (!IsIdentifier(type))
                throw Bad($"metadata '{Checkpoint.OptimizerTypeKey}' is '{Shorten(type)}', not the name of an optimiser type");
            OptimizerType = type;
        }
        if (entries.TryGetValue(Checkpoint.OptimizerKey, out var description))
            OptimizerDescription = description;
        if (entries.TryGetValue(Checkpoint.DataSha256Key, out var sha))
        {
            if (sha.Length != 64 || sha.AsSpan().IndexOfAnyExcept("0123456789abcdefABCDEF") >= 0)
                throw Bad($"metadata '{Checkpoint.DataSha256Key}' is '{Shorten(sha)}', not a SHA-256 (64 hex digits)");
            DataSha256 = sha.ToLowerInvariant();
        }
    }

    /// <summary>The file the metadata came from.</summary>
    public string Source { get; }

    /// <summary>The Vae format version (one of <see cref="Checkpoint.ReadableFormats"/>), or null for a file Vae did not write.</summary>
    public string? Format { get; }

    /// <summary>The architecture the file was saved with, or null when it carries none.</summary>
    public ModelDescriptor? Architecture { get; }

    /// <summary>Optimiser steps taken when the file was saved, or null when it does not say.</summary>
    public long? Step { get; }

    /// <summary>The model's seed (initial weights and training noise), or null when the file does not say.</summary>
    public ulong? Seed { get; }

    /// <summary>The type name of the optimiser whose state the file holds ("Adam", "Sgd"), or null when it holds none.</summary>
    public string? OptimizerType { get; }

    /// <summary>The optimiser's description as it was saved (for people; not parsed).</summary>
    public string? OptimizerDescription { get; }

    /// <summary>The recorded SHA-256 of the tensor data, lowercase, or null when the file carries none.</summary>
    public string? DataSha256 { get; }

    /// <summary>The text of <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    public string GetString(string key, string defaultValue)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _entries.TryGetValue(key, out var text) ? text : defaultValue;
    }

    /// <summary>The integer at <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="InvalidDataException">The entry is not an integer in [<paramref name="minimum"/>, <paramref name="maximum"/>].</exception>
    public int GetInt32(string key, int defaultValue, int minimum = int.MinValue, int maximum = int.MaxValue) =>
        (int)GetInt64(key, defaultValue, minimum, maximum);

    /// <summary>The integer at <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="InvalidDataException">The entry is not an integer in [<paramref name="minimum"/>, <paramref name="maximum"/>].</exception>
    public long GetInt64(string key, long defaultValue, long minimum = long.MinValue, long maximum = long.MaxValue)
    {
        if (!TryGetText(key, out var text)) return defaultValue;
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) || value < minimum || value > maximum)
            throw OutOfRange(key, text, $"an integer in {minimum}..{maximum}");
        return value;
    }

    /// <summary>The unsigned integer at <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="InvalidDataException">The entry is not an integer in [<paramref name="minimum"/>, <paramref name="maximum"/>].</exception>
    public ulong GetUInt64(string key, ulong defaultValue, ulong minimum = 0, ulong maximum = ulong.MaxValue)
    {
        if (!TryGetText(key, out var text)) return defaultValue;
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) || value < minimum || value > maximum)
            throw OutOfRange(key, text, $"an integer in {minimum}..{maximum}");
        return value;
    }

    /// <summary>The finite number at <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="InvalidDataException">The entry is not a finite number in [<paramref name="minimum"/>, <paramref name="maximum"/>] (NaN never is).</exception>
    public float GetSingle(string key, float defaultValue, float minimum = float.MinValue, float maximum = float.MaxValue)
    {
        if (!TryGetText(key, out var text)) return defaultValue;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value) ||
            value < minimum || value > maximum)
            throw OutOfRange(key, text, $"a finite number in {Text(minimum)}..{Text(maximum)}");
        return value;
    }

    /// <summary>The finite number at <paramref name="key"/>, or <paramref name="defaultValue"/> when absent.</summary>
    /// <exception cref="InvalidDataException">The entry is not a finite number in [<paramref name="minimum"/>, <paramref name="maximum"/>] (NaN never is).</exception>
    public double GetDouble(string key, double defaultValue, double minimum = double.MinValue, double maximum = double.MaxValue)
    {
        if (!TryGetText(key, out var text)) return defaultValue;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) ||
            value < minimum || value > maximum)
            throw OutOfRange(key, text, $"a finite number in {Text(minimum)}..{Text(maximum)}");
        return value;
    }

    /// <summary>
    /// The comma-separated finite numbers at <paramref name="key"/> (a history, say); empty when absent or empty.
    /// </summary>
    /// <exception cref="InvalidDataException">An item is not a finite number.</exception>
    public IReadOnlyList<double> GetDoubleList(string key)
    {
        if (!TryGetText(key, out var text) || text.Length == 0) return [];
        var items = text.Split(',');
        var values = new double[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (!double.TryParse(items[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw Bad($"metadata '{key}': item {i} ('{Shorten(items[i])}') is not a finite number");
        }
        return values;
    }

    private bool TryGetText(string key, [NotNullWhen(true)] out string? text)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _entries.TryGetValue(key, out text);
    }

    private ModelDescriptor ParseArchitecture(string json)
    {
        CheckArchitectureSchema(json);
        ModelDescriptor d;
        try
        {
            d = ModelDescriptor.FromJson(json);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or InvalidOperationException
                                      or KeyNotFoundException or JsonException)
        {
            throw Bad($"metadata '{Checkpoint.ArchitectureKey}' is not a valid architecture description: {Inner(e)}", e);
        }

        // FromJson takes enum members by number too, and leaves values to the model that uses them; a file must not.
        string where = $"metadata '{Checkpoint.ArchitectureKey}'";
        if (!Enum.IsDefined(d.Likelihood)) throw Bad($"{where}: likelihood {(int)d.Likelihood} is not one this library knows");
        if (!double.IsFinite(d.Beta)) throw Bad($"{where}: beta is {Text(d.Beta)}, not a finite number");
        if (!double.IsFinite(d.Sigma)) throw Bad($"{where}: sigma is {Text(d.Sigma)}, not a finite number");
        CheckLayers(where, "encoder", d.Encoder);
        CheckLayers(where, "decoder", d.Decoder);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < d.Tensors.Count; i++)
        {
            var t = d.Tensors[i];
            if (string.IsNullOrEmpty(t.Name)) throw Bad($"{where}: tensor {i} has no name");
            if (!names.Add(t.Name)) throw Bad($"{where}: tensor '{t.Name}' appears twice");
            if (!Enum.IsDefined(t.Role)) throw Bad($"{where}: tensor '{t.Name}' has role {(int)t.Role}, not one this library knows");
            long length = 1;
            foreach (int dim in t.Shape)
            {
                length *= dim;
                if (length > int.MaxValue) throw Bad($"{where}: tensor '{t.Name}' has shape {t.ShapeText}, too many elements");
            }
        }
        return d;
    }

    /// <summary>
    /// Checks every field of the architecture's JSON for presence and type before <see cref="ModelDescriptor.FromJson"/>
    /// reads it, so that a message can name the field at fault; enum fields must be a member's exact name (FromJson
    /// would also take numbers and comma-separated combinations).
    /// </summary>
    private void CheckArchitectureSchema(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw Bad($"metadata '{Checkpoint.ArchitectureKey}' is not a valid architecture description: it is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                CheckArchitectureFields(doc.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // Valid JSON escapes that are not text, such as a lone surrogate (\ud800) in a name.
                throw SchemaError($"it holds a string that is not valid Unicode text ({e.Message})");
            }
        }
    }

    private void CheckArchitectureFields(JsonElement root)
    {
        Expect(root, "", JsonValueKind.Object);
        Field(root, "", "name", JsonValueKind.String);
        Integer(root, "", "input");
        Integer(root, "", "latent");
        EnumName<Likelihood>(root, "", "likelihood");
        Field(root, "", "beta", JsonValueKind.Number);
        Integer(root, "", "latent_samples");
        Field(root, "", "sigma", JsonValueKind.Number);
        foreach (string side in new[] { "encoder", "decoder" })
        {
            int i = 0;
            foreach (var layer in Field(root, "", side, JsonValueKind.Array).EnumerateArray())
            {
                string at = $"{side}[{i++}].";
                Expect(layer, at.TrimEnd('.'), JsonValueKind.Object);
                Integer(layer, at, "units");
                EnumName<Activation>(layer, at, "activation");
            }
        }
        if (root.TryGetProperty("quantizer", out var quantizer))
        {
            Expect(quantizer, "quantizer", JsonValueKind.Object);
            Integer(quantizer, "quantizer.", "codes");
            Integer(quantizer, "quantizer.", "dimension");
            Field(quantizer, "quantizer.", "commitment", JsonValueKind.Number);
            Field(quantizer, "quantizer.", "decay", JsonValueKind.Number);
            Integer(quantizer, "quantizer.", "restart_after");
            if (!quantizer.TryGetProperty("convolutional", out var convolutional) || convolutional.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw SchemaError("field 'quantizer.convolutional' must be true or false");
        }
        if (root.TryGetProperty("tensors", out _))
        {
            int i = 0;
            foreach (var tensor in Field(root, "", "tensors", JsonValueKind.Array).EnumerateArray())
            {
                string at = $"tensors[{i++}].";
                Expect(tensor, at.TrimEnd('.'), JsonValueKind.Object);
                Field(tensor, at, "name", JsonValueKind.String);
                int d = 0;
                long length = 1;
                foreach (var dim in Field(tensor, at, "shape", JsonValueKind.Array).EnumerateArray())
                {
                    if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int size))
                        throw SchemaError($"field '{at}shape[{d}]' must be an integer, found {dim.GetRawText()}");
                    // The descriptor multiplies in 32 bits; a product past that would wrap around unnoticed.
                    length = Math.Min(length * Math.Max(size, 0), 1L << 40);
                    if (length > int.MaxValue)
                        throw SchemaError($"field '{at}shape' has more elements than a tensor can hold");
                    d++;
                }
                Integer(tensor, at, "offset");
                EnumName<TensorRole>(tensor, at, "role");
                Integer(tensor, at, "fan_in");
            }
        }
    }

    private JsonElement Field(JsonElement parent, string at, string name, JsonValueKind kind)
    {
        if (!parent.TryGetProperty(name, out var value))
            throw SchemaError($"field '{at}{name}' is missing");
        Expect(value, at + name, kind);
        return value;
    }

    private void Expect(JsonElement value, string field, JsonValueKind kind)
    {
        if (value.ValueKind != kind)
            throw SchemaError(field.Length == 0
                ? $"it must be a JSON object, found {SafeTensors.Describe(value.ValueKind)}"
                : $"field '{field}' must be {SafeTensors.Describe(kind)}, found {SafeTensors.Describe(value.ValueKind)}");
    }

    private void Integer(JsonElement parent, string at, string name)
    {
        var value = Field(parent, at, name, JsonValueKind.Number);
        if (!value.TryGetInt32(out _))
            throw SchemaError($"field '{at}{name}' must be a 32-bit integer, found {value.GetRawText()}");
    }

    private void EnumName<T>(JsonElement parent, string at, string name) where T : struct, Enum
    {
        string text = Field(parent, at, name, JsonValueKind.String).GetString()!;
        if (!Enum.GetNames<T>().Contains(text, StringComparer.Ordinal))
            throw SchemaError($"field '{at}{name}' is '{Shorten(text)}', not one of {string.Join(", ", Enum.GetNames<T>())}");
    }

    private InvalidDataException SchemaError(string message) =>
        Bad($"metadata '{Checkpoint.ArchitectureKey}' is not a valid architecture description: {message}");

    private void CheckLayers(string where, string side, IReadOnlyList<LayerDescriptor> layers)
    {
        for (int i = 0; i < layers.Count; i++)
            if (!Enum.IsDefined(layers[i].Activation))
                throw Bad($"{where}: {side}.{i} has activation {(int)layers[i].Activation}, not one this library knows");
    }

    private ulong ParseUnsigned(string key, string text, ulong maximum)
    {
        // Digits only: no sign, spaces, separators or exponent, so a corrupted value is never read as another number.
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) || value > maximum)
            throw OutOfRange(key, text, $"an integer in 0..{maximum}");
        return value;
    }

    private static bool IsIdentifier(string text) =>
        text.Length is > 0 and <= 128 && (char.IsAsciiLetter(text[0]) || text[0] == '_') &&
        text.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") < 0;

    private static string Inner(Exception e) => e is FormatException { InnerException: { } inner } ? inner.Message : e.Message;

    private InvalidDataException OutOfRange(string key, string text, string expected) =>
        Bad($"metadata '{key}' = '{Shorten(text)}' is not {expected}");

    private InvalidDataException Bad(string message, Exception? inner = null) => Checkpoint.Bad(Source, message, inner);

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    // Metadata values can be long (a history, an architecture); a message quotes the start.
    private static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";

    /// <summary>The raw text of an entry; prefer the typed, validating getters.</summary>
    /// <exception cref="KeyNotFoundException">There is no such entry.</exception>
    public string this[string key] => _entries[key];

    /// <summary>The names of every entry, the checkpoint's own and the caller's.</summary>
    public IEnumerable<string> Keys => _entries.Keys;

    /// <summary>The raw text of every entry.</summary>
    public IEnumerable<string> Values => _entries.Values;

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>Whether the file has an entry named <paramref name="key"/>.</summary>
    public bool ContainsKey(string key) => _entries.ContainsKey(key);

    /// <summary>The raw text of an entry, when there is one.</summary>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value) => _entries.TryGetValue(key, out value);

    /// <summary>Every entry as name and raw text.</summary>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
