namespace Vae.Samples.Tests;

/// <summary>Mistakes a user can make get a message they can act on, a non-zero exit code and no stack trace.</summary>
public sealed class ErrorTests
{
    [Fact]
    public void An_unknown_device_lists_the_valid_ones()
    {
        var result = AppRunner.Run("train", "--device", "gpu", "--data", AppRunner.ShippedData);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'gpu'", result.Stderr);
        foreach (var name in new[] { "cpu", "opencl", "cuda", "auto" }) Assert.Contains(name, result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void A_latent_size_that_is_not_compiled_lists_the_compiled_sizes()
    {
        var result = AppRunner.Run("train", "--latent", "7", "--data", AppRunner.ShippedData);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--latent 7", result.Stderr);
        Assert.Contains("2, 5, 10, 20, 32, 64", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void A_missing_data_folder_is_named()
    {
        string missing = Path.Combine(Path.GetTempPath(), "vae-samples-tests", "no-such-folder");
        var result = AppRunner.Run("train", "--epochs", "1", "--data", missing);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(missing, result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
    }

    [Fact]
    public void A_corrupt_data_file_is_reported_with_its_name()
    {
        string folder = AppRunner.TempFolder("corrupt");
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "t10k-images-idx3-ubyte"), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
            File.Copy(Path.Combine(AppRunner.ShippedData, "t10k-labels-idx1-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
            var result = AppRunner.Run("train", "--epochs", "1", "--data", folder, "--out", Path.Combine(folder, "out"));
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("t10k-images-idx3-ubyte", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
            Assert.Empty(result.Stdout);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void An_unavailable_device_exits_with_code_2_and_the_drivers_message()
    {
        // CUDA is absent on most test machines; where it is present this run is a valid zero-epoch run instead.
        string folder = AppRunner.TempFolder("cuda");
        try
        {
            var result = AppRunner.Run("train", "--device", "cuda", "--epochs", "0", "--data", AppRunner.ShippedData, "--out", folder);
            if (result.ExitCode == 0) return;
            Assert.True(result.ExitCode == 2, result.ToString());
            Assert.Contains("CUDA", result.Stderr);
            Assert.DoesNotContain("   at ", result.Stderr);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
