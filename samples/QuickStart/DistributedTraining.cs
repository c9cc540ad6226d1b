using Vae;
using Vae.Files;

/// <summary>Data-parallel training: every rank of <c>mpirun -np N</c> runs this with the same data and seeds.</summary>
internal static class DistributedTraining
{
    public static void Train(VaeModel model, float[] trainImages, IProgress<TrainingProgress> progress)
    {
        using var comm = MpiCommunicator.Start(deterministic: false);          // MPI_Init_thread; Dispose calls MPI_Finalize
        var trainer = new Trainer(model, new Adam(1e-3f), batchSize: 128, shuffleSeed: 1) { Communicator = comm };
        trainer.Fit(trainImages, epochs: 10, comm.Rank == 0 ? progress : null);  // losses and progress are the global batch's
        if (comm.Rank == 0) Checkpoint.Save(model, "fashion.safetensors", trainer.Optimizer);
    }
}
