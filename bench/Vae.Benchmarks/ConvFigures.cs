using System.Diagnostics;
using System.Runtime.InteropServices;
using Vae.Kernels.Cpu;

namespace Vae.Benchmarks;

/// <summary>The convolutional model of the convolution issue: the Keras example's shape, latent 2, Bernoulli.</summary>
[VariationalAutoencoder(Latent = 2)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
[Encoder(16, Activation.Relu)]
[Decoder(3136, Activation.Relu)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class BenchConvVae;

/// <summary>Training-step and per-layer figures of <see cref="BenchConvVae"/>.</summary>
internal static unsafe class ConvFigures
{
    /// <summary>Multiply-adds of one layer's forward pass for one example: out channels x positions x depth, seen from the Conv2d side.</summary>
    private static double MultiplyAdds(ConvolutionDescriptor c, bool transposed)
    {
        var (small, big) = transposed ? (c.In, c.Out) : (c.Out, c.In);
        return (double)small.Size * big.Channels * c.Kernel * c.Kernel;
    }

    private static IEnumerable<(string Name, ConvolutionDescriptor Layer, bool Transposed, bool First)> Layers(ModelDescriptor d)
    {
        for (int i = 0; i < d.EncoderConvolutions.Count; i++) yield return ($"encoder.conv.{i}", d.EncoderConvolutions[i], false, i == 0);
        for (int i = 0; i < d.DecoderConvolutions.Count; i++) yield return ($"decoder.conv.{i}", d.DecoderConvolutions[i], true, false);
    }

    /// <summary>FLOP per example per training step: forward, dW, and dx of every layer but the first; dense layers included.</summary>
    private static double FlopsPerExample(ModelDescriptor d)
    {
        double flops = 0;
        foreach (var (_, c, t, first) in Layers(d)) flops += (first ? 4 : 6) * MultiplyAdds(c, t);
        // The dense layers: 3136-16, the two heads 16-2, 2-3136.
        flops += 6 * (3136.0 * 16 + 16 * 4 + 2 * 3136);
        return flops;
    }

    /// <summary>One epoch on the first <paramref name="limit"/> images, after a warm-up epoch on the same images.</summary>
    public static void Epoch(float[] data, int limit, int threads, string deviceName)
    {
        using var device = Device.FromName(deviceName, threads);
        using var model = new BenchConvVae(device, 1);
        var trainer = new Trainer(model, new Adam(1e-3f), 128, 1);
        var slice = data.AsSpan(0, limit * 784).ToArray();
        // A warm-up epoch on the same images: JIT tiers, first touches, and the trainer's epoch order (one int an image,
        // allocated again whenever the example count changes: a warm-up on fewer images showed as 512 bytes a step).
        trainer.TrainEpoch(slice);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var result = trainer.TrainEpoch(slice);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        int steps = (limit + 127) / 128;
        Console.WriteLine($"conv_epoch_seconds {result.Seconds:F3} images {limit} device {deviceName} threads {threads} seconds_per_step {result.Seconds / steps:F4} " +
                          $"gflops {FlopsPerExample(model.Architecture) * limit / result.Seconds / 1e9:F1} train_negative_elbo {result.TrainLoss:F2} allocated_bytes {allocated}");
    }

    /// <summary>
    /// Each convolution layer's CPU kernels alone at batch 128: forward and backward, median of 15 calls, and GFLOP/s;
    /// and the forward followed by a BatchNorm2d in evaluation mode, as two passes and fused.
    /// </summary>
    public static void Layers(int threads)
    {
        var d = BenchConvVae.Descriptor;
        using var team = new CpuThreads(threads);
        const int rows = 128;
        double total = 0;
        foreach (var (name, c, transposed, first) in Layers(d))
        {
            int weights = c.In.Channels * c.Out.Channels * c.Kernel * c.Kernel;
            float* x = Fill(rows * c.In.Size), w = Fill(weights), b = Fill(c.Out.Channels), pre = Fill(rows * c.Out.Size), output = Fill(rows * c.Out.Size);
            float* dOut = Fill(rows * c.Out.Size), dW = Fill(weights), dB = Fill(c.Out.Channels), dX = first ? null : Fill(rows * c.In.Size);
            var shape = (c.In.Channels, c.In.Height, c.In.Width, c.Out.Channels, c.Out.Height, c.Out.Width, c.Kernel, c.Stride, c.Padding);
            double forward = Median(() =>
            {
                if (transposed) Convolution.TransposedForward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(x), new(w), new(b), new(pre), new(output));
                else Convolution.Forward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(x), new(w), new(b), new(pre), new(output));
            });
            double backward = Median(() =>
            {
                if (transposed) Convolution.TransposedBackward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(dOut), new(pre), new(output), new(x), new(w), new(dW), new(dB), new(dX), new(dOut));
                else Convolution.Backward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(dOut), new(pre), new(output), new(x), new(w), new(dW), new(dB), new(dX), new(dOut));
            });
            // The same layer followed by a BatchNorm2d in evaluation mode: two passes (the convolution, then the
            // BatchNorm over its output) against the fused one (the BatchNorm in the convolution's epilogue).
            int ch = c.Out.Channels, area = c.Out.Height * c.Out.Width;
            float* nw = Fill(ch), nb = Fill(ch), rm = Fill(ch), rv = Fill(ch), normPre = Fill(rows * c.Out.Size);
            for (int i = 0; i < ch; i++) rv[i] += 1f;
            double separate = Median(() =>
            {
                if (transposed) Convolution.TransposedForward<IdentityActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(x), new(w), new(b), new(pre), new(pre));
                else Convolution.Forward<IdentityActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, new(x), new(w), new(b), new(pre), new(pre));
                BatchNorm.EvaluationForward<ReluActivation>(team, rows, ch, area, 1e-5f, new(pre), new(nw), new(nb), new(rm), new(rv), new(normPre), new(output));
            });
            double fused = Median(() =>
            {
                if (transposed) Convolution.TransposedNormalizedForward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, 1e-5f, new(x), new(w), new(b), new(nw), new(nb), new(rm), new(rv), new(normPre), new(output));
                else Convolution.NormalizedForward<ReluActivation>(team, rows, shape.Item1, shape.Item2, shape.Item3, shape.Item4, shape.Item5, shape.Item6, shape.Item7, shape.Item8, shape.Item9, 1e-5f, new(x), new(w), new(b), new(nw), new(nb), new(rm), new(rv), new(normPre), new(output));
            });
            foreach (var p in new[] { (IntPtr)nw, (IntPtr)nb, (IntPtr)rm, (IntPtr)rv, (IntPtr)normPre }) NativeMemory.AlignedFree((void*)p);
            double macs = MultiplyAdds(c, transposed) * rows;
            Console.WriteLine($"{name} {(transposed ? "ConvTranspose2d" : "Conv2d")} {c.In}->{c.Out} k{c.Kernel} s{c.Stride}: forward_ms {forward * 1e3:F2} ({2 * macs / forward / 1e9:F1} GFLOP/s) " +
                              $"backward_ms {backward * 1e3:F2} ({(first ? 2 : 4) * macs / backward / 1e9:F1} GFLOP/s) " +
                              $"with_batchnorm_eval_ms separate {separate * 1e3:F2} fused {fused * 1e3:F2}");
            total += forward + backward;
            foreach (var p in new[] { (IntPtr)x, (IntPtr)w, (IntPtr)b, (IntPtr)pre, (IntPtr)output, (IntPtr)dOut, (IntPtr)dW, (IntPtr)dB, (IntPtr)dX })
                if (p != IntPtr.Zero) NativeMemory.AlignedFree((void*)p);
        }
        Console.WriteLine($"convolutions_ms_per_step {total * 1e3:F1} (batch {rows}, {threads} threads)");
    }

    private static float* Fill(int n)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, n) * sizeof(float)), 64);
        var rng = new Random(n);
        for (int i = 0; i < n; i++) p[i] = (float)rng.NextDouble() - 0.5f;
        return p;
    }

    private static double Median(Action call)
    {
        call();
        var times = new List<double>();
        for (int i = 0; i < 15; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
