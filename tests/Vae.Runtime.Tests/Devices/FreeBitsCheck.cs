using Vae.Reference;
using Vae.Runtime.Tests.Kernels;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// Free bits on a device with the floor set between the latent dimensions' batch-mean KLs, so some dimensions are held
/// at the floor (no KL gradient) and some are not: the training loss and every gradient match the oracle, the
/// training loss exceeds the unfloored evaluation loss, and a floor of zero changes nothing.
/// </summary>
public static class FreeBitsCheck
{
    public static void AssertMatchesOracle(Device device)
    {
        using var model = new FreeBitsVae(device, 4);
        var d = model.Architecture;
        const int batch = 12;
        var p = TestData.Parameters(d, 5);
        model.SetParameters(p);
        var x = TestData.Inputs(d, batch, 6);
        var eps = TestData.Noise(d, batch, 7);

        // Each dimension's KL averaged over the batch, from the encoder itself; the floor goes between the extremes.
        var mu = new float[batch * d.Latent];
        var logVar = new float[batch * d.Latent];
        model.Encode(x, mu, logVar);
        var means = new double[d.Latent];
        for (int b = 0; b < batch; b++)
        for (int j = 0; j < d.Latent; j++)
        {
            double m = mu[b * d.Latent + j], v = logVar[b * d.Latent + j];
            means[j] += 0.5 * (m * m + Math.Exp(v) - 1 - v) / batch;
        }
        Assert.True(means.Max() > 1.5 * means.Min(), $"the dimensions' KLs are too alike: {string.Join(", ", means)}");
        float floor = (float)(0.5 * (means.Min() + means.Max()));
        Assert.Contains(means, m => m < floor);
        Assert.Contains(means, m => m > floor);
        model.FreeBits = floor;

        var gradients = new float[d.ParameterCount];
        double loss = model.ComputeGradients(x, eps, gradients);
        var oracle = new ReferenceVae(d);
        var parameters = p.Select(v => (double)v).ToArray();
        var expected = new double[d.ParameterCount];
        double expectedLoss = oracle.Loss(parameters, x, eps, batch, model.KlWeight, expected, freeBits: floor);
        CpuParityTests.AssertClose(expectedLoss, loss, 1e-4, "training loss with free bits");
        foreach (var t in d.Tensors) CpuParityTests.AssertTensorClose(expected.AsSpan(t.Offset, t.Length), gradients.AsSpan(t.Offset, t.Length), t.Name);

        double evaluation = model.Loss(x, eps);
        Assert.True(loss > evaluation + 1e-3, $"the floor must raise the training loss: {loss} vs {evaluation}");

        // The dimensions held at the floor get no KL gradient: with the floor above every dimension only the
        // reconstruction term moves the encoder heads, as with a KL weight of zero.
        model.FreeBits = (float)(2 * means.Max());
        model.ComputeGradients(x, eps, gradients);
        var withoutKl = new double[d.ParameterCount];
        oracle.Loss(parameters, x, eps, batch, 0, withoutKl);
        var heads = d.Tensor("encoder.mu.bias");
        CpuParityTests.AssertTensorClose(withoutKl.AsSpan(heads.Offset, heads.Length), gradients.AsSpan(heads.Offset, heads.Length), heads.Name);
    }
}
