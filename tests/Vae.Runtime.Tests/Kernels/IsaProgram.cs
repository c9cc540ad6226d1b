using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vae.Kernels.Cpu;
using Vae.Runtime.Tests.Models;
using Vae.Runtime.Tests.Safety;
using Xunit;

namespace Vae.Runtime.Tests.Kernels;

/// <summary>
/// The CPU kernels under the instruction sets a user may have: this assembly run as a child with the JIT limited by
/// DOTNET_EnableAVX512=0 (an AVX2 machine: the 256-bit tiles) or DOTNET_EnableHWIntrinsic=0 (no SIMD: Vector256 in
/// software, no FMA). In each, the GEMM driver must match naive sums over every tile edge, and a model's loss and
/// gradients with two threads must equal one thread's bit for bit.
/// </summary>
public class IsaTests
{
    [Theory]
    [InlineData("DOTNET_EnableAVX512", "0")]
    [InlineData("DOTNET_EnableHWIntrinsic", "0")]
    [InlineData("DOTNET_PreferredVectorBitWidth", "256")]
    public async Task Gemm_and_thread_exactness_hold_with_the_instruction_set_limited(string variable, string value)
    {
        var start = new ProcessStartInfo(SafetyStressTests.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(IsaProgram).Assembly.Location);
        start.ArgumentList.Add(IsaProgram.Command);
        start.Environment[variable] = value;
        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        var stderrTask = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{variable}={value}: the child did not finish in 5 minutes.");
        }
        string stdout = await stdoutTask, stderr = await stderrTask;
        Assert.True(process.ExitCode == 0, $"{variable}={value}: exit code {process.ExitCode}\n{stdout}\n{stderr}");
        Assert.Contains("all checks passed", stdout);
        if (variable == "DOTNET_EnableHWIntrinsic") Assert.Contains("Avx2 False", stdout);
        if (variable == "DOTNET_EnableAVX512") Assert.Contains("wide False", stdout);
        if (variable == "DOTNET_PreferredVectorBitWidth" && Avx512F.IsSupported) Assert.Contains("Vector512.IsHardwareAccelerated False", stdout);
    }
}

/// <summary>The child side of <see cref="IsaTests"/>; prints one line per failure and "all checks passed" at the end.</summary>
public static unsafe class IsaProgram
{
    public const string Command = "isa-check";

    public static int Run()
    {
        Console.WriteLine($"Avx2 {Avx2.IsSupported} Fma {Fma.IsSupported} Avx512F {Avx512F.IsSupported} Vector512.IsHardwareAccelerated {Vector512.IsHardwareAccelerated} wide {Gemm.Wide} tile {Gemm.TileRows}x{Gemm.TileColumns}");
        int failures = 0;
        foreach (int m in new[] { 1, 3, 4, 5, 6, 7, 8, 9, 13, 17, 33, 64 })
        foreach (int n in new[] { 1, 15, 16, 17, 31, 32, 33, 65 })
        foreach (int k in new[] { 1, 7, 193, 400 })
            failures += CheckGemm(m, n, k);

        foreach (int batch in new[] { 1, 7, 64 })
        {
            using var one = Device.Cpu(1);
            using var two = Device.Cpu(2);
            using var a = new WideVae(one, 3);
            using var b = new WideVae(two, 3);
            var d = a.Architecture;
            var p = TestData.Parameters(d, 5);
            a.SetParameters(p);
            b.SetParameters(p);
            var x = TestData.Inputs(d, batch, 6);
            var eps = TestData.Noise(d, batch, 7);
            var labels = TestData.Labels(d, batch, 8);
            var ga = new float[d.ParameterCount];
            var gb = new float[d.ParameterCount];
            double la = a.ComputeGradients(x, labels, eps, ga);
            double lb = b.ComputeGradients(x, labels, eps, gb);
            if (la != lb) { failures++; Console.WriteLine($"FAIL batch {batch}: loss {la} with one thread, {lb} with two"); }
            for (int i = 0; i < ga.Length; i++)
                if (BitConverter.SingleToInt32Bits(ga[i]) != BitConverter.SingleToInt32Bits(gb[i]))
                {
                    failures++;
                    Console.WriteLine($"FAIL batch {batch}: gradient {i} is {ga[i]} with one thread, {gb[i]} with two");
                    break;
                }
        }
        Console.WriteLine(failures == 0 ? "all checks passed" : $"{failures} checks failed");
        return failures == 0 ? 0 : 1;
    }

    private static int CheckGemm(int m, int n, int k)
    {
        var rng = new Random(m * 7919 + n * 31 + k);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        int failures = 0;
        foreach (bool transposed in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        {
            var c = Enumerable.Range(0, m * n).Select(i => (float)(i % 5)).ToArray();
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0;
                for (int p = 0; p < k; p++) sum += (double)(transposed ? a[p * m + i] : a[i * k + p]) * b[p * n + j];
                expected[i * n + j] = sum;
            }
            fixed (float* pa = a, pb = b, pc = c)
            {
                if (transposed) Gemm.Block(0, m, 0, n, k, pa, 1, m, pb, n, pc, n, accumulate);
                else Gemm.Block(0, m, 0, n, k, pa, k, 1, pb, n, pc, n, accumulate);
            }
            for (int i = 0; i < m * n; i++)
                if (Math.Abs(expected[i] - c[i]) > 1e-4 * (1 + Math.Abs(expected[i])))
                {
                    failures++;
                    Console.WriteLine($"FAIL gemm m={m} n={n} k={k} transposed={transposed} accumulate={accumulate} at {i}: {c[i]} vs {expected[i]}");
                    break;
                }
        }
        return failures;
    }
}
