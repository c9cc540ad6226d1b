using System.Globalization;

namespace Vae.Files;

/// <summary>
/// A whole training run in one checkpoint, resumed with one call: the model and its optimiser state (as
/// <see cref="Checkpoint.Save"/> writes them), the step and noise seed, and the trainer's position (epochs completed,
/// shuffle seed, batch size) with the learning rate, KL weight and free bits in use. Learning-rate schedules are
/// functions of the step, so they continue from the restored step by themselves; callbacks keep their own state.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>Metadata keys written beside the checkpoint's own.</summary>
    public const string EpochsCompletedKey = "trainer_epochs_completed", ShuffleSeedKey = "trainer_shuffle_seed", BatchSizeKey = "trainer_batch_size",
        LearningRateKey = "trainer_learning_rate", KlWeightKey = "trainer_kl_weight", FreeBitsKey = "trainer_free_bits";

    /// <summary>Writes the trainer's model, optimiser and position to <paramref name="path"/>, atomically.</summary>
    /// <exception cref="IOException">The file could not be written; the previous one at <paramref name="path"/> is intact.</exception>
    public static void Save(Trainer trainer, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var metadata = new Dictionary<string, string>(extraMetadata ?? new Dictionary<string, string>())
        {
            [EpochsCompletedKey] = trainer.EpochsCompleted.ToString(CultureInfo.InvariantCulture),
            [ShuffleSeedKey] = trainer.ShuffleSeed.ToString(CultureInfo.InvariantCulture),
            [BatchSizeKey] = trainer.BatchSize.ToString(CultureInfo.InvariantCulture),
            [LearningRateKey] = trainer.Optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture),
            [KlWeightKey] = trainer.Model.KlWeight.ToString("R", CultureInfo.InvariantCulture),
            [FreeBitsKey] = trainer.Model.FreeBits.ToString("R", CultureInfo.InvariantCulture),
        };
        Checkpoint.Save(trainer.Model, path, trainer.Optimizer, metadata);
    }

    /// <summary>
    /// Restores a run saved by <see cref="Save"/> into <paramref name="trainer"/> (a new trainer over a new model of the
    /// same architecture, with the same batch size, shuffle seed and kind of optimiser): parameters, optimiser state,
    /// step, seed, epochs completed, learning rate, KL weight and free bits. Then <c>Fit</c> continues the run exactly.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// The file is not a training checkpoint, or it was saved with another batch size or shuffle seed (which would change
    /// the batches), named in the message; nothing is changed.
    /// </exception>
    public static void Restore(Trainer trainer, string path)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        var metadata = Checkpoint.ReadMetadata(path);
        if (!metadata.ContainsKey(EpochsCompletedKey))
            throw new InvalidDataException($"Checkpoint '{path}' is not a training checkpoint: it has no '{EpochsCompletedKey}' (write it with TrainingCheckpoint.Save).");
        int batch = metadata.GetInt32(BatchSizeKey, trainer.BatchSize, minimum: 1);
        ulong shuffle = metadata.GetUInt64(ShuffleSeedKey, trainer.ShuffleSeed);
        if (batch != trainer.BatchSize || shuffle != trainer.ShuffleSeed)
            throw new InvalidDataException($"Checkpoint '{path}' was trained with batch size {batch} and shuffle seed {shuffle}; this trainer has " +
                $"{trainer.BatchSize} and {trainer.ShuffleSeed}. Make the trainer with the saved ones to continue the same run.");
        int epochs = metadata.GetInt32(EpochsCompletedKey, 0, minimum: 0);
        float learningRate = metadata.GetSingle(LearningRateKey, trainer.Optimizer.LearningRate, minimum: float.Epsilon);
        float klWeight = metadata.GetSingle(KlWeightKey, trainer.Model.KlWeight, minimum: 0);
        float freeBits = metadata.GetSingle(FreeBitsKey, trainer.Model.FreeBits, minimum: 0);
        // Everything read and checked: now the model (which LoadInto leaves unchanged on any error), then the rest.
        Checkpoint.LoadInto(trainer.Model, path, trainer.Optimizer);
        trainer.EpochsCompleted = epochs;
        trainer.Optimizer.LearningRate = learningRate;
        trainer.Model.KlWeight = klWeight;
        trainer.Model.FreeBits = freeBits;
    }
}
