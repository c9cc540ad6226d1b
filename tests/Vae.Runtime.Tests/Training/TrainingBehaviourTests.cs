using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Training;

public class TrainingBehaviourTests : IDisposable
{
    private readonly Device _device = Device.Cpu(2);

    [Fact]
    public void A_non_finite_loss_stops_training_naming_the_step_and_keeps_the_previous_parameters()
    {
        using var model = new MixedVae(_device, 1);
        var optimizer = new Adam(1e-2f);
        var x = TestData.Inputs(model.Architecture, 16, 1);
        model.TrainStep(x, optimizer);
        model.TrainStep(x, optimizer);
        var before = model.GetParameters();

        var poisoned = (float[])x.Clone();
        poisoned[5] = float.NaN;
        var e = Assert.Throws<NonFiniteLossException>(() => model.TrainStep(poisoned, optimizer));
        Assert.Equal(3, e.Step);
        Assert.Contains("step 3", e.Message);
        Assert.Equal(2, model.Step);
        Assert.Equal(before, model.GetParameters());

        // Training goes on from the kept state with good data.
        model.TrainStep(x, optimizer);
        Assert.Equal(3, model.Step);
    }

    [Fact]
    public void Training_is_reproducible_bit_for_bit_with_the_same_seeds()
    {
        float[] Run()
        {
            using var model = new DeepVae(_device, 9);
            var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 13, shuffleSeed: 4);
            trainer.Fit(TestData.Inputs(model.Architecture, 100, 2), epochs: 2);
            return model.GetParameters();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Different_seeds_give_different_initial_weights_within_the_nn_linear_bounds()
    {
        using var a = new DefaultVae(_device, 1);
        using var b = new DefaultVae(_device, 2);
        Assert.NotEqual(a.GetParameters(), b.GetParameters());
        foreach (var t in a.Architecture.Tensors)
        {
            var w = t.Shape.Length == 2 ? t : a.Architecture.Tensor(t.Name[..^4] + "weight");
            float bound = 1f / MathF.Sqrt(w.Shape[1]);
            var values = a.GetTensor(t.Name);
            Assert.All(values, v => Assert.InRange(v, -bound, bound));
            // Uniform on [-bound, bound] has mean 0 and variance bound^2 / 3.
            if (values.Length > 1000)
            {
                double mean = values.Average(v => (double)v);
                double variance = values.Average(v => (double)v * v) - mean * mean;
                Assert.InRange(mean, -0.01 * bound, 0.01 * bound);
                Assert.InRange(variance, 0.97 * bound * bound / 3, 1.03 * bound * bound / 3);
            }
        }
    }

    [Fact]
    public void Fit_reports_progress_and_honours_cancellation()
    {
        using var model = new LinearVae(_device, 1);
        var trainer = new Trainer(model, new Sgd(0.01f), batchSize: 4) { ReportEvery = 5 };
        var reports = new List<TrainingProgress>();
        var progress = new SynchronousProgress<TrainingProgress>(reports.Add);
        var data = TestData.Inputs(model.Architecture, 100, 1);
        trainer.Fit(data, epochs: 2, progress);
        Assert.Contains(reports, r => !r.EpochCompleted && r.ExamplesDone == 20);
        Assert.Equal(2, reports.Count(r => r.EpochCompleted));
        Assert.Equal(50, model.Step);

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => trainer.Fit(data, 1, null, cancelled.Token));
        Assert.Equal(50, model.Step);
    }

    [Fact]
    public void Adam_matches_pytorch_formula_in_double()
    {
        using var model = new LinearVae(_device, 1);
        var optimizer = new Adam(1e-2f, weightDecay: 0.1f);
        var x = TestData.Inputs(model.Architecture, 8, 1);
        var eps = TestData.Noise(model.Architecture, 8, 1);
        var p = model.GetParameters().Select(v => (double)v).ToArray();
        var m = new double[p.Length];
        var v2 = new double[p.Length];
        var g = new float[p.Length];
        for (int step = 1; step <= 5; step++)
        {
            model.ComputeGradients(x, eps, g);
            model.TrainStep(x, eps, optimizer);
            for (int i = 0; i < p.Length; i++)
            {
                double gi = g[i] + 0.1 * p[i];
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v2[i] = 0.999 * v2[i] + 0.001 * gi * gi;
                double mHat = m[i] / (1 - Math.Pow(0.9, step));
                double vHat = v2[i] / (1 - Math.Pow(0.999, step));
                p[i] -= 1e-2 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
            var actual = model.GetParameters();
            for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(actual[i] - p[i]) < 1e-5, $"step {step}, parameter {i}: {actual[i]} vs {p[i]}");
            p = actual.Select(v => (double)v).ToArray();
        }
    }

