using Vae.Imaging;
using Vae.Noise;

namespace Vae.Samples.Fashion.Pictures;

/// <summary>
/// The sample's pictures, each a grid of 28x28 tiles written as a grayscale PNG. Test images are chosen by a seed,
/// so a picture can be redrawn exactly.
/// </summary>
internal static class Figures
{
    private const int Side = Models.ImageSide;
    private const int Pixels = Models.ImagePixels;

    public const int ReconstructionCount = 16;
    public const int SampleColumns = 8;
    public const int InterpolationRows = 8;
    public const int InterpolationSteps = 10;
    public const int TraversalDimensions = 10;
    public const int TraversalSteps = 11;
    public const double TraversalRange = 3;
    public const int ManifoldSide = 20;

    /// <summary>Originals (top row) above their reconstructions from the posterior mean (bottom row).</summary>
    public static void Reconstructions(VaeModel model, float[] test, int[] testLabels, ulong seed, string path)
    {
        var picked = Pick(test, ReconstructionCount, seed);
        var x = Gather(test, picked);
        var tiles = new float[2 * x.Length];
        x.CopyTo(tiles, 0);
        model.Reconstruct(x, Labels(model, testLabels, picked), tiles.AsSpan(x.Length));
        Save(path, tiles, 2 * ReconstructionCount, ReconstructionCount);
    }

    /// <summary>
    /// Decoder means of 64 draws from the prior, 8 x 8. A conditional model draws one row per class instead (ten
    /// draws of each of the ten classes), or only <paramref name="onlyClass"/> when given.
    /// </summary>
    public static void Samples(VaeModel model, ulong seed, string path, int? onlyClass = null)
    {
        if (!model.Architecture.IsConditional)
        {
            Save(path, model.Sample(SampleColumns * SampleColumns, seed), SampleColumns * SampleColumns, SampleColumns);
            return;
        }
        int classes = model.Architecture.Classes;
        var labels = onlyClass is int only
            ? Enumerable.Repeat(only, classes * classes).ToArray()
            : Enumerable.Range(0, classes * classes).Select(i => i / classes).ToArray();
        Save(path, model.Sample(labels, seed), labels.Length, classes);
    }

    /// <summary>Each row walks in a straight line from one test image's posterior mean to another's, in 10 steps.</summary>
    /// <remarks>A conditional model keeps the first image's label along its row.</remarks>
    public static void Interpolation(VaeModel model, float[] test, int[] testLabels, ulong seed, string path)
    {
        int j = model.Architecture.Latent;
        var picked = Pick(test, 2 * InterpolationRows, seed);
        var mu = Means(model, Gather(test, picked), Labels(model, testLabels, picked));
        var z = new float[InterpolationRows * InterpolationSteps * j];
        for (int row = 0; row < InterpolationRows; row++)
        for (int step = 0; step < InterpolationSteps; step++)
        {
            float t = step / (float)(InterpolationSteps - 1);
            for (int i = 0; i < j; i++)
                z[(row * InterpolationSteps + step) * j + i] = (1 - t) * mu[2 * row * j + i] + t * mu[(2 * row + 1) * j + i];
        }
        var rowLabels = Labels(model, testLabels, Enumerable.Range(0, InterpolationRows * InterpolationSteps).Select(t => picked[2 * (t / InterpolationSteps)]).ToArray());
        Save(path, Decode(model, z, rowLabels), InterpolationRows * InterpolationSteps, InterpolationSteps);
    }

    /// <summary>Row d sets latent dimension d to -3 .. 3 and keeps the others at one test image's posterior mean.</summary>
    public static void Traversal(VaeModel model, float[] test, int[] testLabels, ulong seed, string path)
    {
        int j = model.Architecture.Latent;
        int rows = Math.Min(TraversalDimensions, j);
        var picked = Pick(test, 1, seed);
        var mu = Means(model, Gather(test, picked), Labels(model, testLabels, picked));
        var z = new float[rows * TraversalSteps * j];
        for (int d = 0; d < rows; d++)
        for (int step = 0; step < TraversalSteps; step++)
        {
            var row = z.AsSpan((d * TraversalSteps + step) * j, j);
            mu.CopyTo(row);
            row[d] = (float)(-TraversalRange + 2 * TraversalRange * step / (TraversalSteps - 1));
        }
        Save(path, Decode(model, z, Labels(model, testLabels, Enumerable.Repeat(picked[0], rows * TraversalSteps).ToArray())), rows * TraversalSteps, TraversalSteps);
    }

