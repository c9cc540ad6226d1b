namespace Vae.Imaging;

/// <summary>
/// Tiles many small grayscale images (float intensities in [0, 1]) into one 8-bit picture, e.g. a page of
/// decoder samples or originals next to their reconstructions.
/// </summary>
/// <remarks>
/// Tile k sits in row k / columns, column k % columns. Its top-left pixel is at
/// x = padding + column * (tileWidth * scale + padding), y = padding + row * (tileHeight * scale + padding);
/// everything not covered by a tile is <see cref="Background"/>. When count is smaller than columns the grid is
/// narrowed to count columns so a short row does not produce a wide empty image.
/// </remarks>
public sealed class ImageGrid
{
    private readonly byte[] _pixels;

    private ImageGrid(int width, int height, int columns, int rows, byte background, byte[] pixels)
    {
        Width = width;
        Height = height;
        Columns = columns;
        Rows = rows;
        Background = background;
        _pixels = pixels;
    }

    /// <summary>Width of the composed image in pixels.</summary>
    public int Width { get; }

    /// <summary>Height of the composed image in pixels.</summary>
    public int Height { get; }

    /// <summary>Number of tile columns actually used.</summary>
    public int Columns { get; }

    /// <summary>Number of tile rows.</summary>
    public int Rows { get; }

    /// <summary>Gray level of padding and empty cells.</summary>
    public byte Background { get; }

    /// <summary>Row-major 8-bit gray pixels, Width * Height bytes.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>
    /// Composes the grid. <paramref name="images"/> holds at least count * tileWidth * tileHeight values, image after
    /// image, each row-major. Values are clamped to [0, 1] and NaN is drawn as 0 (black), so a diverged model still
    /// produces a picture instead of an exception.
    /// </summary>
    /// <param name="images">[count, tileHeight * tileWidth] intensities in [0, 1].</param>
    /// <param name="count">Tiles to draw.</param>
    /// <param name="tileWidth">Width of one image in pixels (28 for Fashion-MNIST).</param>
    /// <param name="tileHeight">Height of one image in pixels.</param>
    /// <param name="columns">Tiles per row; the grid has as many rows as needed.</param>
    /// <param name="scale">Integer nearest-neighbour magnification of each tile (1 = none).</param>
    /// <param name="padding">Gap in output pixels around and between tiles.</param>
    /// <param name="background">Gray level of the gaps.</param>
    public static ImageGrid Compose(
        ReadOnlySpan<float> images, int count, int tileWidth, int tileHeight, int columns,
        int scale = 2, int padding = 2, byte background = 128)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scale);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);

        long tileSize = (long)tileWidth * tileHeight;
        long needed = count * tileSize;
        if (images.Length < needed)
        {
            throw new ArgumentException(
                $"images has {images.Length} values but count*tileWidth*tileHeight = {count}*{tileWidth}*{tileHeight} = {needed} are required.",
                nameof(images));
        }

        int cols = Math.Min(columns, count);
        int rows = (count + cols - 1) / cols;
        long cellWidth = (long)tileWidth * scale + padding;
        long cellHeight = (long)tileHeight * scale + padding;
        long width = padding + cols * cellWidth;
        long height = padding + rows * cellHeight;
        if (width > int.MaxValue || height > int.MaxValue || width * height > Array.MaxLength)
        {
            throw new ArgumentException($"The grid would be {width}x{height} pixels, which is too large for one image.");
        }

        int w = (int)width;
        var pixels = new byte[w * (int)height];
        Array.Fill(pixels, background);

        for (int k = 0; k < count; k++)
        {
            ReadOnlySpan<float> tile = images.Slice((int)(k * tileSize), (int)tileSize);
            int left = padding + (int)((k % cols) * cellWidth);
            int top = padding + (int)((k / cols) * cellHeight);
            for (int ty = 0; ty < tileHeight; ty++)
            {
                for (int tx = 0; tx < tileWidth; tx++)
                {
                    byte gray = ToByte(tile[ty * tileWidth + tx]);
                    for (int sy = 0; sy < scale; sy++)
                    {
                        int rowStart = (top + ty * scale + sy) * w + left + tx * scale;
                        pixels.AsSpan(rowStart, scale).Fill(gray);
                    }
                }
            }
        }

        return new ImageGrid(w, (int)height, cols, rows, background, pixels);
    }

    /// <summary>Composes a grid (see <see cref="Compose"/>) and saves it as a grayscale PNG, atomically.</summary>
    public static void Save(
        string path, ReadOnlySpan<float> images, int count, int tileWidth, int tileHeight, int columns,
        int scale = 2, int padding = 2)
        => Compose(images, count, tileWidth, tileHeight, columns, scale, padding).Save(path);

    /// <summary>Saves this grid as a grayscale PNG, atomically (see <see cref="PngWriter.SaveGray"/>).</summary>
    public void Save(string path) => PngWriter.SaveGray(path, Width, Height, _pixels);

    /// <summary>Writes this grid as a grayscale PNG to a stream.</summary>
    public void Write(Stream output) => PngWriter.WriteGray(output, Width, Height, _pixels);

    /// <summary>Maps an intensity in [0, 1] to 0..255 with rounding; out-of-range values clamp, NaN becomes 0.</summary>
    internal static byte ToByte(float value)
    {
        if (!(value > 0f))
        {
            return 0; // also catches NaN, for which every comparison is false
        }

        return value >= 1f ? (byte)255 : (byte)((value * 255f) + 0.5f);
    }
}
