using Vae.Data;
using Vae.Files;
using Vae.Samples.Fashion.Pictures;
using Vae.Samples.Fashion.Progress;

namespace Vae.Samples.Fashion.Commands;

/// <summary>
/// What <c>train</c> was asked for. Values left null were not given on the command line: a new run takes the
/// defaults, a resumed run the values saved in its checkpoint.
/// </summary>
internal sealed record TrainSettings(
    int Epochs, int? Batch, float? LearningRate, int? Latent, float? Beta, string Device, int Threads,
    string? Data, string? Out, ulong? Seed, string? Resume, int? Limit,
    Objective? Objective = null, int? ImportanceSamples = null, float? FreeBits = null, long? KlWarmup = null, bool Conditional = false,
    bool Distributed = false, bool Deterministic = false, ModelKind? Model = null, VqFlags? Vq = null);

/// <summary>Trains a model, evaluates the test split and saves a checkpoint after each epoch, then draws the pictures.</summary>
internal static class TrainCommand
{
    public const int DefaultEpochs = 10;
    public const int DefaultBatch = 128;
    public const float DefaultLearningRate = 1e-3f;
    /// <summary>The dense model's default latent size (--model conv defaults to 2: <see cref="Models.DefaultLatent"/>).</summary>
    public const int DefaultLatent = 20;
    public const float DefaultBeta = 1f;
    public const int DefaultImportanceSamples = 5;
    public const ulong DefaultSeed = 1;
    public const string DefaultOut = "./runs/fashion";
    public const string CheckpointName = "checkpoint.safetensors";

    public static int Run(TrainSettings settings, AppConsole console, CancellationToken cancellationToken)
    {
        if (settings.Deterministic && !settings.Distributed) throw new UsageException("--deterministic applies to --distributed training only.");
        // Before mpirun's communicator is looked for: a VQ-VAE trains in one process (RunState says why, and checks a resumed one).
        if (settings.Distributed && settings.Model == ModelKind.Vq) RunState.CheckVqOptions(settings);
        return settings.Distributed
            ? DistributedTrain.Run(settings, console, cancellationToken)
            : Run(settings, console, SingleProcessCommunicator.Instance, cancellationToken);
    }

