namespace Vae;

/// <summary>
/// Code the <see cref="Trainer"/> runs at the end of each epoch of <c>Fit</c> (after the validation loss is known) and,
/// if it overrides <see cref="OnStepEnd"/>, after every optimiser step of <c>Fit</c> and <c>TrainEpoch</c>.
/// </summary>
public interface ITrainingCallback
{
    /// <summary>Called after epoch <paramref name="result"/>; <see cref="Trainer.StopTraining"/> ends <c>Fit</c> after it.</summary>
    void OnEpochEnd(Trainer trainer, VaeModel model, EpochResult result);

    /// <summary>Called after each optimiser step with the model's step count and that batch's loss; does nothing unless overridden.</summary>
    void OnStepEnd(Trainer trainer, VaeModel model, long step, double batchLoss) { }
}

/// <summary>
/// Saves the whole run (<see cref="Files.TrainingCheckpoint.Save"/>: model, optimiser, position, seeds) every
/// <see cref="EveryEpochs"/> epochs to one file, replaced atomically, so a run stopped at any moment resumes from the
/// last save with <see cref="Files.TrainingCheckpoint.Restore"/>.
/// </summary>
public sealed class SaveCheckpointEvery : ITrainingCallback
{
    /// <param name="path">The checkpoint file (<c>.safetensors</c>).</param>
    /// <param name="everyEpochs">Epochs between saves, &gt;= 1 (counted by <see cref="Trainer.EpochsCompleted"/>, so a resumed run keeps the rhythm).</param>
    public SaveCheckpointEvery(string path, int everyEpochs = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        EveryEpochs = everyEpochs >= 1 ? everyEpochs : throw new ArgumentOutOfRangeException(nameof(everyEpochs), everyEpochs, "Save every 1 or more epochs.");
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>Epochs between saves.</summary>
    public int EveryEpochs { get; }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, VaeModel model, EpochResult result)
    {
        if (trainer.EpochsCompleted % EveryEpochs == 0) Files.TrainingCheckpoint.Save(trainer, Path);
    }
}

/// <summary>
/// Stops training when the monitored loss (the validation loss, or the training loss without validation data) has not
/// improved by more than <see cref="MinDelta"/> for <see cref="Patience"/> epochs, and by default puts back the
/// parameters of the best epoch (Keras's <c>EarlyStopping(restore_best_weights=True)</c>).
/// </summary>
public sealed class EarlyStopping : ITrainingCallback
{
    private float[]? _best;
    private float[] _bestState = [];

    /// <param name="patience">Epochs without improvement before stopping, &gt;= 1.</param>
    /// <param name="minDelta">The least decrease that counts as an improvement, &gt;= 0.</param>
    /// <param name="restoreBest">Whether stopping restores the best epoch's parameters.</param>
    public EarlyStopping(int patience, double minDelta = 0, bool restoreBest = true)
    {
        Patience = patience >= 1 ? patience : throw new ArgumentOutOfRangeException(nameof(patience), patience, "Patience must be >= 1 epoch.");
        MinDelta = minDelta >= 0 && double.IsFinite(minDelta) ? minDelta : throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "The least improvement must be a finite number >= 0.");
        RestoreBest = restoreBest;
    }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The least decrease that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether stopping restores the best epoch's parameters.</summary>
    public bool RestoreBest { get; }

    /// <summary>The best monitored loss so far (+infinity before the first epoch).</summary>
    public double BestLoss { get; private set; } = double.PositiveInfinity;

    /// <summary>The epoch that gave <see cref="BestLoss"/> (0 before the first).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch at which this callback stopped training, or null.</summary>
    public int? StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, VaeModel model, EpochResult result)
    {
        double loss = result.ValidationLoss ?? result.TrainLoss;
        if (loss < BestLoss - MinDelta)
        {
            BestLoss = loss;
            BestEpoch = result.Epoch;
            if (RestoreBest)
            {
                // The best epoch's BatchNorm running statistics belong with its weights: evaluation uses them.
                _best = model.GetParameters();
                _bestState = model.GetState();
            }
            return;
        }
        if (result.Epoch - BestEpoch < Patience) return;
        StoppedEpoch = result.Epoch;
        if (RestoreBest && _best is not null)
        {
            model.SetParameters(_best);
            model.SetState(_bestState);
        }
        trainer.StopTraining();
    }
}

/// <summary>
/// PyTorch's ReduceLROnPlateau: when the monitored loss has not improved for <see cref="Patience"/> epochs, the
/// optimiser's learning rate is multiplied by <see cref="Factor"/> (not below <see cref="Minimum"/>).
/// </summary>
public sealed class ReduceLearningRateOnPlateau : ITrainingCallback
{
    private double _best = double.PositiveInfinity;
    private int _bad;

    /// <param name="factor">The factor of each reduction, in (0, 1).</param>
    /// <param name="patience">Epochs without improvement before a reduction, &gt;= 1.</param>
    /// <param name="minimum">The lowest rate, &gt; 0.</param>
    public ReduceLearningRateOnPlateau(float factor = 0.1f, int patience = 10, float minimum = 1e-8f)
    {
        Factor = factor > 0 && factor < 1 ? factor : throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be in (0, 1).");
        Patience = patience >= 1 ? patience : throw new ArgumentOutOfRangeException(nameof(patience), patience, "Patience must be >= 1 epoch.");
        Minimum = StepDecaySchedule.Positive(minimum, nameof(minimum));
    }

    /// <summary>The factor of each reduction.</summary>
    public float Factor { get; }

    /// <summary>Epochs without improvement before a reduction.</summary>
    public int Patience { get; }

    /// <summary>The lowest rate.</summary>
    public float Minimum { get; }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, VaeModel model, EpochResult result)
    {
        double loss = result.ValidationLoss ?? result.TrainLoss;
        if (loss < _best)
        {
            _best = loss;
            _bad = 0;
            return;
        }
        if (++_bad < Patience) return;
        _bad = 0;
        trainer.Optimizer.LearningRate = Math.Max(Minimum, trainer.Optimizer.LearningRate * Factor);
    }
}
