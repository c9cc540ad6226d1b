namespace Vae.Kernels.Cpu;

/// <summary>A conditional model's labels: appended one-hot to rows of the encoder input or of z, and dropped from their gradient.</summary>
public static unsafe class Conditioning
{
    /// <summary>
    /// output[r] = [input[r] (width values) | one-hot of labels[r / samples] over <paramref name="classes"/>], for
    /// <paramref name="rows"/> rows. Labels are class indices held as floats (checked by the model before they get here).
    /// </summary>
    public static void AppendOneHot(int rows, int width, int classes, int samples, Floats input, Floats labels, Floats output)
    {
        int columns = width + classes;
        for (long r = 0; r < rows; r++)
        {
            float* o = output + r * columns;
            new ReadOnlySpan<float>(input + r * width, width).CopyTo(new Span<float>(o, width));
            new Span<float>(o + width, classes).Clear();
            o[width + (int)labels[r / samples]] = 1f;
        }
    }

    /// <summary>
    /// output[r] = [input[r] (width values) | <paramref name="classes"/> planes of <paramref name="area"/> values, ones in
    /// the plane of labels[r / samples] and zeros elsewhere]: a label joining a reshaped z as image channels.
    /// </summary>
    public static void AppendLabelPlanes(int rows, int width, int classes, int area, int samples, Floats input, Floats labels, Floats output)
    {
        long columns = width + (long)classes * area;
        for (long r = 0; r < rows; r++)
        {
            float* o = output + r * columns;
            new ReadOnlySpan<float>(input + r * width, width).CopyTo(new Span<float>(o, width));
            new Span<float>(o + width, classes * area).Clear();
            new Span<float>(o + width + (long)(int)labels[r / samples] * area, area).Fill(1f);
        }
    }

    /// <summary>output[r, :width] = input[r, :width] of rows that carry <paramref name="extra"/> more columns (the label's).</summary>
    public static void DropColumns(int rows, int width, int extra, Floats input, Floats output)
    {
        for (long r = 0; r < rows; r++)
            new ReadOnlySpan<float>(input + r * (width + extra), width).CopyTo(new Span<float>(output + r * width, width));
    }
}
