using Vae.Noise;

namespace Vae.Data;

/// <summary>Splits a data set into training and validation parts by a seeded shuffle (the same seed, the same split everywhere).</summary>
public static class DataSplit
{
    /// <summary>
    /// The examples of <paramref name="data"/> ([examples, <paramref name="inputSize"/>]) in a seeded random order,
    /// the first <c>round(validationFraction * examples)</c> of them as validation and the rest as training data.
    /// </summary>
    public static (float[] Train, float[] Validation) TrainValidation(ReadOnlySpan<float> data, int inputSize, double validationFraction, ulong seed = 0)
    {
        var (train, validation, _, _) = TrainValidation(data, [], inputSize, validationFraction, seed);
        return (train, validation);
    }

    /// <summary>The same for labelled data: each label goes with its example.</summary>
    public static (float[] Train, float[] Validation, int[] TrainLabels, int[] ValidationLabels) TrainValidation(
        ReadOnlySpan<float> data, ReadOnlySpan<int> labels, int inputSize, double validationFraction, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        if (!(validationFraction >= 0 && validationFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1].");
        if (data.Length % inputSize != 0)
            throw new ArgumentException($"data has {data.Length} values, not a whole number of examples of {inputSize}.", nameof(data));
        int n = data.Length / inputSize;
        if (!labels.IsEmpty && labels.Length != n) throw new ArgumentException($"labels has {labels.Length} values for {n} examples.", nameof(labels));
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            var r = Philox.Philox4x32_10((uint)i, 0, 0x53504C54u /* "SPLT" */, 0, (uint)seed, (uint)(seed >> 32));
            int j = (int)((((ulong)r.X0 << 32) | r.X1) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        int validationCount = (int)Math.Round(validationFraction * n);
        var validation = new float[validationCount * inputSize];
        var train = new float[(n - validationCount) * inputSize];
        var validationLabels = labels.IsEmpty ? [] : new int[validationCount];
        var trainLabels = labels.IsEmpty ? [] : new int[n - validationCount];
        for (int k = 0; k < n; k++)
        {
            bool held = k < validationCount;
            int at = held ? k : k - validationCount;
            data.Slice(order[k] * inputSize, inputSize).CopyTo((held ? validation : train).AsSpan(at * inputSize, inputSize));
            if (!labels.IsEmpty) (held ? validationLabels : trainLabels)[at] = labels[order[k]];
        }
        return (train, validation, trainLabels, validationLabels);
    }
}
