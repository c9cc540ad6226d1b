using System.Diagnostics;
using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Training;

/// <summary>End to end on real images: training must lower the held-out negative ELBO by a wide margin.</summary>
public class LearningTests(ITestOutputHelper output)
{
    [Fact]
    public void Training_on_real_fashion_images_lowers_the_held_out_negative_elbo()
    {
        var all = RepositoryData.FashionTest;
        const int trainCount = 8000, testCount = 2000;
        var train = all.AsMemory(0, trainCount * 784);
        var test = all.AsSpan(trainCount * 784, testCount * 784);

        using var device = Device.Cpu(2);
        using var model = new DefaultVae(device, seed: 3);
        double before = -model.Elbo(test);
        var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 128, shuffleSeed: 3);
        var clock = Stopwatch.StartNew();
        var epochs = trainer.Fit(train, epochs: 6);
        double after = -model.Elbo(test);
        output.WriteLine($"held-out negative ELBO {before:F1} -> {after:F1} nats after {epochs.Count} epochs of {trainCount} images in {clock.Elapsed.TotalSeconds:F1} s");

        // An untrained model sits near 545 nats (784 log 2 plus a little); a VAE that learned anything is far below.
        Assert.InRange(before, 500, 600);
        Assert.True(after < 300, $"after training the negative ELBO is {after:F1}, expected < 300");
        Assert.True(before - after > 200, $"the negative ELBO fell by {before - after:F1}, expected > 200");
        Assert.True(epochs[^1].TrainLoss < epochs[0].TrainLoss, "the training loss did not fall between the first and last epoch");
    }
}
