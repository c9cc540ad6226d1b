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
    /// stands for an equal share of the prior. z1 grows to the right and z2 upwards, as on a plot. A conditional model
    /// decodes every tile with the label <paramref name="onlyClass"/>.
    /// </summary>
    public static void Manifold(VaeModel model, string path, int? onlyClass = null)
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
        int[] labels = model.Architecture.IsConditional
            ? Enumerable.Repeat(onlyClass ?? throw new UsageException("The manifold of a conditional model draws one class: pass --class N."), ManifoldSide * ManifoldSide).ToArray()
            : [];
        ImageGrid.Save(path, Decode(model, z, labels), ManifoldSide * ManifoldSide, Side, Side, ManifoldSide, scale: 1, padding: 1);
    }

    /// <summary>Train and test negative ELBO per epoch (a VQ-VAE's mean squared error per pixel when <paramref name="quantized"/>), epoch e at x = e.</summary>
    public static void Curves(IReadOnlyList<double> train, IReadOnlyList<double> test, string path, bool quantized = false)
    {
        // LinePlot puts value i at x = i and skips NaN, so a leading NaN makes the x axis count epochs from 1.
        static double[] ByEpoch(IReadOnlyList<double> values) => [double.NaN, .. values];
        string what = quantized ? "MSE per pixel" : "negative ELBO (nats)";
        LinePlot.Save(path,
        [
            ($"train {what}", ByEpoch(train), (31, 119, 180)),
            ($"test {what}", ByEpoch(test), (214, 39, 40)),
        ]);
    }

    /// <summary>
    /// A VQ-VAE's codes: 16 test images (the ones <see cref="Reconstructions"/> picks with the same seed) in the top row,
    /// below each its map of code indices (7 x 7 for the sample's models, each position a cell of 4 x 4 pixels in the
    /// code's colour, the same colour for the same code everywhere in the picture), and in the bottom row the image
    /// decoded from those codes. An RGB PNG on the grid of the grayscale pictures (tiles at twice their size, gaps of 2).
    /// </summary>
    public static void CodeMaps(VaeModel model, float[] test, ulong seed, string path)
    {
        if (model.Architecture.Quantizer is null)
            throw new UsageException($"The code map is a picture of a VQ-VAE's codes; {model.Architecture.Name} has a Gaussian latent. Train one with --model vq.");
        int positions = model.Architecture.QuantizedPositions, side = (int)Math.Round(Math.Sqrt(positions));
        if (side * side != positions || Side % side != 0)
            throw new InvalidOperationException($"{model.Architecture.Name}'s {positions} code positions do not make a square map that divides a {Side}x{Side} tile.");
        int count = ReconstructionCount, cell = Side / side;
        var x = Gather(test, Pick(test, count, seed));
        int[] codes = model.EncodeCodes(x);
        var decoded = new float[x.Length];
        model.DecodeCodes(codes, decoded);
        // The grayscale grid with the middle row blank, then painted in colour.
        var tiles = new float[3 * x.Length];
        x.CopyTo(tiles, 0);
        decoded.CopyTo(tiles, 2 * x.Length);
        const int Scale = 2, Padding = 2;
        var grid = ImageGrid.Compose(tiles, 3 * count, Side, Side, count, Scale, Padding);
        var rgb = new byte[grid.Pixels.Length * 3];
        for (int i = 0; i < grid.Pixels.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grid.Pixels[i];
        for (int image = 0; image < count; image++)
        {
            int left = Padding + image * (Side * Scale + Padding), top = Padding + (Side * Scale + Padding);
            for (int y = 0; y < Side * Scale; y++)
            for (int column = 0; column < Side * Scale; column++)
            {
                int code = codes[image * positions + y / (cell * Scale) * side + column / (cell * Scale)];
                var (r, g, b) = CodeColour(code);
                int o = 3 * ((top + y) * grid.Width + left + column);
                (rgb[o], rgb[o + 1], rgb[o + 2]) = (r, g, b);
            }
        }
        PngWriter.SaveRgb(path, grid.Width, grid.Height, rgb);
    }

    /// <summary>
    /// A colour per code: hues spread by the golden ratio (neighbouring indices far apart on the colour wheel), with
    /// three levels of brightness, so codes that differ look different however many there are.
    /// </summary>
    public static (byte R, byte G, byte B) CodeColour(int code)
    {
        double hue = code * 0.6180339887498949 % 1.0 * 6;
        double value = (code % 3) switch { 0 => 0.95, 1 => 0.75, _ => 0.55 }, saturation = 0.75;
        int sector = (int)hue;
        double f = hue - sector, p = value * (1 - saturation), qv = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f));
        var (r, g, b) = sector switch
        {
            0 => (value, t, p),
            1 => (qv, value, p),
            2 => (p, value, t),
            3 => (p, qv, value),
            4 => (t, p, value),
            _ => (value, p, qv),
        };
        return ((byte)Math.Round(255 * r), (byte)Math.Round(255 * g), (byte)Math.Round(255 * b));
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
