using Vae.Data;

namespace Vae.Samples.Fashion;

/// <summary>
/// Training and test images as [examples, 784] floats in [0, 1], their class labels (0 to 9), and where they came from.
/// </summary>
internal sealed record FashionData(float[] Train, float[] Test, string Source, int[] TrainLabels, int[] TestLabels)
{
    /// <summary>The test split of the shipped copy is cut here: the first part trains, the rest tests.</summary>
    public const int ShippedTrainCount = 8000;

    /// <summary>Folder of the copy that ships in the repository, relative to the repository root.</summary>
    public static readonly string ShippedRelativePath = Path.Combine("data", "fashion-mnist");

    public int TrainCount => Train.Length / Models.ImagePixels;
    public int TestCount => Test.Length / Models.ImagePixels;

    /// <summary>
    /// Loads from <paramref name="directory"/> when given, else Debian's dataset-fashion-mnist folder when it exists,
    /// else the repository's copy. A folder with only the t10k files (the repository's copy) is split 8,000/2,000,
    /// and <paramref name="notes"/> says so. <paramref name="limit"/> keeps the first N training images. Commands that
    /// only look at test images pass <paramref name="needTrain"/> false and get an empty training set when the folder
    /// has a separate training split, which then is not read at all.
    /// </summary>
    /// <exception cref="FileNotFoundException">No data set was found; the message says where the app looked.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static FashionData Load(string? directory, int? limit, TextWriter notes, bool needTrain = true)
    {
        string dir = directory ?? FindDefault();
        FashionData data;
        if (HasSplit(dir, "train") || !HasSplit(dir, "t10k"))
        {
            // When neither split is there, loading the training split produces the runtime's message naming every file tried.
            var (train, trainLabels) = needTrain ? Images(dir, train: true) : ([], []);
            var (test, testLabels) = Images(dir, train: false);
            data = new FashionData(train, test, dir, trainLabels, testLabels);
        }
        else
        {
            var (all, labels) = Images(dir, train: false);
            int cut = ShippedTrainCount * Models.ImagePixels;
            if (all.Length <= cut)
                throw new InvalidDataException($"'{dir}' holds only the t10k split with {all.Length / Models.ImagePixels} images; splitting it needs more than {ShippedTrainCount}.");
            notes.WriteLine($"data: '{dir}' holds only the {all.Length / Models.ImagePixels:N0}-image test split; " +
                $"{(needTrain ? "training on" : "reserving")} its first {ShippedTrainCount:N0} images and testing on the last {(all.Length - cut) / Models.ImagePixels:N0}.");
            data = new FashionData(all[..cut], all[cut..], dir, labels[..ShippedTrainCount], labels[ShippedTrainCount..]);
        }

        if (limit is int n && n < data.TrainCount)
        {
            notes.WriteLine($"data: using the first {n:N0} of {data.TrainCount:N0} training images (--limit).");
            data = data with { Train = data.Train[..(n * Models.ImagePixels)], TrainLabels = data.TrainLabels[..n] };
        }
        return data;
    }

    /// <summary>The repository's copy, found above the executable or above the current directory; null when neither has it.</summary>
    public static string? FindShipped()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, ShippedRelativePath);
                if (HasSplit(candidate, "t10k")) return candidate;
            }
        }
        return null;
    }

    private static string FindDefault()
    {
        if (Directory.Exists(FashionMnist.DebianDirectory)) return FashionMnist.DebianDirectory;
        return FindShipped() ?? throw new FileNotFoundException(
            $"No Fashion-MNIST data found: pass --data DIR (a folder of IDX files), install Debian's dataset-fashion-mnist " +
            $"package ({FashionMnist.DebianDirectory}), or run from inside the repository, which ships {ShippedRelativePath}.");
    }

    /// <summary>True when the folder has the images of the split under any of the names the runtime accepts.</summary>
    private static bool HasSplit(string directory, string prefix) =>
        Directory.Exists(directory) && Directory.EnumerateFiles(directory, prefix + "-images*").Any();

    private static (float[] Images, int[] Labels) Images(string directory, bool train)
    {
        var (images, labels) = FashionMnist.Load(directory, train);
        if (images.PixelsPerImage != Models.ImagePixels)
            throw new InvalidDataException($"{images.Path}: images are {images.Rows}x{images.Columns}; Fashion-MNIST's are {Models.ImageSide}x{Models.ImageSide}.");
        var classes = labels.Select(l => (int)l).ToArray();
        if (classes.Any(c => c >= Models.Classes))
            throw new InvalidDataException($"'{directory}': a label is {classes.Max()}; Fashion-MNIST's classes are 0 to {Models.Classes - 1}.");
        return (images.ToFloats(), classes);
    }
}
