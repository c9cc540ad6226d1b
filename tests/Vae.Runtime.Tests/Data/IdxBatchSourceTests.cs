using System.IO.Compression;
using Vae.Data;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Data;

/// <summary>The streaming IDX source: the same numbers as the in-memory path, the same training, clean failure.</summary>
public sealed class IdxBatchSourceTests : IDisposable
{
    private static string ShippedImages => Path.Combine(RepositoryData.Root, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");
    private static string ShippedLabels => Path.Combine(RepositoryData.Root, "data", "fashion-mnist", "t10k-labels-idx1-ubyte.gz");

    private readonly string _cache = Directory.CreateTempSubdirectory("vae-stream-test-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    [Fact]
    public void Every_example_and_label_is_what_the_in_memory_path_holds()
    {
        var floats = RepositoryData.FashionTest;
        var labels = IdxReader.ReadLabels(ShippedLabels);
        using var source = IdxBatchSource.Open(ShippedImages, ShippedLabels, _cache);
        Assert.Equal((10_000, 28, 28, 784, true), (source.Count, source.Rows, source.Columns, source.ExampleLength, source.HasLabels));
        var row = new float[784];
        for (int i = 0; i < source.Count; i++)
        {
            source.CopyExample(i, row);
            Assert.True(floats.AsSpan(i * 784, 784).SequenceEqual(row), $"example {i} differs");
            Assert.Equal(labels[i], source.LabelOf(i));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => source.CopyExample(10_000, row));
        Assert.Throws<ArgumentOutOfRangeException>(() => source.CopyExample(-1, row));
    }

    [Fact]
    public void Training_from_the_stream_gives_the_parameters_of_training_from_memory_bit_for_bit()
    {
        var data = RepositoryData.FashionTest.AsMemory(0, 3000 * 784);
        using var device = Device.Cpu(2);
        using var fromMemory = new DefaultVae(device, seed: 5);
        using var fromStream = new DefaultVae(device, seed: 5);
        var memoryResults = new Trainer(fromMemory, new Adam(1e-3f), batchSize: 100, shuffleSeed: 9).Fit(data, 2);

        string rawImages = WriteRawIdx(3000);
        using var source = IdxBatchSource.Open(rawImages, cacheDirectory: _cache);
        var streamResults = new Trainer(fromStream, new Adam(1e-3f), batchSize: 100, shuffleSeed: 9).Fit(source, 2);

        Assert.Equal(memoryResults.Select(r => r.TrainLoss), streamResults.Select(r => r.TrainLoss));
        Assert.Equal(fromMemory.GetParameters(), fromStream.GetParameters());
        using var untrained = new DefaultVae(device, seed: 5);
        Assert.NotEqual(untrained.GetParameters(), fromStream.GetParameters());
    }

    [Fact]
    public void The_pixel_file_is_removed_on_dispose_and_the_source_refuses_use_after()
    {
        var source = IdxBatchSource.Open(ShippedImages, cacheDirectory: _cache);
        Assert.Single(Directory.GetFiles(_cache));
        source.Dispose();
        source.Dispose();
        Assert.Empty(Directory.GetFiles(_cache));
        Assert.Throws<ObjectDisposedException>(() => source.CopyExample(0, new float[784]));
    }

    [Fact]
    public void A_truncated_file_is_an_error_naming_it_and_leaves_no_pixel_file()
    {
        string path = Path.Combine(_cache, "cut-images-idx3-ubyte");
        byte[] whole = File.ReadAllBytes(WriteRawIdx(10));
        File.WriteAllBytes(path, whole.AsSpan(0, whole.Length - 100).ToArray());
        var error = Assert.Throws<InvalidDataException>(() => IdxBatchSource.Open(path, cacheDirectory: _cache));
        Assert.Contains(path, error.Message);
        Assert.Equal(new[] { path, Path.Combine(_cache, "raw-images-idx3-ubyte") }.Order(), Directory.GetFiles(_cache).Order());
    }

    [Fact]
    public void Labels_that_do_not_match_the_images_are_refused()
    {
        string images = WriteRawIdx(10);
        var error = Assert.Throws<InvalidDataException>(() => IdxBatchSource.Open(images, ShippedLabels, _cache));
        Assert.Contains("10000 labels for the 10 images", error.Message);
    }

    [Fact]
    public void Opening_fashion_mnist_for_streaming_refuses_a_label_that_is_not_a_class()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_cache, "data")).FullName;
        File.Move(WriteRawIdx(3), Path.Combine(folder, "t10k-images-idx3-ubyte"));
        File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 3, 4, 12, 7]);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.OpenStreaming(folder, train: false, _cache));
        Assert.Contains("label 12 of item 1", error.Message);
        Assert.Empty(Directory.GetFiles(_cache)); // the pixel copy went with the refused source
        File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 3, 4, 9, 7]);
        using var source = FashionMnist.OpenStreaming(folder, train: false, _cache);
        Assert.Equal((3, 9), (source.Count, source.LabelOf(1)));
    }

    [Fact]
    public void A_conditional_model_refuses_a_source_without_labels()
    {
        using var device = Device.Cpu(1);
        using var model = new ConditionalVae(device, seed: 1);
        var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 4);
        var source = new InMemoryBatchSource(new float[8 * 9], 9);
        var error = Assert.Throws<ArgumentException>(() => trainer.TrainEpoch(source));
        Assert.Contains("conditional", error.Message);
        Assert.Equal(0, model.Step);
    }

    /// <summary>The first <paramref name="count"/> shipped test images as an uncompressed IDX file in the cache folder.</summary>
    private string WriteRawIdx(int count)
    {
        string path = Path.Combine(_cache, "raw-images-idx3-ubyte");
        using (var gz = new GZipStream(File.OpenRead(ShippedImages), CompressionMode.Decompress))
        using (var output = File.Create(path))
        {
            var buffer = new byte[16 + count * 784];
            gz.ReadExactly(buffer);
            buffer[4] = (byte)(count >> 24); buffer[5] = (byte)(count >> 16); buffer[6] = (byte)(count >> 8); buffer[7] = (byte)count;
            output.Write(buffer);
        }
        return path;
    }
}
