using System.Buffers.Binary;
using System.IO.Compression;
using Vae.Data;
using Xunit;

namespace Vae.Runtime.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vae-idx-tests-" + Guid.NewGuid().ToString("N"));

    public IdxReaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- helpers -------------------------------------------------------------------------------------------

    private static byte[] Header(int magic, params uint[] dims)
    {
        var bytes = new byte[4 + 4 * dims.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        }
        return bytes;
    }

    private static byte[] ImagesFile(int count, int rows, int cols, out byte[] pixels)
    {
        pixels = new byte[count * rows * cols];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(i * 37 + 11);
        }
        return [.. Header(0x803, (uint)count, (uint)rows, (uint)cols), .. pixels];
    }

    private static byte[] LabelsFile(byte[] labels) => [.. Header(0x801, (uint)labels.Length), .. labels];

    private static byte[] Gzip(byte[] raw)
    {
        var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(raw);
        }
        return output.ToArray();
    }

    private string Save(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Runs the images reader on the bytes as a file, a seekable stream and a non-seekable stream.</summary>
    private void AssertImagesRejected(byte[] bytes, params string[] fragments)
    {
        string path = Save("bad-" + Guid.NewGuid().ToString("N"), bytes);
        AssertMessage(Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path)), path, fragments);
        AssertMessage(Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(bytes), "mem.idx")),
            "mem.idx", fragments);
        AssertMessage(Assert.Throws<InvalidDataException>(
            () => IdxReader.ReadImages(new NonSeekableStream(chunk: 7, data: bytes), "pipe.idx")), "pipe.idx", fragments);
    }

    private void AssertLabelsRejected(byte[] bytes, params string[] fragments)
    {
        string path = Save("bad-" + Guid.NewGuid().ToString("N"), bytes);
        AssertMessage(Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path)), path, fragments);
        AssertMessage(Assert.Throws<InvalidDataException>(
            () => IdxReader.ReadLabels(new NonSeekableStream(chunk: 7, data: bytes), "pipe.idx")), "pipe.idx", fragments);
    }

    private static void AssertMessage(Exception e, string name, string[] fragments)
    {
        Assert.Contains(name, e.Message);
        foreach (string f in fragments)
        {
            Assert.Contains(f, e.Message);
        }
    }

    // ---- round trips ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Images_round_trip(bool gzip)
    {
        byte[] raw = ImagesFile(3, 4, 5, out byte[] pixels);
        string path = Save(gzip ? "images.bin" : "images.gz", gzip ? Gzip(raw) : raw); // names deliberately misleading

        IdxImages images = IdxReader.ReadImages(path);

        Assert.Equal(path, images.Path);
        Assert.Equal(3, images.Count);
        Assert.Equal(4, images.Rows);
        Assert.Equal(5, images.Columns);
        Assert.Equal(20, images.PixelsPerImage);
        Assert.Equal(pixels, images.Pixels);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Labels_round_trip(bool gzip)
    {
        byte[] labels = [0, 9, 3, 3, 7];
        byte[] raw = LabelsFile(labels);
        string path = Save("labels", gzip ? Gzip(raw) : raw);

        Assert.Equal(labels, IdxReader.ReadLabels(path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Non_seekable_streams_are_read_raw_and_gzip(bool gzip)
    {
        byte[] raw = ImagesFile(2, 3, 3, out byte[] pixels);
        var images = IdxReader.ReadImages(new NonSeekableStream(chunk: 7, data: gzip ? Gzip(raw) : raw), "pipe");
        Assert.Equal("pipe", images.Path);
        Assert.Equal(pixels, images.Pixels);

        byte[] labels = [1, 2];
        Assert.Equal(labels, IdxReader.ReadLabels(new NonSeekableStream(chunk: 7, data: gzip ? Gzip(LabelsFile(labels)) : LabelsFile(labels)), "pipe"));
    }

    [Fact]
    public void Stream_is_read_from_its_current_position_and_left_open()
    {
        byte[] raw = ImagesFile(1, 2, 2, out byte[] pixels);
        var stream = new MemoryStream([0xAA, 0xBB, .. raw]) { Position = 2 };
        Assert.Equal(pixels, IdxReader.ReadImages(stream, "mem").Pixels);
        Assert.True(stream.CanRead);
    }

    [Fact]
    public void ToFloats_scales_to_unit_range_in_image_major_layout()
    {
        var images = new IdxImages("x", 2, 1, 2, [0, 255, 51, 128]);
        Assert.Equal([0f, 1f, 51 / 255f, 128 / 255f], images.ToFloats());
    }

    // ---- bad content ---------------------------------------------------------------------------------------

    [Fact]
    public void Truncated_pixels_are_reported_with_expected_and_actual_bytes()
    {
        byte[] raw = ImagesFile(3, 4, 5, out _);
        AssertImagesRejected(raw[..^7], "truncated", "60 bytes", "only 53 bytes");
        // Through gzip the same check holds, on the decompressed length.
        string path = Save("trunc.gz", Gzip(raw[..^7]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        AssertMessage(e, path, ["60 bytes", "only 53 bytes", "after decompression"]);
    }

    [Fact]
    public void Truncated_header_is_reported()
    {
        byte[] raw = ImagesFile(1, 2, 2, out _);
        AssertImagesRejected(raw[..10], "header is truncated", "found 6");
        AssertImagesRejected(raw[..3], "too short");
        AssertImagesRejected([], "empty");
    }

    [Fact]
    public void Trailing_bytes_are_reported()
    {
        byte[] raw = ImagesFile(2, 2, 2, out _);
        AssertImagesRejected([.. raw, 1, 2, 3], "3 unexpected trailing bytes", "8 bytes", "11 bytes follow");
        AssertLabelsRejected([.. LabelsFile([1, 2]), 0], "1 unexpected trailing bytes");
        string path = Save("long.gz", Gzip([.. raw, 1, 2, 3]));
        AssertMessage(Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path)), path, ["3 unexpected trailing bytes"]);
    }

    [Fact]
    public void Wrong_magic_is_reported()
    {
        AssertImagesRejected([0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0], "not an IDX file", "0x89504E47");
        AssertLabelsRejected([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0], "not an IDX file", "0x12345678");
        // Right family, wrong element type: say what type it is.
        AssertImagesRejected([.. Header(0x0D03, 1, 1, 1), 0, 0, 0, 0], "0x0D", "float32", "only unsigned bytes");
        // Right type, wrong rank.
        AssertImagesRejected([.. Header(0x0802, 1, 1), 0], "2 dimension(s), expected 3");
    }

    [Fact]
    public void Labels_file_given_as_images_and_vice_versa()
    {
        AssertImagesRejected(LabelsFile([1, 2, 3]), "this looks like a labels file", "expected images");
        AssertLabelsRejected(ImagesFile(1, 2, 2, out _), "this looks like an images file", "expected labels");
    }

    [Fact]
    public void Zero_dimensions_are_rejected()
    {
        AssertImagesRejected(Header(0x803, 0, 28, 28), "image count 0", "byte offset 4");
        AssertImagesRejected(Header(0x803, 5, 0, 28), "rows 0", "byte offset 8");
        AssertImagesRejected(Header(0x803, 5, 28, 0), "columns 0", "byte offset 12");
        AssertLabelsRejected(Header(0x801, 0), "label count 0");
    }

    [Fact]
    public void Huge_dimensions_are_rejected_before_any_allocation()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertImagesRejected(Header(0x803, 0xFFFF_FFFF, 28, 28), "image count 4294967295", "out of range");
        AssertImagesRejected(Header(0x803, 10, 100_000, 28), "rows 100000");
        AssertLabelsRejected(Header(0x801, 2_000_000_000), "label count 2000000000");
        // Each dimension plausible, the product (4.2 GB) is not.
        AssertImagesRejected(Header(0x803, 1_000_000, 64, 64), "4096000000 bytes", "more than one array can hold");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void Lying_header_does_not_cause_a_huge_allocation()
    {
        // 60 million 28x28 images would be 47 GB; 1 million are 784 MB: plausible per dimension, absent in fact.
        byte[] raw = [.. Header(0x803, 1_000_000, 28, 28), .. new byte[100]];
        long before = GC.GetAllocatedBytesForCurrentThread();
        AssertImagesRejected(raw, "784000000 bytes", "only 100 bytes");
        string path = Save("lying.gz", Gzip(raw));
        AssertMessage(Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path)), path, ["only 100 bytes"]);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 32 << 20);
    }

    [Fact]
    public void Corrupt_gzip_is_reported_with_the_file_name()
    {
        byte[] gz = Gzip(ImagesFile(4, 8, 8, out _));
        for (int i = 10; i < gz.Length - 8; i++)
        {
            gz[i] ^= 0x5A; // scramble the deflate body, keep the gzip magic
        }
        string path = Save("corrupt.gz", gz);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("gzip", e.Message);

        // A gzip magic followed by garbage.
        string path2 = Save("garbage.gz", [0x1F, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        var e2 = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path2));
        Assert.Contains(path2, e2.Message);
    }

    [Fact]
    public void Gzip_stream_cut_short_is_reported_with_the_file_name()
    {
        byte[] gz = Gzip(ImagesFile(50, 16, 16, out _));
        string path = Save("cut.gz", gz[..(gz.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        // GZipStream ends quietly at a cut, so this surfaces as missing data; the message suggests the cause.
        AssertMessage(e, path, ["12800 bytes", "may be cut short"]);
    }

    [Fact]
    public void Missing_file_is_reported()
    {
        string path = Path.Combine(_dir, "nope-idx3-ubyte");
        var e = Assert.Throws<FileNotFoundException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FileName);
        Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels(path));
    }

    // ---- Fashion-MNIST -------------------------------------------------------------------------------------

    [Fact]
    public void FashionMnist_loads_a_directory_with_mixed_raw_and_gzip_files()
    {
        File.WriteAllBytes(Path.Combine(_dir, "t10k-images-idx3-ubyte"), ImagesFile(3, 2, 2, out byte[] pixels));
        File.WriteAllBytes(Path.Combine(_dir, "t10k-labels-idx1-ubyte.gz"), Gzip(LabelsFile([0, 5, 9])));

        var (images, labels) = FashionMnist.Load(_dir, train: false);

        Assert.Equal(pixels, images.Pixels);
        Assert.Equal([0, 5, 9], labels);
    }

    [Fact]
    public void FashionMnist_lists_the_files_it_looked_for()
    {
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(_dir, train: true));
        Assert.Contains(Path.Combine(_dir, "train-images-idx3-ubyte"), e.Message);
        Assert.Contains(Path.Combine(_dir, "train-images-idx3-ubyte.gz"), e.Message);

        string missingDir = Path.Combine(_dir, "absent");
        var e2 = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(missingDir, train: false));
        Assert.Contains("does not exist", e2.Message);
        Assert.Contains("t10k-images-idx3-ubyte", e2.Message);
    }

    [Fact]
    public void FashionMnist_rejects_disagreeing_counts_and_bad_labels()
    {
        File.WriteAllBytes(Path.Combine(_dir, "train-images-idx3-ubyte"), ImagesFile(3, 2, 2, out _));
        File.WriteAllBytes(Path.Combine(_dir, "train-labels-idx1-ubyte"), LabelsFile([0, 5]));
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir, train: true));
        Assert.Contains("3 images", e.Message);
        Assert.Contains("2 labels", e.Message);

        File.WriteAllBytes(Path.Combine(_dir, "train-labels-idx1-ubyte"), LabelsFile([0, 5, 10]));
        var e2 = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(_dir, train: true));
        Assert.Contains("label 10 of item 2", e2.Message);
    }

    [Fact]
    public void FashionMnist_class_names_are_the_ten_classes()
    {
        string[] names = FashionMnist.ClassNames;
        Assert.Equal(10, names.Length);
        Assert.Equal("T-shirt/top", names[0]);
        Assert.Equal("Ankle boot", names[9]);
        names[0] = "changed";
        Assert.Equal("T-shirt/top", FashionMnist.ClassNames[0]);
    }

    [Fact]
    public void FashionMnist_real_test_set_when_installed()
    {
        if (!Directory.Exists(FashionMnist.DebianDirectory))
        {
            return; // dataset-fashion-mnist is not installed here
        }

        var (images, labels) = FashionMnist.Load(FashionMnist.DebianDirectory, train: false);

        Assert.Equal(10000, images.Count);
        Assert.Equal(28, images.Rows);
        Assert.Equal(28, images.Columns);
        Assert.Equal(10000 * 28 * 28, images.Pixels.Length);
        Assert.Equal(10000, labels.Length);
        Assert.All(labels, l => Assert.InRange(l, (byte)0, (byte)9));
        // The test set is balanced: 1000 images per class.
        Assert.All(labels.GroupBy(l => l), g => Assert.Equal(1000, g.Count()));
        Assert.Contains(images.Pixels, p => p == 255);
    }
}
