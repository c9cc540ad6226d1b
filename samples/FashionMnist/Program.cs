using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Vae.Samples.Fashion.Commands;

namespace Vae.Samples.Fashion;

/// <summary>
/// The command line: train a Fashion-MNIST VAE, evaluate it, and draw pictures from it. <see cref="Run"/> is the whole
/// app, callable in-process with any writers (the tests do), so nothing here touches <see cref="Console"/> directly.
/// </summary>
public static class App
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command. Results go to <paramref name="stdout"/>, notes and errors
    /// to <paramref name="stderr"/>. Exit codes: 0 success, 1 a bad option, file or data, 2 the device is unavailable,
    /// 130 stopped by Ctrl+C.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        // The live progress bar only when a person is watching: stdout is this process's own, undirected terminal.
        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = new AppConsole(stdout, stderr, interactive);
        var root = new RootCommand("Trains a variational autoencoder on Fashion-MNIST and draws what it learned.")
        {
            Subcommands = { Train(console), Evaluate(console), Picture(PictureKind.Sample, console), Picture(PictureKind.Reconstruct, console),
                            Picture(PictureKind.Interpolate, console), Picture(PictureKind.Traverse, console), Picture(PictureKind.Manifold, console) },
        };
        var parsed = root.Parse(args);
        // A mistyped option gets its message and a pointer to --help on stderr, not a page of help on stdout.
        var parseError = parsed.Action as ParseErrorAction;
        if (parseError is not null) parseError.ShowHelp = false;
        // The handlers run synchronously; the async form is only there to receive Ctrl+C as a cancellation token.
        int exitCode = parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }).GetAwaiter().GetResult();
        if (parseError is not null) stderr.WriteLine("Run with --help to see the options.");
        return exitCode;
    }

    private static Command Train(AppConsole console)
    {
        var epochs = AtLeast(new Option<int>("--epochs") { Description = "Epochs to train (more epochs, when resuming)", DefaultValueFactory = _ => TrainCommand.DefaultEpochs }, 0);
        var batch = AtLeast(new Option<int>("--batch") { Description = "Examples per optimiser step", DefaultValueFactory = _ => TrainCommand.DefaultBatch }, 1);
        var lr = new Option<float>("--lr") { Description = "Adam's learning rate", DefaultValueFactory = _ => TrainCommand.DefaultLearningRate };
        lr.Validators.Add(r => { if (!(r.GetValueOrDefault<float>() is > 0 and < float.PositiveInfinity)) r.AddError("--lr must be a number > 0."); });
        var latent = new Option<int>("--latent") { Description = $"Latent dimensions: one of the compiled sizes {string.Join(", ", Models.LatentSizes)}", DefaultValueFactory = _ => TrainCommand.DefaultLatent };
        latent.Validators.Add(r => { int v = r.GetValueOrDefault<int>(); if (!Models.IsCompiled(v)) r.AddError(Models.NotCompiledMessage(v)); });
        var beta = new Option<float>("--beta") { Description = "Weight of the KL term in the training loss (beta-VAE); the test figure always uses 1", DefaultValueFactory = _ => TrainCommand.DefaultBeta };
        beta.Validators.Add(r => { if (!(r.GetValueOrDefault<float>() is >= 0 and < float.PositiveInfinity)) r.AddError("--beta must be a number >= 0."); });
        var (device, threads) = DeviceOptions();
        var data = DataOption();
        var output = new Option<string>("--out") { Description = "Folder for the checkpoint and pictures (default ./runs/fashion, or the resumed checkpoint's folder)", HelpName = "DIR" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initial weights, the training noise, the epoch order and the pictures", DefaultValueFactory = _ => TrainCommand.DefaultSeed };
        var resume = new Option<string>("--resume") { Description = "Continue the run saved in this checkpoint, with its seeds and settings", HelpName = "FILE" };
        var limit = AtLeast(new Option<int>("--limit") { Description = "Train on the first N training images only", Hidden = true }, 1);
        var objective = new Option<string>("--objective") { Description = "The bound to train: elbo, iwae (importance-weighted, Burda et al.) or dreg (the same bound, DReG encoder gradient)", DefaultValueFactory = _ => "elbo" };
        objective.AcceptOnlyFromAmong("elbo", "iwae", "dreg");
        var importanceSamples = AtLeast(new Option<int>("--importance-samples") { Description = "K, the samples per image of the iwae and dreg bounds (compiled: 5, 50)", HelpName = "K" }, 1);
        var freeBits = new Option<float>("--free-bits") { Description = "Free bits: a floor in nats under each latent dimension's batch-mean KL (ELBO only)", HelpName = "NATS" };
        freeBits.Validators.Add(r => { if (!(r.GetValueOrDefault<float>() is >= 0 and < float.PositiveInfinity)) r.AddError("--free-bits must be a number >= 0."); });
        var conditional = new Option<bool>("--conditional") { Description = "Train the conditional model: the class label goes to the encoder and the decoder (ELBO, --latent 20)" };
        var klWarmup = new Option<long>("--kl-warmup") { Description = "Raise the KL weight linearly from 0 to --beta over this many optimiser steps (ELBO only)", HelpName = "STEPS" };
        klWarmup.Validators.Add(r => { if (r.GetValueOrDefault<long>() < 0) r.AddError("--kl-warmup must be a number of steps >= 0."); });

        var command = new Command("train", "Train a model, evaluating the test split and saving a checkpoint after each epoch, then draw pictures")
        {
            epochs, batch, lr, latent, beta, device, threads, data, output, seed, resume, limit, objective, importanceSamples, freeBits, klWarmup, conditional,
        };
        SetAction(command, console, (p, ct) => TrainCommand.Run(new TrainSettings(
            p.GetValue(epochs), Given(p, batch), Given(p, lr), Given(p, latent), Given(p, beta), p.GetValue(device)!, p.GetValue(threads),
            p.GetValue(data), p.GetValue(output), Given(p, seed), p.GetValue(resume), Given(p, limit),
            p.GetResult(objective) is { Implicit: false } ? Models.ObjectiveNamed(p.GetValue(objective)!) : null,
            Given(p, importanceSamples), Given(p, freeBits), Given(p, klWarmup), p.GetValue(conditional)), console, ct));
        return command;
    }

    private static Command Evaluate(AppConsole console)
    {
        var checkpoint = CheckpointOption();
        var samples = AtLeast(new Option<int>("--importance-samples") { Description = "K, the importance samples per image for the log-likelihood estimate", DefaultValueFactory = _ => EvaluateCommand.DefaultImportanceSamples }, 1);
        var data = DataOption();
        var (device, threads) = DeviceOptions();
        var limit = AtLeast(new Option<int>("--limit") { Description = "Evaluate the first N test images only", Hidden = true }, 1);
        var command = new Command("evaluate", "Print the test ELBO and an importance-sampled estimate of log p(x), in nats per image")
        {
            checkpoint, samples, data, device, threads, limit,
        };
        SetAction(command, console, (p, ct) => EvaluateCommand.Run(new EvaluateSettings(
            p.GetValue(checkpoint)!, p.GetValue(samples), p.GetValue(data), p.GetValue(device)!, p.GetValue(threads), Given(p, limit)), console, ct));
        return command;
    }

    private static Command Picture(PictureKind kind, AppConsole console)
    {
        var (name, description) = kind switch
        {
            PictureKind.Sample => ("sample", "Draw 64 decoded samples from the prior, 8 x 8 (a conditional model: 10 of each class, a row per class)"),
            PictureKind.Reconstruct => ("reconstruct", "Draw 16 test images above their reconstructions"),
            PictureKind.Interpolate => ("interpolate", "Draw rows of 10 steps on straight lines between pairs of test images in latent space"),
            PictureKind.Traverse => ("traverse", "Draw each of the first 10 latent dimensions swept over -3..3 from a test image's posterior mean"),
            _ => ("manifold", "Draw the decoder over a 20 x 20 grid of a 2-D latent space (models trained with --latent 2)"),
        };
        var checkpoint = CheckpointOption();
        var output = new Option<string>("--out") { Description = $"PNG to write (default {PictureCommands.DefaultOut(kind)})", HelpName = "FILE.png" };
        var command = new Command(name, description) { checkpoint, output };
        // The manifold is a fixed grid: no seed; only pictures of test images read the data.
        Option<ulong>? seed = null;
        if (kind != PictureKind.Manifold)
            command.Options.Add(seed = new Option<ulong>("--seed")
            {
                Description = kind == PictureKind.Sample ? "Seed of the draws from the prior" : "Seed of the choice of test images",
                DefaultValueFactory = _ => 1,
            });
        Option<string>? data = null;
        if (PictureCommands.NeedsData(kind)) command.Options.Add(data = DataOption());
        Option<int>? classOption = null;
        if (kind == PictureKind.Sample)
            command.Options.Add(classOption = AtLeast(new Option<int>("--class")
            {
                Description = "A conditional model's class to draw (0 t-shirt/top ... 9 ankle boot); without it, one row per class",
                HelpName = "N",
            }, 0));
        SetAction(command, console, (p, _) => PictureCommands.Run(new PictureSettings(
            kind, p.GetValue(checkpoint)!, p.GetValue(output), seed is null ? 0 : p.GetValue(seed), data is null ? null : p.GetValue(data),
            classOption is null ? null : Given(p, classOption)), console));
        return command;
    }

    private static Option<string> CheckpointOption() => new("--checkpoint") { Description = "A checkpoint written by train", Required = true, HelpName = "FILE" };

    private static Option<string> DataOption() => new("--data")
    {
        HelpName = "DIR",
        Description = "Folder of Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist if present, else the repository's data/fashion-mnist, split 8,000/2,000)",
    };

    private static (Option<string> Device, Option<int> Threads) DeviceOptions()
    {
        var device = new Option<string>("--device") { Description = "Where the kernels run", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "opencl", "cuda", "auto");
        var threads = AtLeast(new Option<int>("--threads") { Description = "CPU threads (0 = one per processor)", DefaultValueFactory = _ => 0 }, 0);
        return (device, threads);
    }

    private static Option<int> AtLeast(Option<int> option, int minimum)
    {
        option.Validators.Add(r => { if (r.GetValueOrDefault<int>() < minimum) r.AddError($"{option.Name} must be at least {minimum}."); });
        return option;
    }

    /// <summary>The value when it was typed on the command line, null when it is the default (a resumed run then keeps its own).</summary>
    private static T? Given<T>(ParseResult p, Option<T> option) where T : struct =>
        p.GetResult(option) is { Implicit: false } ? p.GetValue(option) : null;

    /// <summary>Runs a handler, turning the failures a user can fix into a message on stderr and an exit code.</summary>
    private static void SetAction(Command command, AppConsole console, Func<ParseResult, CancellationToken, int> handler) =>
        command.SetAction((p, ct) =>
        {
            try { return Task.FromResult(handler(p, ct)); }
            catch (DeviceUnavailableException e) { return Fail(console, e.Message, 2); }
            catch (UsageException e) { return Fail(console, e.Message, e.ExitCode); }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
            {
                return Fail(console, e.Message, 1);
            }
            catch (OperationCanceledException) { return Fail(console, "stopped.", 130); }
        });

    private static Task<int> Fail(AppConsole console, string message, int exitCode)
    {
        console.Error.WriteLine($"error: {message}");
        return Task.FromResult(exitCode);
    }
}
