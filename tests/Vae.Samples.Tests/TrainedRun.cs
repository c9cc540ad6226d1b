namespace Vae.Samples.Tests;

/// <summary>One epoch of the default model on the shipped data, trained once and shared by the tests that inspect it.</summary>
public sealed class TrainedRun : IDisposable
{
    public TrainedRun()
    {
        Folder = AppRunner.TempFolder("train");
        Result = AppRunner.Run("train", "--epochs", "1", "--batch", "128", "--data", AppRunner.ShippedData, "--out", Folder);
    }

    internal AppRun Result { get; }
    public string Folder { get; }
    public string Checkpoint => Path.Combine(Folder, "checkpoint.safetensors");

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
