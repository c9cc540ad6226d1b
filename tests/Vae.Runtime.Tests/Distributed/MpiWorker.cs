using System.Diagnostics;
using Vae.Runtime.Tests.Models;

namespace Vae.Runtime.Tests.Distributed;

/// <summary>
/// One rank of the MPI tests' jobs: <c>mpirun -np N dotnet Vae.Runtime.Tests.dll mpi STEPS BATCH DETERMINISTIC OUT [KILL_STEP]</c>.
/// Trains a small model on synthetic data for STEPS global batches of BATCH with a 1-thread CPU device, and rank 0
/// writes the parameters to OUT as raw floats. With KILL_STEP, rank 1 kills itself (SIGKILL) at that step.
/// </summary>
internal static class MpiWorker
{
    public static int Run(string[] args)
    {
        if (args.Length == 3 && args[0] == "allreduce") return AllReduceTiming(int.Parse(args[1]), int.Parse(args[2]));
        if (args.Length is < 4 or > 5 || !int.TryParse(args[0], out int steps) || !int.TryParse(args[1], out int batch) || args[2] is not ("0" or "1"))
        {
            Console.Error.WriteLine("usage: Vae.Runtime.Tests mpi STEPS BATCH 0|1 OUT [KILL_STEP]");
            return 2;
        }
        int killStep = args.Length == 5 ? int.Parse(args[4]) : -1;
        // Buckets of 64 values: the small model's gradient goes out in dozens of them, each as the backward pass
        // finishes it, so the agreement and bit-identity below cover the overlapped, many-bucket path.
        using var comm = MpiCommunicator.Start(deterministic: args[2] == "1", bucketSize: 64);
        using var device = Device.Cpu(1);
        using var model = new DeepVae(device, 5);
        var data = TestData.Inputs(model.Architecture, steps * batch, 11);
        float beta = model.KlWeight;
        var trainer = new Trainer(model, new Adam(1e-3f), batch, shuffleSeed: 3)
        {
            Communicator = comm,
            ClipGradientNorm = 5f,
            KlWeightSchedule = step =>
            {
                if (step == killStep && comm.Rank == 1) Process.GetCurrentProcess().Kill();
                return beta;
            },
        };
        var result = trainer.TrainEpoch(data);
        if (comm.Rank == 0)
        {
            var p = model.GetParameters();
            using (var f = File.Create(args[3])) f.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.AsSpan()));
            Console.WriteLine($"rank 0 of {comm.Size}: {result.Step} steps, loss {result.TrainLoss:R}, buckets reduced during the last backward pass {model.BucketsDuringBackward}");
        }
        return 0;
    }

    /// <summary><c>mpi allreduce COUNT REPS</c>: the median time of summing COUNT floats over the ranks, as training does.</summary>
    private static int AllReduceTiming(int count, int reps)
    {
        using var comm = MpiCommunicator.Start();
        var values = new float[count];
        var times = new double[reps];
        comm.AllReduceSum(values);   // warm-up: connections and buffers
        for (int r = 0; r < reps; r++)
        {
            comm.Barrier();
            var clock = Stopwatch.StartNew();
            comm.AllReduceSum(values);
            times[r] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        if (comm.Rank == 0) Console.WriteLine($"allreduce of {count} floats over {comm.Size} ranks: median {times[reps / 2]:F3} ms, min {times[0]:F3} ms");
        return 0;
    }
}