    /// <summary>
    /// The decoder over a 20 x 20 grid of the 2-D latent space, at the prior's quantiles (i + 0.5) / 20, so each tile
    /// stands for an equal share of the prior. z1 grows to the right and z2 upwards, as on a plot.
    /// </summary>
    public static void Manifold(VaeModel model, string path)
    {
        if (model.Architecture.Latent != 2)
            throw new UsageException($"The manifold is a picture of a 2-D latent space; this model has Latent = {model.Architecture.Latent}. Train one with --latent 2.");
        var z = new float[ManifoldSide * ManifoldSide * 2];
        for (int row = 0; row < ManifoldSide; row++)
        for (int column = 0; column < ManifoldSide; column++)
        {
            int k = row * ManifoldSide + column;
            z[2 * k] = (float)NormalQuantile.Of((column + 0.5) / ManifoldSide);
            z[2 * k + 1] = (float)NormalQuantile.Of(1 - (row + 0.5) / ManifoldSide);
        }
        // 400 tiles at twice their size would make a picture wider than most screens: draw them at 1:1.
        ImageGrid.Save(path, Decode(model, z, []), ManifoldSide * ManifoldSide, Side, Side, ManifoldSide, scale: 1, padding: 1);
    }

    /// <summary>Train and test negative ELBO per epoch, epoch e at x = e.</summary>
    public static void Curves(IReadOnlyList<double> train, IReadOnlyList<double> test, string path)
    {
        // LinePlot puts value i at x = i and skips NaN, so a leading NaN makes the x axis count epochs from 1.
        static double[] ByEpoch(IReadOnlyList<double> values) => [double.NaN, .. values];
        LinePlot.Save(path,
        [
            ("train negative ELBO (nats)", ByEpoch(train), (31, 119, 180)),
            ("test negative ELBO (nats)", ByEpoch(test), (214, 39, 40)),
        ]);
    }

    /// <summary>
    /// <paramref name="count"/> distinct test images chosen by <paramref name="seed"/> (a partial Fisher-Yates shuffle
    /// on Philox draws, so the choice is the same on every machine and .NET version).
    /// </summary>
    public static int[] Pick(float[] test, int count, ulong seed)
    {
        int n = test.Length / Pixels;
        if (n < count) throw new InvalidDataException($"The picture needs {count} test images, but the test set has {n}.");
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < count; i++)
        {
            var r = Philox.Philox4x32_10((uint)i, 0, 0x5049_434Bu /* "PICK" */, 0, (uint)seed, (uint)(seed >> 32));
            int k = i + (int)((((ulong)r.X0 << 32) | r.X1) % (ulong)(n - i));
            (order[i], order[k]) = (order[k], order[i]);
        }
        return order[..count];
    }

    private static float[] Gather(float[] images, int[] indices)
    {
        var x = new float[indices.Length * Pixels];
        for (int i = 0; i < indices.Length; i++) images.AsSpan(indices[i] * Pixels, Pixels).CopyTo(x.AsSpan(i * Pixels));
        return x;
    }

    /// <summary>The labels of the picked test images for a conditional model; none for any other.</summary>
    private static int[] Labels(VaeModel model, int[] testLabels, int[] picked) =>
        model.Architecture.IsConditional ? picked.Select(i => testLabels[i]).ToArray() : [];

    private static float[] Means(VaeModel model, float[] x, int[] labels)
    {
        int n = x.Length / Pixels, j = model.Architecture.Latent;
        var mu = new float[n * j];
        model.Encode(x, labels, mu, new float[n * j]);
        return mu;
    }

    private static float[] Decode(VaeModel model, float[] z, int[] labels)
    {
        var mean = new float[z.Length / model.Architecture.Latent * Pixels];
        model.Decode(z, labels, mean);
        return mean;
    }

    private static void Save(string path, float[] tiles, int count, int columns) =>
        ImageGrid.Save(path, tiles, count, Side, Side, columns);
}