    [Fact]
    public void Sgd_with_momentum_matches_pytorch_formula()
    {
        using var model = new LinearVae(_device, 1);
        var optimizer = new Sgd(0.05f, momentum: 0.9f);
        var x = TestData.Inputs(model.Architecture, 8, 1);
        var eps = TestData.Noise(model.Architecture, 8, 1);
        var p = model.GetParameters();
        var buffer = new float[p.Length];
        var g = new float[p.Length];
        for (int step = 1; step <= 3; step++)
        {
            model.ComputeGradients(x, eps, g);
            model.TrainStep(x, eps, optimizer);
            for (int i = 0; i < p.Length; i++)
            {
                buffer[i] = step == 1 ? g[i] : 0.9f * buffer[i] + g[i];
                p[i] -= 0.05f * buffer[i];
            }
            Assert.Equal(p, model.GetParameters());
        }
    }

    [Fact]
    public void Gradient_clipping_bounds_the_update()
    {
        using var a = new DefaultVae(_device, 1);
        using var b = new DefaultVae(_device, 1);
        var x = TestData.Inputs(a.Architecture, 4, 1);
        var eps = TestData.Noise(a.Architecture, 4, 1);
        var before = a.GetParameters();
        a.TrainStep(x, eps, new Sgd(1f), clipGradientNorm: 0.5f);
        double moved = Math.Sqrt(a.GetParameters().Zip(before, (u, v) => (double)(u - v) * (u - v)).Sum());
        Assert.InRange(moved, 0.49, 0.51);
        b.TrainStep(x, eps, new Sgd(1f));
        double unclipped = Math.Sqrt(b.GetParameters().Zip(before, (u, v) => (double)(u - v) * (u - v)).Sum());
        Assert.True(unclipped > 1, $"the unclipped step moved {unclipped}");
    }

    [Fact]
    public void Bad_shapes_are_refused_with_messages_that_name_the_argument()
    {
        using var model = new TinyVae(_device, 1);
        var e = Assert.Throws<ArgumentException>(() => model.Loss(new float[3], new float[2]));
        Assert.Contains("eps", e.Message);
        using var wide = new LinearVae(_device, 1);
        e = Assert.Throws<ArgumentException>(() => wide.Elbo(new float[4]));
        Assert.Contains("not a whole number of examples of Input = 3", e.Message);
    }

    [Fact]
    public void Elbo_does_not_depend_on_chunking_and_importance_sampling_tightens_it()
    {
        using var model = new DeepVae(_device, 1);
        var trainer = new Trainer(model, new Adam(3e-3f), 16);
        var data = TestData.Inputs(model.Architecture, 64, 3);
        trainer.Fit(data, 10);
        double whole = model.Elbo(data);
        double firstHalf = model.Elbo(data.AsSpan(0, 32 * 17));
        Assert.True(double.IsFinite(whole) && whole < 0);
        double nll = model.NegativeLogLikelihood(data, importanceSamples: 200);
        double single = model.NegativeLogLikelihood(data, importanceSamples: 1);
        // -log p(x) <= -ELBO on average; with K = 1 the estimate is an ELBO (with L = 1 noise).
        Assert.True(nll < -whole, $"IWAE bound {nll} should be below -ELBO {-whole}");
        Assert.True(nll < single, $"K=200 bound {nll} should be below the K=1 bound {single}");
        Assert.NotEqual(whole, firstHalf);
    }

    public void Dispose() => _device.Dispose();

    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
