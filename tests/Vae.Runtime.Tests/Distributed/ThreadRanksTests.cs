using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Distributed;

/// <summary>
/// The data-parallel step without MPI: N ranks as N threads, each with its own model, summing through shared memory in
/// rank order. Uneven slices and ranks with empty slices (a last batch smaller than N) must train what one model trains.
/// </summary>
public sealed class ThreadRanksTests
{
    [Theory]
    [InlineData(2, 13, 4)]    // last batch of 1 row: rank 1 has none
    [InlineData(3, 22, 8)]    // slices of 2, 3, 3 and a last batch of 6
    [InlineData(3, 9, 4)]     // last batch of 1 row: ranks 0 and 1 have none
    public void RanksTrainWhatOneModelTrains(int ranks, int examples, int batch)
    {
        using var device = Device.Cpu(1);
        Compare(device, ranks, examples, batch, shared: false);
    }

    /// <summary>The accelerator backend's gradient write-back (SetGradients) under the same check, on PoCL.</summary>
    [Fact]
    public void RanksOnOpenClTrainWhatOneModelTrains()
    {
        Device opencl;
        try { opencl = Device.OpenCl(); }
        catch (DeviceUnavailableException e)
        {
            Assert.False(Environment.GetEnvironmentVariable("VAE_REQUIRE_OPENCL") == "1", "VAE_REQUIRE_OPENCL=1 but: " + e.Message);
            return;
        }
        using (opencl) Compare(opencl, 2, 13, 4, shared: true);
    }

    /// <summary>One model on <paramref name="device"/> against N rank threads, each on its own 1-thread CPU device or, when shared, on that device.</summary>
    private static void Compare(Device device, int ranks, int examples, int batch, bool shared)
    {
        using var reference = new DeepVae(device, 5);
        var x = TestData.Inputs(reference.Architecture, examples, 4);
        var alone = new Trainer(reference, new Adam(1e-2f), batch, shuffleSeed: 9) { ClipGradientNorm = 1f };
        var expectedLoss = alone.Fit(x, epochs: 2).Select(r => r.TrainLoss).ToArray();
        var expected = reference.GetParameters();

        var group = new ThreadGroup(ranks);
        var results = new (float[] Parameters, double[] Losses)[ranks];
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            using var own = shared ? null : Device.Cpu(1);
            using var model = new DeepVae(own ?? device, 5);
            var trainer = new Trainer(model, new Adam(1e-2f), batch, shuffleSeed: 9) { ClipGradientNorm = 1f, Communicator = group.Rank(r) };
            var losses = trainer.Fit(x, epochs: 2).Select(e => e.TrainLoss).ToArray();
            results[r] = (model.GetParameters(), losses);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        double scale = expected.Max(v => Math.Abs(v));
        foreach (var (parameters, losses) in results)
        {
            Assert.Equal(results[0].Parameters, parameters);   // every rank holds the same model
            double worst = expected.Zip(parameters, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst <= 1e-5 * scale, $"{ranks} ranks differ from one model by {worst:G3} (largest parameter {scale:G3})");
            for (int e = 0; e < losses.Length; e++) Assert.Equal(expectedLoss[e], losses[e], 1e-4 * Math.Abs(expectedLoss[e]));
        }
    }

    [Fact]
    public void RanksGivenDifferentDataAllRefuseInsteadOfHanging()
    {
        var group = new ThreadGroup(2);
        var errors = new Exception?[2];
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            using var own = Device.Cpu(1);
            using var model = new DeepVae(own, 5);
            var x = TestData.Inputs(model.Architecture, r == 0 ? 16 : 12, 4);
            var trainer = new Trainer(model, new Adam(1e-2f), 4) { Communicator = group.Rank(r) };
            errors[r] = Record.Exception(() => trainer.TrainEpoch(x));
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a rank hung"));
        for (int r = 0; r < 2; r++)
        {
            var e = Assert.IsType<RanksDisagreeException>(errors[r]);
            Assert.Contains($"Rank {r} of 2", e.Message);
            Assert.Contains("training examples", e.Message);
        }
    }

    [Fact]
    public void OneRankOfTheWholeBatchIsTheOrdinaryStep()
    {
        using var device = Device.Cpu(1);
        using var a = new DeepVae(device, 5);
        using var b = new DeepVae(device, 5);
        var x = TestData.Inputs(a.Architecture, 6, 2);
        double la = a.TrainStep(x, new Adam(1e-3f), 1f);
        double lb = b.TrainStep(x, default, new Adam(1e-3f), 1f, 0, 6, SingleProcessCommunicator.Instance);
        Assert.Equal(la, lb);
        Assert.Equal(a.GetParameters(), b.GetParameters());
        Assert.Throws<ArgumentOutOfRangeException>(() => b.TrainStep(x, default, new Adam(1e-3f), null, 1, 6, SingleProcessCommunicator.Instance));
    }

    /// <summary>Ranks as threads: each sum waits for every rank and adds the contributions in rank order.</summary>
    private sealed class ThreadGroup(int size)
    {
        private readonly Barrier _barrier = new(size);
        private readonly Array?[] _slots = new Array?[size];

        public ICommunicator Rank(int rank) => new Member(this, rank);

        private void Sum<T>(int rank, Span<T> values) where T : struct, System.Numerics.INumber<T>
        {
            _slots[rank] = values.ToArray();
            _barrier.SignalAndWait();
            for (int i = 0; i < values.Length; i++)
            {
                T s = ((T[])_slots[0]!)[i];
                for (int r = 1; r < size; r++) s += ((T[])_slots[r]!)[i];
                values[i] = s;
            }
            _barrier.SignalAndWait();
        }

        private sealed class Member(ThreadGroup group, int rank) : ICommunicator
        {
            public int Rank => rank;
            public int Size => group._slots.Length;
            public bool Deterministic => true;
            public void AllReduceSum(Span<float> values) => group.Sum(rank, values);
            public void AllReduceSum(Span<double> values) => group.Sum(rank, values);
            public void Broadcast(Span<float> values, int root = 0) => throw new NotSupportedException();
            public void Barrier() => group._barrier.SignalAndWait();
        }
    }
}
