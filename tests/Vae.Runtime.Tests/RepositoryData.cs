using Vae.Data;

namespace Vae.Runtime.Tests;

/// <summary>The Fashion-MNIST test split that ships in the repository under data/fashion-mnist.</summary>
internal static class RepositoryData
{
    private static readonly Lazy<float[]> Images = new(() =>
        IdxReader.ReadImages(Path.Combine(Root, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz")).ToFloats());

    /// <summary>The repository root: the first folder above the test binaries that holds Vae.sln.</summary>
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Vae.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException("Could not find Vae.sln above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>10,000 images of 784 pixels in [0, 1].</summary>
    public static float[] FashionTest => Images.Value;
}
