using Vae.Kernels.Cpu;
using Xunit;

namespace Vae.Runtime.Tests.Kernels;

public class CpuThreadsTests
{
    private static unsafe void Count(void* state, int index)
    {
        Thread.SpinWait(500 * (index + 1));
        Interlocked.Increment(ref ((int*)state)[index]);
    }

    private static unsafe void Throw(void* state, int index)
    {
        if (index == 2) throw new InvalidOperationException("job 2 failed");
    }

    /// <summary>
    /// Back-to-back jobs on a fresh team, many times over: a worker returning to sleep must never take the wake-up
    /// meant for another (this once hung on the second job). A hang fails the test through its timeout.
    /// </summary>
    [Fact]
    public async Task Every_index_runs_exactly_once_in_back_to_back_jobs()
    {
        var run = Task.Run(Jobs);
        var first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(first == run, "the thread team hung");
        await run;
    }

    private static unsafe void Jobs()
    {
        for (int trial = 0; trial < 100; trial++)
        {
            using var team = new CpuThreads(3);
            var hits = new int[5];
            fixed (int* h = hits)
                for (int job = 0; job < 4; job++) team.For(5, &Count, h);
            Assert.All(hits, v => Assert.Equal(4, v));
        }
    }

    [Fact]
    public unsafe void An_exception_in_a_job_reaches_the_caller_and_the_team_still_works()
    {
        using var team = new CpuThreads(2);
        var e = Assert.Throws<InvalidOperationException>(() => team.For(4, &Throw, null));
        Assert.Equal("job 2 failed", e.Message);
        var hits = new int[3];
        fixed (int* h = hits) team.For(3, &Count, h);
        Assert.All(hits, v => Assert.Equal(1, v));
    }
}
