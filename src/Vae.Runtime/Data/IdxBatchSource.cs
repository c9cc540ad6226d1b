using System.IO.MemoryMappedFiles;

namespace Vae.Data;

/// <summary>
/// Images read from an IDX file as the trainer asks for them, for data that should not be held in memory as floats.
/// The pixels (decompressed once, if the file is gzip) sit in a raw file that is memory-mapped: the operating system
/// pages in what is read and drops it under pressure, so the process holds about one byte per pixel at most (the
/// in-memory path holds four, plus the bytes it read them from), and each pixel becomes <c>pixel / 255f</c> exactly as
/// <see cref="IdxImages.ToFloats"/> makes it, so training sees the same numbers either way.
/// </summary>
/// <remarks>
/// The trainer's shuffle is a full permutation, so reads jump around the file; that is cheap while the file fits in
/// the page cache (Fashion-MNIST's 47 MB does) and slow from a disk when it does not.
/// </remarks>
public sealed unsafe class IdxBatchSource : IBatchSource, IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pixels;
    private readonly byte[] _labels;
    private readonly string _pixelFile;
    private readonly float[] _scale = new float[256];
    private int _disposed;

    private IdxBatchSource(string pixelFile, int count, int rows, int columns, byte[] labels)
    {
        _pixelFile = pixelFile;
        Count = count;
        Rows = rows;
        Columns = columns;
        _labels = labels;
        for (int v = 0; v < 256; v++) _scale[v] = v / 255f;
        _map = MemoryMappedFile.CreateFromFile(pixelFile, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, (long)count * rows * columns, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _pixels = pointer + _view.PointerOffset;
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
        var pixels = new ReadOnlySpan<byte>(_pixels + (long)index * length, length);
        var scale = _scale;
        for (int i = 0; i < length; i++) destination[i] = scale[pixels[i]];
    }

    /// <inheritdoc/>
    public int LabelOf(int index) => _labels[index];

    /// <summary>Unmaps the pixels and deletes the temporary pixel file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        File.Delete(_pixelFile);
    }
}
