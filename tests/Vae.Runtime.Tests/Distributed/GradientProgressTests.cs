using System.Reflection;
using Vae.Devices;
using Vae.Kernels.Cpu;
using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Distributed;

/// <summary>
/// The generated CPU backward pass's progress reports, on which the data-parallel step starts all-reducing buckets
/// before the pass ends: each report must promise only gradients that are already final.
/// </summary>
public class GradientProgressTests
{
    private sealed class Recorder(IModelBackend backend, int parameters) : IGradientProgress
    {
        public readonly List<(int Offset, float[] Values)> Reports = [];

        public void GradientsFinalFrom(int offset)
        {
            var values = new float[parameters - offset];
            backend.GetGradients(offset, values);
            Reports.Add((offset, values));
        }
    }

    [Theory]
    [InlineData(nameof(DefaultVae))]
    [InlineData(nameof(LearnedVarianceVae))]
    [InlineData(nameof(IwaeVae))]
    [InlineData(nameof(ConditionalVae))]
    [InlineData(nameof(ConvVae))]
    [InlineData(nameof(ConvWideVae))]
    [InlineData(nameof(ConvBatchNormVae))]
    public void Every_reported_offset_promises_only_final_gradients_and_the_reports_reach_zero(string name)
    {
        using var device = Device.Cpu(2);
        using VaeModel model = name == nameof(ConvBatchNormVae) ? new ConvBatchNormVae(device, 3) : CpuParityTests.Create(name, device, 3);
        var backend = (IModelBackend)typeof(VaeModel).GetField("_backend", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(model)!;
        var d = model.Architecture;
        int p = d.ParameterCount;
        // Gradients that are not written yet would show up as NaN in a report and fail the comparison.
        backend.SetGradients(Enumerable.Repeat(float.NaN, p).ToArray());
        var x = TestData.Inputs(d, 9, 4);
        var labels = TestData.Labels(d, 9, 5).Select(l => (float)l).ToArray();
        var recorder = new Recorder(backend, p);
        double loss = backend.ForwardBackward(x, d.Classes > 0 ? labels : default, 9, 1f, 0f, seed: 7, step: 1, firstExample: 0, recorder);
        Assert.True(double.IsFinite(loss));
        var final = new float[p];
        backend.GetGradients(final);

        Assert.True(recorder.Reports.Count >= 2, $"{name}: {recorder.Reports.Count} progress reports");
        Assert.Equal(0, recorder.Reports[^1].Offset);
        for (int i = 1; i < recorder.Reports.Count; i++)
            Assert.True(recorder.Reports[i].Offset < recorder.Reports[i - 1].Offset, $"{name}: offsets {string.Join(", ", recorder.Reports.Select(r => r.Offset))} do not decrease");
        foreach (var (offset, values) in recorder.Reports)
            for (int i = 0; i < values.Length; i++)
                if (BitConverter.SingleToInt32Bits(values[i]) != BitConverter.SingleToInt32Bits(final[offset + i]))
                    Assert.Fail($"{name}: gradient {offset + i} was {values[i]} when the pass reported offsets from {offset} final, and ended {final[offset + i]}");
    }
}
