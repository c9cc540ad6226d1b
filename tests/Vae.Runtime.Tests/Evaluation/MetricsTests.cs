using Vae.Evaluation;
using Vae.Runtime.Tests.Models;
using Xunit;

namespace Vae.Runtime.Tests.Evaluation;

public class MetricsTests
{
    [Fact]
    public void The_standard_elbo_of_an_elbo_model_is_the_models_own_elbo()
    {
        using var device = Device.Cpu(2);
        using var model = new DefaultVae(device, 3);
        var data = TestData.Inputs(model.Architecture, 300, 4);
        double own = model.Elbo(data, seed: 9);
        double standard = Metrics.Elbo(model, data, seed: 9);
        Assert.True(Math.Abs(own - standard) <= 1e-5 * Math.Abs(own), $"{own} vs {standard}");
    }

    [Fact]
    public void The_standard_elbo_of_an_importance_weighted_model_lies_below_its_bound()
    {
        using var device = Device.Cpu(2);
        using var model = new IwaeVae(device, 3);
        var data = TestData.Inputs(model.Architecture, 200, 4);
        // The K-sample bound is at least the ELBO in expectation; over 200 examples the gap is far beyond the noise.
        Assert.True(Metrics.Elbo(model, data) < model.Elbo(data));
    }

    [Fact]
    public void A_dimension_whose_mean_ignores_the_input_is_inactive()
    {
        using var device = Device.Cpu(2);
        using var model = new DefaultVae(device, 3);
        var d = model.Architecture;
        var data = TestData.Inputs(d, 256, 5);
        // Scale the means' weights up so every dimension varies well above the threshold, then silence dimension 3.
        var p = model.GetParameters();
        var weight = d.Tensor("encoder.mu.weight");
        for (int i = weight.Offset; i < weight.Offset + weight.Length; i++) p[i] *= 40;
        model.SetParameters(p);
        var (before, variances) = Metrics.ActiveUnits(model, data);
        Assert.Equal(d.Latent, before);
        Assert.All(variances, v => Assert.True(v > 0.01));
        int columns = weight.Shape[1];
        for (int i = 0; i < columns; i++) p[weight.Offset + 3 * columns + i] = 0;
        model.SetParameters(p);
        var (after, silenced) = Metrics.ActiveUnits(model, data);
        Assert.Equal(d.Latent - 1, after);
        Assert.Equal(0, silenced[3], 12);
    }
}
