using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Vae.Devices.Cuda;
using Vae.Devices.OpenCl;
using Vae.Samples.Fashion.Commands;

namespace Vae.Samples.Fashion;

/// <summary>
/// The command line: train a Fashion-MNIST VAE, evaluate it, and draw pictures from it. <see cref="Run"/> is the whole
/// app, callable in-process with any writers (the tests do), so nothing here touches <see cref="Console"/> directly.
/// </summary>
/// <remarks>
/// Exit codes: <see cref="Success"/> 0; <see cref="Failure"/> 1 when a valid command could not be carried out (a
/// file or folder missing, unreadable, malformed or unwritable, a full disk, an unavailable device, training that
/// diverged); <see cref="Usage"/> 2 when the command line itself is wrong (an unknown command or option, a value that
/// does not parse or is out of range, options that contradict each other or the checkpoint, a batch above the
/// device's limit); <see cref="Interrupted"/> 130 after Ctrl+C (SIGINT) and <see cref="Terminated"/> 143 after
/// SIGTERM. Every error is one line on stderr starting with "error: ", never a stack trace.
/// </remarks>
public static class App
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Interrupted = 130;
    public const int Terminated = 143;

    /// <summary>Set to 1 to get the stack trace of an unexpected exception (a bug) after its one-line message.</summary>
    public const string TraceVariable = "VAE_SAMPLE_TRACE";

    public static int Main(string[] args)
    {
        using var stop = StopSignals.Register(Console.Error);
        int code = Run(args, Console.Out, Console.Error, stop.Token);
        return code == Interrupted ? stop.ExitCode : code;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command. Results go to <paramref name="stdout"/>, notes and errors
    /// to <paramref name="stderr"/>; <paramref name="cancellationToken"/> stops a long command (exit code 130).
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        // The live progress bar only when a person is watching: stdout is this process's own, undirected terminal.
        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = new AppConsole(stdout, stderr, interactive);
        try
        {
            var root = new RootCommand("Trains a variational autoencoder on Fashion-MNIST and draws what it learned.")
            {
                Subcommands = { Train(console, cancellationToken), Evaluate(console, cancellationToken), Picture(PictureKind.Sample, console), Picture(PictureKind.Reconstruct, console),
                                Picture(PictureKind.Interpolate, console), Picture(PictureKind.Traverse, console), Picture(PictureKind.Manifold, console),
                                Picture(PictureKind.Codes, console) },
            };
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0) return Fail(console, ParseErrorMessage(parsed), Usage);
            // Signals are this app's own business (Main), so the parser registers no handler; exceptions reach the catch below.
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = stdout,
                Error = stderr,
                ProcessTerminationTimeout = null,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (Exception e)
        {
            return Handle(console, e);
        }
    }

    private static Command Train(AppConsole console, CancellationToken cancellationToken)
    {
        var epochs = IntOption("--epochs", "Epochs to train (more epochs, when resuming)", TrainCommand.DefaultEpochs, 0);
        var batch = IntOption("--batch", "Examples per optimiser step, up to the device's limit (4096 on the CPU and CUDA, 1024 on OpenCL)", TrainCommand.DefaultBatch, 1);
        var lr = FloatOption("--lr", "Adam's learning rate", TrainCommand.DefaultLearningRate, allowZero: false);
        string[] models = Enum.GetValues<ModelKind>().Select(Models.NameOf).ToArray();
        var model = new Option<string>("--model")
        {
            Description = "The network: dense (784-400-J-400-784, the default), conv (the Keras example's convolutional VAE, " +
                          "two Conv2d and three ConvTranspose2d layers; the ELBO only, --conditional with --latent 2) or vq (the VQ-VAE of torch_vqvae.py: " +
                          "a 7x7 map of codes, mean squared error plus commitment; see --codes)",
            DefaultValueFactory = _ => Models.NameOf(ModelKind.Dense),
            HelpName = string.Join("|", models),
        };
        model.CustomParser = r =>
        {
            string text = Single(r);
            if (!models.Contains(text)) r.AddError($"--model must be one of {string.Join(", ", models)}; got '{text}'.");
            return text;
        };
        // Which sizes exist depends on --model, so the parser checks only that some network has the size; the run checks the pair.
        var latent = new Option<int>("--latent")
        {
            Description = $"Latent dimensions (default {TrainCommand.DefaultLatent}, or {Models.DefaultLatent(ModelKind.Conv)} with --model conv): " +
                          $"one of the compiled sizes {Models.CompiledSizes()}",
        };
        latent.CustomParser = r =>
        {
            int v = ParseInt(r, "--latent", int.MinValue, int.MaxValue);
            if (r.Errors.Any()) return v;
            if (!Models.IsCompiled(v)) r.AddError(Models.NotCompiledMessage(v));
            return v;
        };
        var beta = FloatOption("--beta", "Weight of the KL term in the training loss (beta-VAE); the test figure always uses 1", TrainCommand.DefaultBeta, allowZero: true);
        var (device, threads) = DeviceOptions();
        var data = PathOption("--data", "DIR", DataDescription);
        var output = PathOption("--out", "DIR", "Folder for the checkpoint and pictures (default ./runs/fashion, or the resumed checkpoint's folder)");
        var seed = SeedOption("Seed of the initial weights, the training noise, the epoch order and the pictures", TrainCommand.DefaultSeed);
        var resume = PathOption("--resume", "FILE", "Continue the run saved in this checkpoint, with its seeds and settings");
        var limit = IntOption("--limit", "Train on the first N training images only", 1, 1);
        limit.Hidden = true;
        var objective = new Option<string>("--objective") { Description = "The bound to train: elbo, iwae (importance-weighted, Burda et al.) or dreg (the same bound, DReG encoder gradient)", DefaultValueFactory = _ => "elbo" };
        objective.AcceptOnlyFromAmong("elbo", "iwae", "dreg");
        var importanceSamples = IntOption("--importance-samples", "K, the samples per image of the iwae and dreg bounds (compiled: 5, 50)", TrainCommand.DefaultImportanceSamples, 1);
        var freeBits = FloatOption("--free-bits", "Free bits: a floor in nats under each latent dimension's batch-mean KL (ELBO only)", 0f, allowZero: true);
        var klWarmup = IntOption("--kl-warmup", "Raise the KL weight linearly from 0 to --beta over this many optimiser steps (ELBO only)", 0, 0);
        var conditional = new Option<bool>("--conditional") { Description = "Train the conditional model: the class label goes to the encoder and the decoder (ELBO; --model dense with --latent 20, --model conv with --latent 2)" };
        // --model vq: the compiled quantisers (VqModels.cs). The parser checks each value's range, the run the combination.
        var vqDefault = Models.DefaultVq;
        var codes = IntOption("--codes", $"K, the codebook's size (--model vq; default {vqDefault.Codes}, the peer's; compiled: {Models.CompiledVqValues(q => q.Codes)})", vqDefault.Codes, 2);
        var dim = IntOption("--dim", $"D, the dimension of each code and the channels of the 7x7 map (--model vq; default {vqDefault.Dimension}; compiled: {Models.CompiledVqValues(q => q.Dimension)})", vqDefault.Dimension, 1);
        var commitment = FloatOption("--commitment", $"Weight of the commitment term (--model vq; default {Models.Text(vqDefault.Commitment)}; compiled: {Models.CompiledVqValues(q => q.Commitment)})",
            (float)vqDefault.Commitment, allowZero: true);
        var decay = FloatOption("--decay", $"The codebook's EMA decay, or 0 to train it by Adam through the codebook loss (the peer's --no-ema) (--model vq; default {Models.Text(vqDefault.Decay)}; " +
            $"compiled: {Models.CompiledVqValues(q => q.Decay)})", (float)vqDefault.Decay, allowZero: true);
        var restartAfter = IntOption("--restart-after", "Move a code no position chose for this many steps to a recent encoder output, 0 = never " +
            $"(--model vq; default {vqDefault.RestartAfter}, the peer's; compiled: {Models.CompiledVqValues(q => q.RestartAfter)}; every combination of the five is compiled)", vqDefault.RestartAfter, 0);
        var distributed = new Option<bool>("--distributed") { Description = "Data-parallel over the processes of mpirun -np N (Open MPI): each rank trains on 1/N of every batch, rank 0 prints and writes" };
        var deterministic = new Option<bool>("--deterministic") { Description = "With --distributed: sum the gradients in rank order, so a run is bit-identical to the next (slower)" };

        var command = new Command("train", "Train a model, evaluating the test split and saving a checkpoint after each epoch, then draw pictures")
        {
            epochs, batch, lr, model, latent, beta, device, threads, data, output, seed, resume, limit, objective, importanceSamples, freeBits, klWarmup, conditional,
            codes, dim, commitment, decay, restartAfter, distributed, deterministic,
        };
        SetAction(command, console, p => TrainCommand.Run(new TrainSettings(
            p.GetValue(epochs), Given(p, batch), Given(p, lr), Given(p, latent), Given(p, beta), p.GetValue(device)!, p.GetValue(threads),
            p.GetValue(data), p.GetValue(output), Given(p, seed), p.GetValue(resume), Given(p, limit),
            p.GetResult(objective) is { Implicit: false } ? Models.ObjectiveNamed(p.GetValue(objective)!) : null,
            Given(p, importanceSamples), Given(p, freeBits), Given(p, klWarmup), p.GetValue(conditional),
            p.GetValue(distributed), p.GetValue(deterministic),
            p.GetResult(model) is { Implicit: false } ? Models.KindNamed(p.GetValue(model)!) : null,
            new VqFlags(Given(p, codes), Given(p, dim), Given(p, commitment), Given(p, decay), Given(p, restartAfter))), console, cancellationToken));
        return command;
    }

    private static Command Evaluate(AppConsole console, CancellationToken cancellationToken)
    {
        var checkpoint = CheckpointOption();
        var samples = IntOption("--importance-samples", "K, the importance samples per image for the log-likelihood estimate", EvaluateCommand.DefaultImportanceSamples, 1);
        var data = PathOption("--data", "DIR", DataDescription);
        var (device, threads) = DeviceOptions();
        var limit = IntOption("--limit", "Evaluate the first N test images only", 1, 1);
        limit.Hidden = true;
        var command = new Command("evaluate", "Print the test ELBO and an importance-sampled estimate of log p(x), in nats per image")
        {
            checkpoint, samples, data, device, threads, limit,
        };
        SetAction(command, console, p => EvaluateCommand.Run(new EvaluateSettings(
            p.GetValue(checkpoint)!, p.GetValue(samples), p.GetValue(data), p.GetValue(device)!, p.GetValue(threads), Given(p, limit)), console, cancellationToken));
        return command;
    }

    private static Command Picture(PictureKind kind, AppConsole console)
    {
        var (name, description) = kind switch
        {
            PictureKind.Sample => ("sample", "Draw 64 decoded samples from the prior, 8 x 8 (a conditional model: 10 of each class, a row per class)"),
            PictureKind.Reconstruct => ("reconstruct", "Draw 16 test images above their reconstructions (a VQ-VAE's: decoded from their codes)"),
            PictureKind.Interpolate => ("interpolate", "Draw rows of 10 steps on straight lines between pairs of test images in latent space"),
            PictureKind.Traverse => ("traverse", "Draw each of the first 10 latent dimensions swept over -3..3 from a test image's posterior mean"),
            PictureKind.Codes => ("codes", "Draw 16 test images above their 7x7 maps of code indices (a colour per code) and the images decoded from them (--model vq)"),
            _ => ("manifold", "Draw the decoder over a 20 x 20 grid of a 2-D latent space (models trained with --latent 2; a conditional one: --class N)"),
        };
        var checkpoint = CheckpointOption();
        var output = PathOption("--out", "FILE.png", $"PNG to write (default {PictureCommands.DefaultOut(kind)})");
        var command = new Command(name, description) { checkpoint, output };
        // The manifold is a fixed grid: no seed; only pictures of test images read the data.
        Option<ulong>? seed = null;
        if (kind != PictureKind.Manifold)
            command.Options.Add(seed = SeedOption(kind == PictureKind.Sample ? "Seed of the draws from the prior" : "Seed of the choice of test images", 1));
        Option<string>? data = null;
        if (PictureCommands.NeedsData(kind)) command.Options.Add(data = PathOption("--data", "DIR", DataDescription));
        Option<int>? classOption = null;
        if (kind == PictureKind.Sample)
            command.Options.Add(classOption = IntOption("--class",
                "A conditional model's class to draw (0 t-shirt/top ... 9 ankle boot); without it, one row per class", 0, 0, Models.Classes - 1));
        if (kind == PictureKind.Manifold)
            command.Options.Add(classOption = IntOption("--class",
                "A conditional model's class whose latent space to draw (0 t-shirt/top ... 9 ankle boot); required for a conditional model", 0, 0, Models.Classes - 1));
        SetAction(command, console, p => PictureCommands.Run(new PictureSettings(
            kind, p.GetValue(checkpoint)!, p.GetValue(output), seed is null ? 0 : p.GetValue(seed), data is null ? null : p.GetValue(data),
            classOption is null ? null : Given(p, classOption)), console));
        return command;
    }

    private const string DataDescription =
        "Folder of Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist if present, else the repository's data/fashion-mnist, split 8,000/2,000)";

    private static Option<string> CheckpointOption()
    {
        var option = PathOption("--checkpoint", "FILE", "A checkpoint written by train");
        option.Required = true;
        return option;
    }

    private static (Option<string> Device, Option<int> Threads) DeviceOptions()
    {
        string[] names = ["cpu", "opencl", "cuda", "auto"];
        var device = new Option<string>("--device") { Description = $"Where the kernels run: {string.Join(", ", names)}", DefaultValueFactory = _ => "cpu" };
        device.CustomParser = r =>
        {
            string text = Single(r);
            if (!names.Contains(text, StringComparer.OrdinalIgnoreCase))
                r.AddError($"--device must be one of {string.Join(", ", names)}; got '{text}'.");
            return text.ToLowerInvariant();
        };
        var threads = IntOption("--threads", "CPU threads (0 = one per processor)", 0, 0, Device.MaxCpuThreads);
        return (device, threads);
    }

    // ---- options whose every parse failure is one line naming the option ------------------------------------------

    private static Option<int> IntOption(string name, string description, int defaultValue, int minimum, int maximum = int.MaxValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r => ParseInt(r, name, minimum, maximum);
        return option;
    }

    private static int ParseInt(ArgumentResult r, string name, int minimum, int maximum)
    {
        string text = Single(r);
        string range = maximum == int.MaxValue ? $">= {minimum}" : $"from {minimum} to {maximum}";
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) && value >= minimum && value <= maximum)
            return (int)value;
        r.AddError($"{name} must be a whole number {range}; got '{text}'.");
        return minimum;
    }

    /// <summary>A float option: finite, and &gt; 0 (or &gt;= 0 with <paramref name="allowZero"/>), after rounding to single precision.</summary>
    private static Option<float> FloatOption(string name, string description, float defaultValue, bool allowZero)
    {
        var option = new Option<float>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r =>
        {
            string text = Single(r);
            bool parsed = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double wide);
            float value = (float)wide;
            if (parsed && float.IsFinite(value) && (value > 0 || (allowZero && value == 0 && wide == 0))) return value;
            string rule = allowZero ? ">= 0" : "> 0";
            string why = !parsed ? "" : !float.IsFinite(value) ? (double.IsNaN(wide) ? " (NaN)" : " (infinite in single precision)") : value == 0 && wide != 0 ? " (it rounds to 0 in single precision)" : "";
            r.AddError($"{name} must be a finite number {rule}; got '{text}'{why}.");
            return defaultValue;
        };
        return option;
    }

    private static Option<ulong> SeedOption(string description, ulong defaultValue)
    {
        var option = new Option<ulong>("--seed") { Description = description, DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r =>
        {
            string text = Single(r);
            if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)) return value;
            r.AddError($"--seed must be a whole number from 0 to {ulong.MaxValue}; got '{text}'.");
            return defaultValue;
        };
        return option;
    }

    /// <summary>A path option: anything but the empty string (what it names is checked when the command runs).</summary>
    private static Option<string> PathOption(string name, string helpName, string description)
    {
        var option = new Option<string>(name) { Description = description, HelpName = helpName };
        option.CustomParser = r =>
        {
            string text = Single(r);
            if (string.IsNullOrWhiteSpace(text)) r.AddError($"{name} needs a path; got an empty one.");
            return text;
        };
        return option;
    }

    /// <summary>The option's one value (the parser has already refused a missing or repeated one).</summary>
    private static string Single(ArgumentResult r) => r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";

    /// <summary>The value when it was typed on the command line, null when it is the default (a resumed run then keeps its own).</summary>
    private static T? Given<T>(ParseResult p, Option<T> option) where T : struct =>
        p.GetResult(option) is { Implicit: false } ? p.GetValue(option) : null;

    /// <summary>The first parse error as one line: the option or token at fault and why.</summary>
    private static string ParseErrorMessage(ParseResult parsed)
    {
        string command = string.Join(' ', CommandPath(parsed.CommandResult));
        if (parsed.UnmatchedTokens.Count > 0)
        {
            string token = parsed.UnmatchedTokens[0];
            string help = command.Length == 0 ? "--help" : $"{command} --help";
            if (command.Length == 0 && !token.StartsWith('-'))
                return $"'{token}' is not a command; use one of {string.Join(", ", parsed.RootCommandResult.Command.Subcommands.Select(c => c.Name))} (see --help).";
            return token.StartsWith('-')
                ? $"{(command.Length == 0 ? "" : command + ": ")}unknown option '{token}' (see {help})."
                : $"{command}: unexpected argument '{token}' (see {help}).";
        }
        if (parsed.CommandResult.Command is RootCommand root && parsed.Errors.Any(e => e.SymbolResult is CommandResult { Command: RootCommand }))
            return $"no command given; use one of {string.Join(", ", root.Subcommands.Select(c => c.Name))} (see --help).";
        var error = parsed.Errors[0];
        return (command.Length == 0 ? "" : command + ": ") + error.Message;
    }

    private static IEnumerable<string> CommandPath(CommandResult result)
    {
        var names = new Stack<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            if (c.Command is not RootCommand) names.Push(c.Command.Name);
        return names;
    }

    /// <summary>Runs a handler; what escapes it becomes one line on stderr and an exit code in <see cref="Run"/>.</summary>
    private static void SetAction(Command command, AppConsole console, Func<ParseResult, int> handler) =>
        command.SetAction(p =>
        {
            try { return handler(p); }
            catch (Exception e) { return Handle(console, e); }
        });

    /// <summary>The exit code and one-line message for an exception that ended a command.</summary>
    internal static int Handle(AppConsole console, Exception e)
    {
        switch (e)
        {
            case UsageException usage:
                return Fail(console, usage.Message, usage.ExitCode);
            case OperationCanceledException:
                console.Error.WriteLine("stopped.");
                return Interrupted;
            case DeviceUnavailableException or CommunicatorUnavailableException or RanksDisagreeException or IOException or UnauthorizedAccessException or InvalidDataException or NotSupportedException
                or NonFiniteLossException or OpenClException or CudaException or OutOfMemoryException:
                return Fail(console, e.Message, Failure);
            default:
                // A bug, not a mistake of the user's or the machine's: still one line, with the trace on request.
                Fail(console, $"internal error, {e.GetType().Name}: {e.Message} (set {TraceVariable}=1 for the stack trace)", Failure);
                if (Environment.GetEnvironmentVariable(TraceVariable) == "1") console.Error.WriteLine(e);
                return Failure;
        }
    }

    internal static int Fail(AppConsole console, string message, int exitCode)
    {
        console.Error.WriteLine($"error: {OneLine(message)}");
        return exitCode;
    }

    /// <summary>Joins a message's lines (some runtime messages carry a second line) so an error is always one line.</summary>
    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
