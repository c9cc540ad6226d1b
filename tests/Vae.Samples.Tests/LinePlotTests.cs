using Vae.Samples.Fashion.Pictures;

namespace Vae.Samples.Tests;

/// <summary>The line plot behind the sample's training-curve picture.</summary>
public sealed class LinePlotTests
{
    [Fact]
    public void LinePlot_WritesDecodablePngOfRequestedSize()
    {
        (byte R, byte G, byte B) red = (220, 20, 20), blue = (20, 20, 220);
        var train = Enumerable.Range(0, 200).Select(i => 100.0 * Math.Exp(-i / 40.0)).ToArray();
        var valid = Enumerable.Range(0, 150).Select(i => i == 70 ? double.NaN : 110.0 * Math.Exp(-i / 50.0)).ToArray();

        string folder = AppRunner.TempFolder("line-plot");
        try
        {
            string path = Path.Combine(folder, "curves.png");
            LinePlot.Save(path, [("train", train, red), ("valid", valid, blue)], 500, 300);

            var image = Png.Read(path);
            Assert.Equal(500, image.Width);
            Assert.Equal(300, image.Height);
            Assert.Equal(2, image.ColorType);
            Assert.Equal((255, 255, 255), image.Rgb(0, image.Height - 1)); // corner is background
            Assert.True(CountColor(image.Pixels, red) > 300, "the train curve is drawn");
            Assert.True(CountColor(image.Pixels, blue) > 200, "the valid curve is drawn");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void LinePlot_HandlesDegenerateSeries()
    {
        (byte R, byte G, byte B) green = (0, 160, 0);
        IReadOnlyList<(string Label, IReadOnlyList<double> Values, (byte R, byte G, byte B) Color)>[] cases =
        [
            [],
            [("flat", [3.0, 3.0, 3.0], green)],
            [("single", [5.0], green)],
            [("nan", [double.NaN, double.PositiveInfinity], green)],
            [("empty", Array.Empty<double>(), green)],
            [("tiny range", [1e16, 1e16 + 2, 1e16 + 4], green)],
        ];

        foreach (var series in cases)
        {
            byte[] rgb = LinePlot.Render(series, 200, 150);
            Assert.Equal(200 * 150 * 3, rgb.Length);
        }

        Assert.True(CountColor(LinePlot.Render([("single", [5.0], green)], 200, 150), green) >= 9,
            "an isolated point is still visible");
    }

    [Fact]
    public void LinePlot_ArgumentErrors()
    {
        Assert.Throws<ArgumentNullException>(() => LinePlot.Render(null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinePlot.Render([], LinePlot.MinWidth - 1, 200));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinePlot.Render([], 300, LinePlot.MinHeight - 1));
        Assert.Throws<ArgumentException>(() => LinePlot.Render([("x", null!, (0, 0, 0))]));
    }

    private static int CountColor(byte[] rgb, (byte R, byte G, byte B) color)
    {
        int n = 0;
        for (int i = 0; i < rgb.Length; i += 3)
        {
            if (rgb[i] == color.R && rgb[i + 1] == color.G && rgb[i + 2] == color.B)
            {
                n++;
            }
        }

        return n;
    }
}
