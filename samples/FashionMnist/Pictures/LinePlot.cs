using System.Globalization;
using Vae.Imaging;

namespace Vae.Samples.Fashion.Pictures;

/// <summary>
/// A tiny RGB line-plot rasteriser for training curves (loss, ELBO, KL per epoch): axes, light grid lines with
/// numeric tick labels, one polyline per series and a legend of coloured squares with labels.
/// </summary>
/// <remarks>
/// The x axis is the value index (0 .. longest series - 1); y is auto-scaled over all finite values with a 5 % margin.
/// NaN and infinite values break a line instead of failing, so a diverged run can still be plotted.
/// Text uses a built-in 3x5 pixel font drawn at twice its size: digits, A-Z (labels are upper-cased), space and
/// <c>- + . , : = / ( ) _ %</c>; other characters are left blank.
/// </remarks>
internal static class LinePlot
{
    /// <summary>Smallest accepted width; below it the margins and labels would not fit.</summary>
    public const int MinWidth = 160;

    /// <summary>Smallest accepted height.</summary>
    public const int MinHeight = 120;

    private const int MaxTicks = 32;
    private const int FontScale = 2;
    private const int GlyphWidth = 3 * FontScale;
    private const int GlyphHeight = 5 * FontScale;
    private const int Advance = GlyphWidth + FontScale;

    private static readonly (byte R, byte G, byte B) White = (255, 255, 255);
    private static readonly (byte R, byte G, byte B) GridColor = (228, 228, 228);
    private static readonly (byte R, byte G, byte B) AxisColor = (0, 0, 0);
    private static readonly (byte R, byte G, byte B) TextColor = (64, 64, 64);

