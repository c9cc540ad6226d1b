using Vae.Samples.Fashion.Commands;

namespace Vae.Samples.Tests;

/// <summary>How <c>evaluate</c> sizes its timing probe and words the expected run time.</summary>
public sealed class EvaluateEstimateTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(200, 2)]
    [InlineData(2_000, 20)]
    [InlineData(10_000, 64)]
    public void The_probe_is_about_one_percent_of_the_images_capped_at_64(int count, int probe) =>
        Assert.Equal(probe, EvaluateCommand.ProbeImages(count));

    [Theory]
    [InlineData(0.2, "1 s")]
    [InlineData(40.4, "40 s")]
    [InlineData(390, "6.5 min")]
    [InlineData(7_200, "2.0 h")]
    public void Durations_read_as_people_say_them(double seconds, string text) =>
        Assert.Equal(text, EvaluateCommand.Duration(seconds));
}
