using Vae.Runtime.Tests.Models;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// Noise is keyed by the global example index: a batch split in two, each half told where it starts, draws the
/// same noise as the whole batch, so the example-weighted mean of the halves' gradients is the whole batch's gradient.
/// This is what lets N processes compute what one process computes.
/// </summary>
public static class GlobalExampleIndex
{
    public static void AssertSplitMatchesWhole(Device device, ITestOutputHelper? output)
    {
        using var model = new DeepVae(device, 3);
        const int examples = 10, first = 4;
        var d = model.Architecture;
        var x = TestData.Inputs(d, examples, 21);
        var whole = Gradient(model, x, examples, 0);
        var head = Gradient(model, x.AsSpan(0, first * d.Input).ToArray(), first, 0);
        var tail = Gradient(model, x.AsSpan(first * d.Input).ToArray(), examples - first, first);
        double worst = 0, scale = whole.Max(v => Math.Abs(v));
        for (int i = 0; i < whole.Length; i++)
        {
            double combined = (first * (double)head[i] + (examples - first) * (double)tail[i]) / examples;
            worst = Math.Max(worst, Math.Abs(combined - whole[i]));
        }
        output?.WriteLine($"{device.Kind}: largest difference {worst:G3} against a largest gradient of {scale:G3}");
        Assert.True(worst <= 1e-5 * scale, $"split gradient differs by {worst:G3} (largest gradient {scale:G3})");

        // Without the offset the second half would reuse the first examples' noise: the check above can fail.
        var unkeyed = Gradient(model, x.AsSpan(first * d.Input).ToArray(), examples - first, 0);
        Assert.NotEqual(tail, unkeyed);
    }

    private static float[] Gradient(VaeModel model, float[] x, int examples, int firstExample)
    {
        model.Backend.ForwardBackward(x, default, examples, model.KlWeight, freeBits: 0, seed: 17, step: 3, firstExample);
        var g = new float[model.Architecture.ParameterCount];
        model.Backend.GetGradients(g);
        return g;
    }
}
