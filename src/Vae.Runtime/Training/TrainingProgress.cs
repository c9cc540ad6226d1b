namespace Vae;

/// <summary>A progress report from <see cref="Trainer"/>: sent every few steps and at the end of each epoch.</summary>
/// <param name="Epoch">1-based epoch being trained.</param>
/// <param name="Epochs">Epochs in this call to Fit.</param>
/// <param name="Step">Optimiser steps taken by the model in total.</param>
/// <param name="ExamplesDone">Examples seen so far in this epoch.</param>
/// <param name="ExamplesPerEpoch">Examples in an epoch.</param>
/// <param name="Loss">
/// Mean training loss over the epoch so far, nats per example: the negative of the model's bound (the negative ELBO, or
/// the negative importance-weighted bound), lower is better, the sign of <see cref="VaeModel.NegativeElbo(ReadOnlySpan{float}, ulong)"/>.
/// </param>
/// <param name="ExamplesPerSecond">Training throughput in this epoch so far.</param>
/// <param name="EpochCompleted">True for the report that ends an epoch.</param>
public readonly record struct TrainingProgress(
    int Epoch, int Epochs, long Step, int ExamplesDone, int ExamplesPerEpoch, double Loss, double ExamplesPerSecond, bool EpochCompleted);

/// <summary>What one epoch of <see cref="Trainer.Fit(ReadOnlyMemory{float}, int, IProgress{TrainingProgress}?, CancellationToken)"/> did.</summary>
/// <param name="Epoch">The epoch's number, counting every epoch the trainer has completed (1-based).</param>
/// <param name="TrainLoss">
/// Mean training loss over the epoch, nats per example: the negative of the model's bound, lower is better (compare
/// with <see cref="VaeModel.NegativeElbo(ReadOnlySpan{float}, ulong)"/> on held-out data).
/// </param>
/// <param name="Seconds">Wall-clock time the epoch took.</param>
/// <param name="Step">The model's optimiser step count at the end of the epoch.</param>
/// <param name="ValidationLoss">
/// With <see cref="Trainer.ValidationData"/>, the validation set's negative ELBO (one sample, closed-form KL, KL weight 1,
/// whatever objective trains: <see cref="Evaluation.Metrics.Elbo(VaeModel, ReadOnlySpan{float}, ulong)"/>), nats per
/// example; for a VQ-VAE, which has no ELBO, its loss on the validation set (reconstruction plus commitment, as
/// <see cref="VaeModel.Loss(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>); null without validation data.
/// </param>
/// <param name="LearningRate">The optimiser's learning rate at the end of the epoch.</param>
/// <param name="ValidationCodes">
/// A VQ-VAE's codebook use on the validation set after the epoch (<see cref="VaeModel.CodeUsage"/>: counts, perplexity,
/// codes used), the health figure to watch for collapse; null for a Gaussian model or without validation data.
/// </param>
public sealed record EpochResult(int Epoch, double TrainLoss, double Seconds, long Step, double? ValidationLoss = null, float LearningRate = 0,
    CodebookUsage? ValidationCodes = null);
