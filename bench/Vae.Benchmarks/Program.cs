using System.Diagnostics;
using BenchmarkDotNet.Running;
using Vae;
using Vae.Benchmarks;
using Vae.Data;

// dotnet run -c Release --project bench/Vae.Benchmarks -- [BenchmarkDotNet arguments]  (kernels and steps)
// dotnet run -c Release --project bench/Vae.Benchmarks -- epoch [--data DIR]           (one epoch: seconds, GFLOP/s, bytes allocated)
// dotnet run -c Release --project bench/Vae.Benchmarks -- inference [--data DIR]       (encode and decode images/s)
// dotnet run -c Release --project bench/Vae.Benchmarks -- memory stream|in-memory EPOCHS [DIR]  (peak working set, test ELBO)
// dotnet run -c Release --project bench/Vae.Benchmarks -- conv [IMAGES] [THREADS] [DEVICE] (the Keras-shaped conv model: one epoch)
// dotnet run -c Release --project bench/Vae.Benchmarks -- conv-layers [THREADS]            (each conv layer's kernels at batch 128)
if (args.Length is 3 or 4 && args[0] == "memory")
{
    MemoryFigures.Run(args.Length == 4 ? args[3] : FashionMnist.DebianDirectory, args[1] == "stream", int.Parse(args[2]));
    return 0;
}
if (args.Length > 0 && args[0] == "conv")
{
    var (images, _) = FashionMnist.Load(FashionMnist.DebianDirectory, train: true);
    ConvFigures.Epoch(images.ToFloats(), args.Length > 1 ? int.Parse(args[1]) : 12000, args.Length > 2 ? int.Parse(args[2]) : 2, args.Length > 3 ? args[3] : "cpu");
    return 0;
}
if (args.Length > 0 && args[0] == "conv-layers")
{
    ConvFigures.Layers(args.Length > 1 ? int.Parse(args[1]) : 2);
    return 0;
}
if (args.Length > 0 && args[0] is "epoch" or "inference")
{
    string dir = args.Length > 2 && args[1] == "--data" ? args[2] : FashionMnist.DebianDirectory;
    var (images, _) = FashionMnist.Load(dir, train: true);
    var data = images.ToFloats();
    using var device = Device.Cpu(2);
    using var model = new BenchVae(device, 1);
    if (args[0] == "epoch") Figures.Epoch(model, data);
    else Figures.Inference(model, data);
    return 0;
}
BenchmarkSwitcher.FromAssembly(typeof(KernelBenchmarks).Assembly).Run(args);
return 0;

namespace Vae.Benchmarks
{
    /// <summary>Whole-run figures that BenchmarkDotNet's per-call statistics do not give.</summary>
    internal static class Figures
    {
        /// <summary>Multiply-adds of the default model's four GEMMs (the heads stacked to 40 outputs).</summary>
        private const double MultiplyAdds = 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784;

        /// <summary>
        /// FLOP per example per training step: 2 per multiply-add for the forward pass and for dW, and for dx of every
        /// layer but the first (nothing needs dL/dx of the data): about 3.28 million.
        /// </summary>
        private const double FlopsPerExample = 2 * MultiplyAdds + 2 * MultiplyAdds + 2 * (MultiplyAdds - 784 * 400);

        public static void Epoch(BenchVae model, float[] data)
        {
            var trainer = new Trainer(model, new Adam(1e-3f), 128, 1);
            trainer.TrainEpoch(data); // the first epoch pays for JIT and first-touch page faults
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var result = trainer.TrainEpoch(data);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            int examples = data.Length / 784;
            double gflops = FlopsPerExample * examples / result.Seconds / 1e9;
            Console.WriteLine($"epoch_seconds {result.Seconds:F3} gflops {gflops:F1} steps {examples / 128 + 1} allocated_bytes {allocated} bytes_per_step {allocated / (examples / 128.0 + 1):F0}");
            Console.WriteLine($"gemm_tiles {(Vae.Kernels.Cpu.Gemm.Wide ? "512-bit 8x32" : "256-bit 6x16")} blocks depth {Vae.Kernels.Cpu.Gemm.DepthBlock} rows {Vae.Kernels.Cpu.Gemm.RowBlock} from {Vae.Kernels.Cpu.CacheSizes.Describe()} measured_us wide {Vae.Kernels.Cpu.Gemm.WideSeconds * 1e6:F1} narrow {Vae.Kernels.Cpu.Gemm.NarrowSeconds * 1e6:F1} (Vector512.IsHardwareAccelerated {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated})");
        }

        public static void Inference(BenchVae model, float[] data)
        {
            int n = data.Length / 784;
            var mu = new float[n * 20];
            var logVar = new float[n * 20];
            var mean = new float[n * 784];
            model.Encode(data.AsSpan(0, 4096 * 784), mu.AsSpan(0, 4096 * 20), logVar.AsSpan(0, 4096 * 20)); // warm-up
            var encode = new List<double>();
            var decode = new List<double>();
            for (int r = 0; r < 5; r++)
            {
                var clock = Stopwatch.StartNew();
                model.Encode(data, mu, logVar);
                encode.Add(n / clock.Elapsed.TotalSeconds);
                clock.Restart();
                model.Decode(mu, mean);
                decode.Add(n / clock.Elapsed.TotalSeconds);
            }
            Console.WriteLine($"encode_images_per_second {Median(encode):F0} decode_images_per_second {Median(decode):F0}");
        }

        private static double Median(List<double> values)
        {
            values.Sort();
            return values[values.Count / 2];
        }
    }
}
