// Train a VAE on Fashion-MNIST, evaluate it, draw samples as a PNG and save a checkpoint.
// From the repository root: dotnet run -c Release --project samples/QuickStart [-- DATA_DIR OUT_DIR EPOCHS]
using Vae;
using Vae.Data;
using Vae.Files;
using Vae.Imaging;

string dataDir = args.Length > 0 ? args[0] : "data/fashion-mnist";   // IDX files, raw or .gz
string outDir = args.Length > 1 ? args[1] : "runs/quickstart";
int epochs = args.Length > 2 ? int.Parse(args[2]) : 10;
Directory.CreateDirectory(outDir);

// The repository ships Fashion-MNIST's 10,000 test images (t10k-*): train on 8,000, hold out 2,000.
var (images, labels) = FashionMnist.Load(dataDir, train: false);       // train: true reads train-* (60,000)
float[] pixels = images.ToFloats();                                     // [10000, 784], each pixel in [0, 1]
int split = 8_000 * images.PixelsPerImage;
float[] train = pixels[..split], test = pixels[split..];
Console.WriteLine($"{images.Count} images of {images.Rows}x{images.Columns}, first label {FashionMnist.ClassNames[labels[0]]}");

using var device = Device.Cpu();                                        // or Device.OpenCl(), Device.Cuda(), Device.Best()
using var model = new FashionVae(device, seed: 1);
var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 128);      // at most device.MaxBatchSize rows per batch
trainer.Fit(train, epochs, new ConsolePrinter());

// Elbo is the bound (higher is better); NegativeElbo is the same figure as a loss, the sign Fit reports.
Console.WriteLine($"test ELBO {model.Elbo(test):F2} nats per image (loss {model.NegativeElbo(test):F2})");

float[] samples = model.Sample(64, seed: 7);                            // [64, 784], the decoder's pixel means
ImageGrid.Save(Path.Combine(outDir, "samples.png"), samples, count: 64, tileWidth: 28, tileHeight: 28, columns: 8);

string checkpoint = Path.Combine(outDir, "fashion.safetensors");
Checkpoint.Save(model, checkpoint, trainer.Optimizer);                  // PyTorch tensor names, written atomically
using var again = FashionVae.Load(device, checkpoint);
Console.WriteLine($"saved {checkpoint} and {Path.Combine(outDir, "samples.png")}; reloaded test ELBO {again.Elbo(test):F2}");

[VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
[Encoder(400, Activation.Relu)]
[Decoder(400, Activation.Relu)]
public partial class FashionVae;

// Fit reports every few steps and at the end of each epoch, on the training thread.
sealed class ConsolePrinter : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.EpochCompleted)
            Console.WriteLine($"epoch {p.Epoch}/{p.Epochs}: training loss {p.Loss:F2} (negative ELBO), {p.ExamplesPerSecond:N0} images/s");
    }
}