    /// <summary>Renders the plot to an RGB buffer of width * height * 3 bytes, row-major.</summary>
    public static byte[] Render(
        IReadOnlyList<(string Label, IReadOnlyList<double> Values, (byte R, byte G, byte B) Color)> series,
        int width = 640, int height = 400)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, MinWidth);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, MinHeight);
        if ((long)width * height * 3 > Array.MaxLength)
        {
            throw new ArgumentException($"A {width}x{height} plot is too large for one image.");
        }

        int points = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int s = 0; s < series.Count; s++)
        {
            IReadOnlyList<double> values = series[s].Values
                ?? throw new ArgumentException($"Series {s} ('{series[s].Label}') has no values list.", nameof(series));
            points = Math.Max(points, values.Count);
            for (int i = 0; i < values.Count; i++)
            {
                double v = values[i];
                if (double.IsFinite(v))
                {
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
            }
        }

        var (lo, hi) = YRange(min, max);
        double yStep = NiceStep((hi - lo) / 5);
        int yDecimals = Decimals(yStep);

        // Left margin fits the widest y tick label, so long numbers never overlap the plot area.
        int labelWidth = 0;
        double firstTick = Math.Ceiling(lo / yStep);
        for (int k = 0; k < MaxTicks; k++)
        {
            // Ticks are (first + k) * step rather than a running sum, so rounding errors never accumulate,
            // and the count is capped in case step is below the resolution of the values.
            double t = (firstTick + k) * yStep;
            if (t > hi)
            {
                break;
            }

            labelWidth = Math.Max(labelWidth, TextWidth(FormatTick(t, yStep, yDecimals)));
        }

        bool hasLegend = series.Count > 0;
        int plotLeft = 8 + labelWidth + 6;
        int plotRight = width - 14;
        int plotTop = hasLegend ? 8 + GlyphHeight + 10 : 12;
        int plotBottom = height - (6 + GlyphHeight + 8);
        if (plotRight - plotLeft < 32 || plotBottom - plotTop < 32)
        {
            throw new ArgumentException($"A {width}x{height} plot leaves no room for the data after the axis labels.");
        }

        var canvas = new Canvas(width, height);
        canvas.Fill(White);

        // Horizontal grid lines and y labels.
        for (int k = 0; k < MaxTicks; k++)
        {
            double t = (firstTick + k) * yStep;
            if (t > hi)
            {
                break;
            }

            int y = MapY(t, lo, hi, plotTop, plotBottom);
            canvas.HLine(plotLeft + 1, plotRight, y, GridColor);
            canvas.HLine(plotLeft - 3, plotLeft - 1, y, AxisColor);
            string label = FormatTick(t, yStep, yDecimals);
            canvas.Text(plotLeft - 5 - TextWidth(label), y - (GlyphHeight / 2), label, TextColor);
        }

        // Vertical grid lines and x labels at whole indices.
        int lastIndex = Math.Max(points - 1, 0);
        double xStep = Math.Max(1, NiceStep(lastIndex / 6.0));
        for (double t = 0; t <= lastIndex; t += xStep)
        {
            int x = MapX(t, points, plotLeft, plotRight);
            canvas.VLine(x, plotTop, plotBottom - 1, GridColor);
            canvas.VLine(x, plotBottom + 1, plotBottom + 3, AxisColor);
            string label = ((long)t).ToString(CultureInfo.InvariantCulture);
            int lx = Math.Clamp(x - (TextWidth(label) / 2), 0, width - TextWidth(label));
            canvas.Text(lx, plotBottom + 6, label, TextColor);
        }

        canvas.VLine(plotLeft, plotTop, plotBottom, AxisColor);
        canvas.HLine(plotLeft, plotRight, plotBottom, AxisColor);

        foreach (var (_, values, color) in series)
        {
            DrawSeries(canvas, values, color, points, lo, hi, plotLeft, plotRight, plotTop, plotBottom);
        }

        // Legend across the top margin: coloured square then label, left to right; entries past the edge are clipped.
        int legendX = plotLeft;
        foreach (var (label, _, color) in series)
        {
            canvas.FillRect(legendX, 8, GlyphHeight, GlyphHeight, color);
            legendX += GlyphHeight + 4;
            string text = (label ?? string.Empty).ToUpperInvariant();
            canvas.Text(legendX, 8, text, TextColor);
            legendX += TextWidth(text) + 14;
        }

        return canvas.Pixels;
    }

    /// <summary>Renders the plot and writes it as an RGB PNG.</summary>
    public static void Write(
        Stream output,
        IReadOnlyList<(string Label, IReadOnlyList<double> Values, (byte R, byte G, byte B) Color)> series,
        int width = 640, int height = 400)
    {
        byte[] rgb = Render(series, width, height);
        PngWriter.WriteRgb(output, width, height, rgb);
    }

    /// <summary>Renders the plot and saves it as an RGB PNG, atomically (see <see cref="PngWriter.SaveGray"/>).</summary>
    public static void Save(
        string path,
        IReadOnlyList<(string Label, IReadOnlyList<double> Values, (byte R, byte G, byte B) Color)> series,
        int width = 640, int height = 400)
    {
        byte[] rgb = Render(series, width, height);
        PngWriter.SaveRgb(path, width, height, rgb);
    }

    private static void DrawSeries(
        Canvas canvas, IReadOnlyList<double> values, (byte R, byte G, byte B) color, int points,
        double lo, double hi, int left, int right, int top, int bottom)
    {
        bool havePrevious = false;
        int px = 0, py = 0;
        for (int i = 0; i < values.Count; i++)
        {
            double v = values[i];
            if (!double.IsFinite(v))
            {
                havePrevious = false;
                continue;
            }

            int x = MapX(i, points, left, right);
            int y = MapY(v, lo, hi, top, bottom);
            if (havePrevious)
            {
                canvas.Line(px, py, x, y, color);
            }
            else
            {
                bool nextFinite = i + 1 < values.Count && double.IsFinite(values[i + 1]);
                if (!nextFinite)
                {
                    // A point with no finite neighbour would otherwise be invisible.
                    canvas.FillRect(x - 1, y - 1, 3, 3, color);
                }
            }

            havePrevious = true;
            px = x;
            py = y;
        }
    }

    private static (double Lo, double Hi) YRange(double min, double max)
    {
        if (min > max)
        {
            return (0, 1); // no finite value at all
        }

        double range = max - min;
        if (range == 0 || !double.IsFinite(range))
        {
            // A flat curve still needs a non-empty axis; centre it.
            double pad = range == 0 ? Math.Max(Math.Abs(max) * 0.1, 1e-3) : 0;
            if (pad == 0)
            {
                return (Math.Max(min, double.MinValue / 4), Math.Min(max, double.MaxValue / 4));
            }

            return (min - pad, max + pad);
        }

        return (min - (0.05 * range), max + (0.05 * range));
    }

    /// <summary>Rounds a raw step up to 1, 2 or 5 times a power of ten, so tick labels are short.</summary>
    private static double NiceStep(double raw)
    {
        if (!(raw > 0) || !double.IsFinite(raw))
        {
            return 1;
        }

        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double fraction = raw / magnitude;
        double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
        return nice * magnitude;
    }

    private static int Decimals(double step) => Math.Clamp(-(int)Math.Floor(Math.Log10(step) + 1e-9), 0, 6);

    private static string FormatTick(double value, double step, int decimals)
    {
        // Snap values that are a rounding error away from zero, otherwise "-0" shows up.
        if (Math.Abs(value) < step * 1e-6)
        {
            value = 0;
        }

        double magnitude = Math.Abs(value);
        if (magnitude >= 1e6 || step < 1e-4)
        {
            return value.ToString("0.##E+0", CultureInfo.InvariantCulture);
        }

        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    private static int MapX(double index, int points, int left, int right)
        => points <= 1 ? (left + right) / 2 : left + (int)Math.Round(index * (right - left) / (points - 1));

    private static int MapY(double value, double lo, double hi, int top, int bottom)
    {
        double t = (value - lo) / (hi - lo);
        return bottom - (int)Math.Round(Math.Clamp(t, 0, 1) * (bottom - top));
    }

    private static int TextWidth(string text) => text.Length == 0 ? 0 : (text.Length * Advance) - FontScale;

    /// <summary>3x5 glyph bitmaps, one row per 3 bits, top row in the highest bits, leftmost pixel in the highest bit of its row.</summary>
    private static int Glyph(char c) => c switch
    {
        '0' => 0b111_101_101_101_111,
        '1' => 0b010_110_010_010_111,
        '2' => 0b111_001_111_100_111,
        '3' => 0b111_001_111_001_111,
        '4' => 0b101_101_111_001_001,
        '5' => 0b111_100_111_001_111,
        '6' => 0b111_100_111_101_111,
        '7' => 0b111_001_001_010_010,
        '8' => 0b111_101_111_101_111,
        '9' => 0b111_101_111_001_111,
        'A' => 0b010_101_111_101_101,
        'B' => 0b110_101_110_101_110,
        'C' => 0b011_100_100_100_011,
        'D' => 0b110_101_101_101_110,
        'E' => 0b111_100_110_100_111,
        'F' => 0b111_100_110_100_100,
        'G' => 0b011_100_101_101_011,
        'H' => 0b101_101_111_101_101,
        'I' => 0b111_010_010_010_111,
        'J' => 0b001_001_001_101_010,
        'K' => 0b101_101_110_101_101,
        'L' => 0b100_100_100_100_111,
        'M' => 0b101_111_111_101_101,
        'N' => 0b110_101_101_101_101,
        'O' => 0b010_101_101_101_010,
        'P' => 0b110_101_110_100_100,
        'Q' => 0b010_101_101_110_011,
        'R' => 0b110_101_110_101_101,
        'S' => 0b011_100_010_001_110,
        'T' => 0b111_010_010_010_010,
        'U' => 0b101_101_101_101_111,
        'V' => 0b101_101_101_101_010,
        'W' => 0b101_101_111_111_101,
        'X' => 0b101_101_010_101_101,
        'Y' => 0b101_101_010_010_010,
        'Z' => 0b111_001_010_100_111,
        '-' => 0b000_000_111_000_000,
        '+' => 0b000_010_111_010_000,
        '.' => 0b000_000_000_000_010,
        ',' => 0b000_000_000_010_100,
        ':' => 0b000_010_000_010_000,
        '=' => 0b000_111_000_111_000,
        '/' => 0b001_001_010_100_100,
        '(' => 0b001_010_010_010_001,
        ')' => 0b100_010_010_010_100,
        '_' => 0b000_000_000_000_111,
        '%' => 0b101_001_010_100_101,
        _ => 0,
    };

    /// <summary>RGB raster with clipped drawing primitives; out-of-bounds pixels are silently dropped.</summary>
    private sealed class Canvas
    {
        private readonly int _width;
        private readonly int _height;

        public Canvas(int width, int height)
        {
            _width = width;
            _height = height;
            Pixels = new byte[width * height * 3];
        }

        public byte[] Pixels { get; }

        public void Fill((byte R, byte G, byte B) c) => FillRect(0, 0, _width, _height, c);

        public void Set(int x, int y, (byte R, byte G, byte B) c)
        {
            if ((uint)x >= (uint)_width || (uint)y >= (uint)_height)
            {
                return;
            }

            int i = ((y * _width) + x) * 3;
            Pixels[i] = c.R;
            Pixels[i + 1] = c.G;
            Pixels[i + 2] = c.B;
        }

        public void FillRect(int x, int y, int w, int h, (byte R, byte G, byte B) c)
        {
            for (int yy = y; yy < y + h; yy++)
            {
                for (int xx = x; xx < x + w; xx++)
                {
                    Set(xx, yy, c);
                }
            }
        }

        public void HLine(int x0, int x1, int y, (byte R, byte G, byte B) c) => FillRect(x0, y, x1 - x0 + 1, 1, c);

        public void VLine(int x, int y0, int y1, (byte R, byte G, byte B) c) => FillRect(x, y0, 1, y1 - y0 + 1, c);

        /// <summary>Bresenham's integer line, all octants.</summary>
        public void Line(int x0, int y0, int x1, int y1, (byte R, byte G, byte B) c)
        {
            int dx = Math.Abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
            int dy = -Math.Abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
            int err = dx + dy;
            while (true)
            {
                Set(x0, y0, c);
                if (x0 == x1 && y0 == y1)
                {
                    return;
                }

                int e2 = 2 * err;
                if (e2 >= dy)
                {
                    err += dy;
                    x0 += sx;
                }

                if (e2 <= dx)
                {
                    err += dx;
                    y0 += sy;
                }
            }
        }

        public void Text(int x, int y, string text, (byte R, byte G, byte B) c)
        {
            foreach (char ch in text)
            {
                int bits = Glyph(ch);
                for (int row = 0; row < 5; row++)
                {
                    for (int col = 0; col < 3; col++)
                    {
                        if ((bits & (1 << (14 - (row * 3) - col))) != 0)
                        {
                            FillRect(x + (col * FontScale), y + (row * FontScale), FontScale, FontScale, c);
                        }
                    }
                }

                x += Advance;
            }
        }
    }
}
