using Vae.Data;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Training;

/// <summary>The training loop's usual parts: validation, early stopping with best-model restore, schedules, the split helper.</summary>
public class TrainingLoopTests
{
    [Fact]
    public void Schedules_give_the_documented_rates()
    {
        var step = new StepDecaySchedule(0.1f, every: 10, gamma: 0.5f);
        Assert.Equal(0.1f, step.At(1));
        Assert.Equal(0.1f, step.At(10));
        Assert.Equal(0.05f, step.At(11));
        Assert.Equal(0.025f, step.At(21), 6);
        var cosine = new CosineSchedule(1f, steps: 101, minimum: 0.1f);
        Assert.Equal(1f, cosine.At(1), 6);
        Assert.Equal(0.55f, cosine.At(51), 6);
        Assert.Equal(0.1f, cosine.At(101), 6);
        Assert.Equal(0.1f, cosine.At(500), 6);
        var warm = new WarmupSchedule(new StepDecaySchedule(0.2f, 1000, 0.5f), steps: 4);
        Assert.Equal(new[] { 0.05f, 0.1f, 0.15f, 0.2f, 0.2f }, Enumerable.Range(1, 5).Select(s => warm.At(s)).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecaySchedule(float.NaN, 1, 0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(0.1f, 10, minimum: 0.2f));
    }

    [Fact]
    public void The_trainer_sets_the_rate_of_every_step_from_the_schedule()
    {
        using var device = Device.Cpu(1);
        using var model = new TinyVae(device, 1);
        var optimizer = new Sgd(1f);
        var trainer = new Trainer(model, optimizer, batchSize: 2) { LearningRateSchedule = new StepDecaySchedule(0.01f, every: 3, gamma: 0.1f) };
        var result = trainer.TrainEpoch(TestData.Inputs(model.Architecture, 10, 1)); // five steps: the last two at 0.001
        Assert.Equal(5, model.Step);
        Assert.Equal(0.001f, optimizer.LearningRate, 7);
        Assert.Equal(0.001f, result.LearningRate, 7);
    }

    [Fact]
    public void Early_stopping_ends_an_overfitting_run_and_restores_the_best_epoch()
    {
        using var device = Device.Cpu(2);
        using var model = new WideVae(device, 3);
        var all = TestData.Inputs(model.Architecture, 400, 4);
        var (train, validation) = DataSplit.TrainValidation(all, model.Architecture.Input, 0.5, seed: 5);
        // A tiny training slice, a large rate and many epochs: the validation loss turns up while the training loss falls.
        var stopping = new EarlyStopping(patience: 3);
        var trainer = new Trainer(model, new Adam(1e-2f), batchSize: 16, shuffleSeed: 1) { ValidationData = validation };
        trainer.Callbacks.Add(stopping);
        var results = trainer.Fit(train.AsMemory(0, 16 * model.Architecture.Input), epochs: 200);

        Assert.NotNull(stopping.StoppedEpoch);
        Assert.True(results.Count < 200, "early stopping did not stop the run");
        Assert.Equal(stopping.BestEpoch + stopping.Patience, results[^1].Epoch);
        Assert.True(results[^1].TrainLoss < results[stopping.BestEpoch - 1].TrainLoss, "the run was not over-fitting");
        Assert.True(results[^1].ValidationLoss > stopping.BestLoss, "the last epoch should be worse than the best");
        // The best epoch's parameters are back: its validation loss again.
        double restored = -Vae.Evaluation.Metrics.Elbo(model, validation);
        Assert.Equal(stopping.BestLoss, restored, 6);
    }

    [Fact]
    public void A_vq_vae_validates_with_its_own_loss_and_reports_its_codebook_use_every_epoch()
    {
        using var device = Device.Cpu(2);
        using var model = new DenseVq(device, 3);
        var all = TestData.Inputs(model.Architecture, 240, 4);
        var (train, validation) = DataSplit.TrainValidation(all, model.Architecture.Input, 0.25, seed: 5);
        var trainer = new Trainer(model, new Adam(1e-2f), batchSize: 16, shuffleSeed: 1) { ValidationData = validation };
        var results = trainer.Fit(train, epochs: 2);

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.NotNull(r.ValidationCodes));
        // The last epoch's figures are the trained model's, recomputed here.
        var usage = model.CodeUsage(validation);
        Assert.Equal(usage.Counts, results[^1].ValidationCodes!.Counts);
        Assert.Equal(usage.Perplexity, results[^1].ValidationCodes!.Perplexity);
        Assert.InRange(usage.CodesUsed, 1, model.Architecture.Quantizer!.Codes);
        Assert.Equal((long)validation.Length / model.Architecture.Input * model.Architecture.QuantizedPositions, usage.Counts.Sum());
        Assert.Equal(model.Loss(validation, ReadOnlySpan<float>.Empty), results[^1].ValidationLoss!.Value);
        Assert.True(results[^1].ValidationLoss > 0);

        // A Gaussian model has no codebook to report.
        using var gaussian = new TinyVae(device, 1);
        var gaussianTrainer = new Trainer(gaussian, new Adam(1e-3f), batchSize: 16) { ValidationData = TestData.Inputs(gaussian.Architecture, 32, 2) };
        var gaussianResult = gaussianTrainer.Fit(TestData.Inputs(gaussian.Architecture, 32, 3), epochs: 1)[0];
        Assert.Null(gaussianResult.ValidationCodes);
        Assert.NotNull(gaussianResult.ValidationLoss);
    }

