namespace Vae.Data;

/// <summary>
/// Examples the <see cref="Trainer"/> reads one at a time, by index, in its seeded order: data in memory
/// (<see cref="InMemoryBatchSource"/>) or data read from disk as it is needed (<see cref="IdxBatchSource"/>).
/// The trainer copies each example of a batch into its own buffer, so a source never has to hold more than one.
/// </summary>
public interface IBatchSource
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>Values per example (the model's <c>Input</c>).</summary>
    int ExampleLength { get; }

    /// <summary>Whether every example has a class label (a conditional model needs them).</summary>
    bool HasLabels { get; }

    /// <summary>Writes example <paramref name="index"/> (0 to <see cref="Count"/> - 1) into <paramref name="destination"/> (<see cref="ExampleLength"/> values).</summary>
    void CopyExample(int index, Span<float> destination);

    /// <summary>The label of example <paramref name="index"/>; only called when <see cref="HasLabels"/>.</summary>
    int LabelOf(int index);
}

/// <summary>Examples already in memory as [examples, exampleLength] floats, with optional labels.</summary>
public sealed class InMemoryBatchSource : IBatchSource
{
    private readonly ReadOnlyMemory<float> _data;
    private readonly ReadOnlyMemory<int> _labels;

    /// <param name="data">The examples, one after another.</param>
    /// <param name="exampleLength">Values per example.</param>
    /// <param name="labels">One label per example, or empty.</param>
    /// <exception cref="ArgumentException">The data is empty or not a whole number of examples, or the labels do not match it.</exception>
    public InMemoryBatchSource(ReadOnlyMemory<float> data, int exampleLength, ReadOnlyMemory<int> labels = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(exampleLength, 1);
        if (data.Length % exampleLength != 0)
            throw new ArgumentException($"The data has {data.Length} values, not a whole number of examples of Input = {exampleLength}.", nameof(data));
        Count = data.Length / exampleLength;
        if (Count == 0) throw new ArgumentException("The data set is empty.", nameof(data));
        if (!labels.IsEmpty && labels.Length != Count)
            throw new ArgumentException($"labels has {labels.Length} values for {Count} examples.", nameof(labels));
        _data = data;
        _labels = labels;
        ExampleLength = exampleLength;
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int ExampleLength { get; }

    /// <inheritdoc/>
    public bool HasLabels => !_labels.IsEmpty;

    /// <inheritdoc/>
    public void CopyExample(int index, Span<float> destination) =>
        _data.Span.Slice(index * ExampleLength, ExampleLength).CopyTo(destination);

    /// <inheritdoc/>
    public int LabelOf(int index) => _labels.Span[index];
}
