using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Vae.Generator.Tests;

/// <summary>
/// How long the generator takes on the default model, as the driver measures it. Written to the test output only:
/// timings on a shared machine are too noisy to assert on, but the figure should be visible in every run.
/// </summary>
[Collection(nameof(TimingTests))]
public class TimingTests(ITestOutputHelper output)
{
    private const int Runs = 20;

    [Fact]
    public void Generator_time_on_the_default_model()
    {
        var times = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            // A fresh compilation and a fresh driver each time: nothing is cached, so this is the cold path a build takes.
            var driver = GeneratorHarness.CreateDriver().RunGenerators(GeneratorHarness.Compile(Models.Fashion.Source));
            var timing = driver.GetTimingInfo();
            times.Add(timing.GeneratorTimes.Single().ElapsedTime.TotalMilliseconds);
        }

        var sorted = times.OrderBy(t => t).ToList();
        double median = (sorted[(Runs - 1) / 2] + sorted[Runs / 2]) / 2;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"VaeGenerator on {Models.Fashion.Name}: median {median:F3} ms over {Runs} fresh runs (first {times[0]:F3} ms, min {sorted[0]:F3} ms, max {sorted[^1]:F3} ms)"));
        Assert.Equal(Runs, times.Count);
    }
}

/// <summary>Runs the timing alone: the other test classes run in parallel and would otherwise share its cores.</summary>
[CollectionDefinition(nameof(TimingTests), DisableParallelization = true)]
public sealed class TimingCollection
{
}