    [Fact]
    public void Reduce_on_plateau_cuts_the_rate_when_the_loss_stops_falling()
    {
        using var device = Device.Cpu(1);
        using var model = new TinyVae(device, 1);
        var optimizer = new Adam(1e-3f);
        var trainer = new Trainer(model, optimizer);
        var plateau = new ReduceLearningRateOnPlateau(factor: 0.5f, patience: 2);
        foreach (double loss in new[] { 10.0, 9.0, 9.5, 9.2 })
            plateau.OnEpochEnd(trainer, model, new EpochResult(1, loss, 1, 1));
        Assert.Equal(5e-4f, optimizer.LearningRate, 9);
        plateau.OnEpochEnd(trainer, model, new EpochResult(1, 8.0, 1, 1));
        Assert.Equal(5e-4f, optimizer.LearningRate, 9);
    }

    [Fact]
    public void The_split_is_seeded_disjoint_and_keeps_labels_with_their_examples()
    {
        var data = Enumerable.Range(0, 30).Select(i => (float)i).ToArray(); // 10 examples of 3: example e holds 3e..3e+2
        var labels = Enumerable.Range(0, 10).ToArray();
        var (train, validation, trainLabels, validationLabels) = DataSplit.TrainValidation(data, labels, 3, 0.3, seed: 7);
        Assert.Equal(9, validation.Length);
        Assert.Equal(21, train.Length);
        var examples = train.Chunk(3).Concat(validation.Chunk(3)).Select(c => (int)c[0] / 3).ToArray();
        Assert.Equal(Enumerable.Range(0, 10), examples.Order());
        Assert.Equal(trainLabels.Concat(validationLabels), examples);
        Assert.Equal(validation, DataSplit.TrainValidation(data, 3, 0.3, seed: 7).Validation);
        Assert.NotEqual(validation, DataSplit.TrainValidation(data, 3, 0.3, seed: 8).Validation);
    }
}

/// <summary>A whole run saved and resumed with one call continues exactly as if it had not stopped; the callbacks that save runs and watch steps.</summary>
public class TrainingCheckpointTests
{
    [Fact]
    public void A_resumed_run_matches_an_uninterrupted_one_bit_for_bit()
    {
        using var device = Device.Cpu(2);
        var data = TestData.Inputs(WideVae.Descriptor, 256, 9);
        Trainer Make(VaeModel model) => new(model, new Adam(2e-3f), batchSize: 32, shuffleSeed: 4)
        {
            LearningRateSchedule = new CosineSchedule(2e-3f, steps: 40),
        };

        using var straight = new WideVae(device, 7);
        Make(straight).Fit(data, epochs: 4);

        string path = Path.Combine(Path.GetTempPath(), $"vae-run-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var first = new WideVae(device, 7))
            {
                var trainer = Make(first);
                trainer.Fit(data, epochs: 2);
                Vae.Files.TrainingCheckpoint.Save(trainer, path);
            }
            using var resumed = new WideVae(device, 123); // another seed: everything must come from the file
            var again = Make(resumed);
            Vae.Files.TrainingCheckpoint.Restore(again, path);
            Assert.Equal(2, again.EpochsCompleted);
            again.Fit(data, epochs: 2);
            Assert.Equal(straight.GetParameters(), resumed.GetParameters());

            using var other = new WideVae(device, 1);
            var mismatched = new Trainer(other, new Adam(), batchSize: 64, shuffleSeed: 4);
            var e = Assert.Throws<InvalidDataException>(() => Vae.Files.TrainingCheckpoint.Restore(mismatched, path));
            Assert.Contains("batch size 32", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class StepRecorder : ITrainingCallback
    {
        public List<(long Step, double Loss)> Steps { get; } = [];

        public void OnEpochEnd(Trainer trainer, VaeModel model, EpochResult result) { }

        public void OnStepEnd(Trainer trainer, VaeModel model, long step, double batchLoss) => Steps.Add((step, batchLoss));
    }

    [Fact]
    public void Step_callbacks_see_every_step_in_order_with_its_batch_loss()
    {
        using var device = Device.Cpu(1);
        using var model = new WideVae(device, 3);
        var recorder = new StepRecorder();
        var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 30, shuffleSeed: 2) { Callbacks = { recorder } };
        var results = trainer.Fit(TestData.Inputs(WideVae.Descriptor, 100, 1), epochs: 2);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), recorder.Steps.Select(s => s.Step));
        Assert.All(recorder.Steps, s => Assert.True(double.IsFinite(s.Loss) && s.Loss > 0));
        // The epoch's loss is the example-weighted mean of its batches' (30, 30, 30, 10).
        double first = (30 * (recorder.Steps[0].Loss + recorder.Steps[1].Loss + recorder.Steps[2].Loss) + 10 * recorder.Steps[3].Loss) / 100;
        Assert.Equal(first, results[0].TrainLoss, 12);
    }

    [Fact]
    public void A_checkpoint_every_two_epochs_holds_the_last_even_epoch()
    {
        using var device = Device.Cpu(1);
        var data = TestData.Inputs(WideVae.Descriptor, 64, 5);
        string path = Path.Combine(Path.GetTempPath(), $"vae-every-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var model = new WideVae(device, 3);
            var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 16, shuffleSeed: 2) { Callbacks = { new SaveCheckpointEvery(path, everyEpochs: 2) } };
            trainer.Fit(data, epochs: 1);
            Assert.False(File.Exists(path));
            trainer.Fit(data, epochs: 2);
            var afterTwo = model.GetParameters();
            using var resumed = new WideVae(device, 99);
            var again = new Trainer(resumed, new Adam(1e-3f), batchSize: 16, shuffleSeed: 2);
            Vae.Files.TrainingCheckpoint.Restore(again, path);
            Assert.Equal(2, again.EpochsCompleted);
            Assert.NotEqual(afterTwo, resumed.GetParameters()); // saved after epoch 2, not epoch 3
            Assert.Throws<ArgumentOutOfRangeException>(() => new SaveCheckpointEvery(path, 0));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
