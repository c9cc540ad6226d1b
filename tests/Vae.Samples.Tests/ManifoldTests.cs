namespace Vae.Samples.Tests;

/// <summary>A model with a 2-D latent space also gets the manifold picture.</summary>
public sealed class ManifoldTests
{
    [Fact]
    public void Training_a_two_dimensional_model_draws_the_manifold()
    {
        string folder = AppRunner.TempFolder("manifold");
        try
        {
            var train = AppRunner.Run("train", "--latent", "2", "--epochs", "1", "--limit", "1000", "--data", AppRunner.ShippedData, "--out", folder);
            Assert.True(train.ExitCode == 0, train.ToString());
            // 20 x 20 tiles at 1:1 with 1-pixel gaps.
            Assert.Equal((1 + 20 * 29, 1 + 20 * 29), Png.Size(Path.Combine(folder, "manifold.png")));
            // Two latent dimensions: the traversal has two rows.
            Assert.Equal((2 + 11 * 58, 2 + 2 * 58), Png.Size(Path.Combine(folder, "traversal.png")));

            string again = Path.Combine(folder, "again.png");
            var command = AppRunner.Run("manifold", "--checkpoint", Path.Combine(folder, "checkpoint.safetensors"), "--out", again);
            Assert.True(command.ExitCode == 0, command.ToString());
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "manifold.png")), File.ReadAllBytes(again));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
