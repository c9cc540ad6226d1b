using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Vae.Data;

/// <summary>
/// Images read from an IDX file as the trainer asks for them, for data that should not be held in memory as floats.
/// The pixels (decompressed once, if the file is gzip) sit in a raw file from which each example is read at its offset
/// when the trainer asks for it: the file's pages live in the operating system's cache, which it drops under pressure,
/// not in the process (a memory map would count every page touched in the process's working set), and each pixel
/// becomes <c>pixel / 255f</c> exactly as <see cref="IdxImages.ToFloats"/> makes it, so training sees the same
/// numbers either way.
/// </summary>
/// <remarks>
/// The trainer's shuffle is a full permutation, so reads jump around the file; that is cheap while the file fits in
/// the page cache (Fashion-MNIST's 47 MB does) and slow from a disk when it does not.
/// </remarks>
public sealed class IdxBatchSource : IBatchSource, IDisposable
{
    private readonly SafeFileHandle _pixels;
    private readonly byte[] _labels;
    private readonly string _pixelFile;
    private int _disposed;

    private IdxBatchSource(string pixelFile, int count, int rows, int columns, byte[] labels)
    {
        _pixelFile = pixelFile;
        Count = count;
        Rows = rows;
        Columns = columns;
        _labels = labels;
        _pixels = File.OpenHandle(pixelFile, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
    }

    /// <summary>
    /// Opens an IDX images file (raw or gzip) and, optionally, its labels file. The pixels are first copied, a
    /// megabyte at a time, to a temporary raw file in <paramref name="cacheDirectory"/> (the system's temporary folder
    /// by default), which is deleted on <see cref="Dispose"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A file is not a well-formed IDX file, or the labels do not match the images (the message names the file).</exception>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="IOException">Reading or writing the cache failed.</exception>
    public static IdxBatchSource Open(string imagesPath, string? labelsPath = null, string? cacheDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        byte[] labels = labelsPath is null ? [] : IdxReader.ReadLabels(labelsPath);
        string directory = cacheDirectory ?? Path.GetTempPath();
        string pixelFile = Path.Combine(directory, $"vae-pixels-{Environment.ProcessId}-{Guid.NewGuid():N}.raw");
        try
        {
            var (count, rows, columns) = IdxReader.ExtractPixels(imagesPath, pixelFile);
            if (labelsPath is not null && labels.Length != count)
                throw new InvalidDataException($"{labelsPath}: {labels.Length} labels for the {count} images of {imagesPath}.");
            return new IdxBatchSource(pixelFile, count, rows, columns, labels);
        }
        catch
        {
            File.Delete(pixelFile);
            throw;
        }
    }

    /// <inheritdoc/>
    public int Count { get; }

    /// <summary>Image height in pixels.</summary>
    public int Rows { get; }

    /// <summary>Image width in pixels.</summary>
    public int Columns { get; }

    /// <inheritdoc/>
    public int ExampleLength => Rows * Columns;

    /// <inheritdoc/>
    public bool HasLabels => _labels.Length > 0;

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an example or <paramref name="destination"/> is shorter than one.</exception>
    /// <exception cref="ObjectDisposedException">The source was disposed.</exception>
    public void CopyExample(int index, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The source has {Count} examples.");
        int length = ExampleLength;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, length, nameof(destination));
        byte[] pixels = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            long offset = (long)index * length;
            for (int got = 0, n; got < length; got += n)
            {
                n = RandomAccess.Read(_pixels, pixels.AsSpan(got, length - got), offset + got);
                if (n == 0) throw new IOException($"{_pixelFile}: the pixel file ended early (example {index}); was it changed while in use?");
            }
            var scale = IdxImages.PixelValues;
            for (int i = 0; i < length; i++) destination[i] = scale[pixels[i]];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    /// <inheritdoc/>
    public int LabelOf(int index) => _labels[index];

    /// <summary>Closes and deletes the temporary pixel file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _pixels.Dispose();
        File.Delete(_pixelFile);
    }
}