    /// <summary>The run of one rank of <paramref name="communicator"/>: rank 0 alone evaluates, writes the checkpoint and draws.</summary>
    public static int Run(TrainSettings settings, AppConsole console, ICommunicator communicator, CancellationToken cancellationToken)
    {
        bool root = communicator.Rank == 0;
        // Everything a mistake on the command line or in the file system can fail is checked before training.
        if (settings.Resume is { } resumePath) PathChecks.InputFile(resumePath, "--resume");
        PathChecks.DataFolder(settings.Data);
        var run = settings.Resume is { } resume ? RunState.FromCheckpoint(resume, settings, console) : RunState.New(settings);
        if ((long)run.EpochsCompleted + settings.Epochs > int.MaxValue)
            throw new UsageException($"--epochs {settings.Epochs} after the {run.EpochsCompleted} epochs already run would count past {int.MaxValue}.");
        using var device = Vae.Device.FromName(settings.Device, settings.Threads);
        CheckBatch(run, settings, device);
        // Usage errors first: only a valid command creates the output folder.
        string outDir = settings.Out is { } given
            ? PathChecks.OutputFolder(given, "the output folder (--out)")
            : settings.Resume is { } r
                ? PathChecks.OutputFolder(Path.GetDirectoryName(Path.GetFullPath(r))!, "the resumed checkpoint's folder")
                : PathChecks.OutputFolder(DefaultOut, "the output folder (--out)");
        string checkpointPath = Path.Combine(outDir, CheckpointName);
        console.Note($"device: {device.Name}");
        var data = FashionData.Load(settings.Data, settings.Limit, console.Error);
        console.Note($"data: {data.TrainCount:N0} training and {data.TestCount:N0} test images from '{data.Source}'");
        cancellationToken.ThrowIfCancellationRequested();

        var optimizer = new Adam(run.LearningRate);
        using var model = settings.Resume is { } path ? Models.Load(device, path, optimizer) : Models.Create(run.Model, device, run.Seed);
        model.KlWeight = run.Beta;
        model.FreeBits = run.FreeBits;
        var trainer = new Trainer(model, optimizer, run.Batch, run.ShuffleSeed) { EpochsCompleted = run.EpochsCompleted, Communicator = communicator };
        // KL warm-up: the KL weight rises linearly from 0 to --beta over the first STEPS optimiser steps.
        if (run.KlWarmup > 0)
        {
            float beta = run.Beta;
            long steps = run.KlWarmup;
            trainer.KlWeightSchedule = step => beta * Math.Min(1f, (float)step / steps);
        }
        string objective = model.Architecture.Quantizer is { } q
            ? $"mean squared error + {Models.Text(q.Commitment)} x commitment, codebook of {q.Codes} x {q.Dimension} by " +
              (q.Ema ? $"EMA (decay {Models.Text(q.Decay)})" : "Adam (codebook loss)") +
              (q.RestartAfter > 0 ? $", codes idle for {q.RestartAfter} steps restarted" : ", no restarts")
            : run.Objective == Objective.Elbo
            ? $"KL weight {run.Beta}" + (run.FreeBits > 0 ? $", free bits {run.FreeBits}" : "") + (run.KlWarmup > 0 ? $", warm-up {run.KlWarmup} steps" : "")
            : $"{Models.NameOf(run.Objective)} bound over K = {run.Samples}";
        console.Note($"model: {model.Architecture}, {model.Architecture.ParameterCount:N0} parameters, {objective}; " +
                     $"Adam lr {run.LearningRate}, batch {run.Batch}" +
                     (communicator.Size > 1 ? $" over {communicator.Size} ranks{(communicator.Deterministic ? " (deterministic sums)" : "")}" : "") + $"; epochs {run.EpochsCompleted + 1}..{run.EpochsCompleted + settings.Epochs}; " +
                     $"writing to '{outDir}'");

        var reporter = EpochReporter.Create(console);
        var examples = new InMemoryBatchSource(data.Train, Models.ImagePixels, Evaluation.LabelsFor(model, data.TrainLabels));
        for (int e = 0; e < settings.Epochs; e++)
        {
            EpochFigures figures;
            try
            {
                // A VQ-VAE's training figure is the peer's reconstruction error, which the meter measures batch by batch.
                var meter = model.Architecture.Quantizer is null ? null : new TrainingErrorMeter(model, examples, run.Batch);
                var result = reporter.Train(trainer.EpochsCompleted + 1, data.TrainCount,
                    progress => trainer.TrainEpoch((IBatchSource?)meter ?? examples, e + 1, settings.Epochs, progress, cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
                figures = Evaluation.Epoch(model, result, meter, data, evaluate: root);
            }
            catch (OperationCanceledException)
            {
                console.Note($"stopped. {LastCheckpoint(checkpointPath)}");
                return App.Interrupted;
            }
            catch (NonFiniteLossException ex)
            {
                return App.Fail(console, $"{ex.Message} {LastCheckpoint(checkpointPath)}", App.Failure);
            }
            run.Record(figures.Train, figures.Test);
            if (!root) continue;
            try
            {
                Checkpoint.Save(model, checkpointPath, optimizer, run.Metadata(trainer.EpochsCompleted));
            }
            // .NET reports a file over the process's size limit (EFBIG, ulimit -f) as ArgumentOutOfRangeException("value").
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException { ParamName: "value" })
            {
                return App.Fail(console, $"writing the checkpoint of epoch {trainer.EpochsCompleted} to '{checkpointPath}' failed: {App.OneLine(ex.Message)} {LastCheckpoint(checkpointPath)}", App.Failure);
            }
            reporter.Completed(figures);
        }

        if (!root) return 0;
        WritePictures(model, data, run, outDir);
        console.Note($"wrote {CheckpointName} and the pictures to '{outDir}'");
        return 0;
    }

    /// <summary>Where a stopped or failed run can continue from, in a sentence.</summary>
    private static string LastCheckpoint(string checkpointPath) =>
        File.Exists(checkpointPath)
            ? $"The last checkpoint written, '{checkpointPath}', is intact; continue from it with --resume."
            : "No checkpoint has been written.";

    /// <summary>The batch size against the device's limit on one call, before any data is read.</summary>
    private static void CheckBatch(RunState run, TrainSettings settings, Device device)
    {
        int max = device.MaxBatchSize;
        if (run.Batch <= max) return;
        throw new UsageException(settings.Batch is null
            ? $"the resumed run's batch size, {run.Batch}, is above the {max} examples per step {device.Name} takes; pass --batch {max} or less to continue on it."
            : $"--batch {run.Batch} is above the {max} examples per step {device.Name} takes; use --batch {max} or less.");
    }

    private static void WritePictures(VaeModel model, FashionData data, RunState run, string outDir)
    {
        Figures.Reconstructions(model, data.Test, data.TestLabels, run.Seed, Path.Combine(outDir, "reconstructions.png"));
        if (run.Quantized)
        {
            // A VQ-VAE has no prior or continuous latent to draw from: its codes instead.
            Figures.CodeMaps(model, data.Test, run.Seed, Path.Combine(outDir, "codes.png"));
            if (run.TrainHistory.Count > 0) Figures.Curves(run.TrainHistory, run.TestHistory, Path.Combine(outDir, "curves.png"), quantized: true);
            return;
        }
        Figures.Samples(model, run.Seed, Path.Combine(outDir, "samples.png"));
        Figures.Interpolation(model, data.Test, data.TestLabels, run.Seed, Path.Combine(outDir, "interpolation.png"));
        Figures.Traversal(model, data.Test, data.TestLabels, run.Seed, Path.Combine(outDir, "traversal.png"));
        if (run.TrainHistory.Count > 0) Figures.Curves(run.TrainHistory, run.TestHistory, Path.Combine(outDir, "curves.png"));
        // A conditional model has one manifold per class: the manifold command draws the one --class N names.
        if (model.Architecture.Latent == 2 && !model.Architecture.IsConditional) Figures.Manifold(model, Path.Combine(outDir, "manifold.png"));
    }
}
