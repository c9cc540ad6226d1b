using Vae.Kernels.Cpu;
using Xunit;

namespace Vae.Runtime.Tests.Kernels;

/// <summary>The GEMM driver against naive loops over every small size and all three operand layouts it serves.</summary>
public unsafe class GemmTests
{
    public static IEnumerable<object[]> Sizes()
    {
        int[] sizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 129];
        foreach (int m in sizes)
        foreach (int n in new[] { 1, 3, 15, 16, 17, 33, 65 })
            yield return [m, n, (m * 7 + n) % 300 + 1];
        yield return [4, 16, 257];
        yield return [5, 17, 600];
        yield return [0, 0, 0];
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Block_matches_naive_for_plain_and_transposed_A(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var a = Enumerable.Range(0, Math.Max(1, m * k)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, Math.Max(1, k * n)).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        foreach (bool transposed in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        {
            var c = Enumerable.Range(0, Math.Max(1, m * n)).Select(i => (float)i).ToArray();
            var expected = (float[])c.Clone();
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0;
                for (int p = 0; p < k; p++) sum += (double)(transposed ? a[p * m + i] : a[i * k + p]) * b[p * n + j];
                expected[i * n + j] = (float)sum;
            }
            fixed (float* pa = a, pb = b, pc = c)
            {
                if (transposed) Gemm.Block(0, m, 0, n, k, pa, 1, m, pb, n, pc, n, accumulate);
                else Gemm.Block(0, m, 0, n, k, pa, k, 1, pb, n, pc, n, accumulate);
            }
            for (int i = 0; i < m * n; i++)
                Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"m={m} n={n} k={k} t={transposed} acc={accumulate} at {i}: {c[i]} vs {expected[i]}");
        }
    }

    /// <summary>
    /// Blocking and packing never change a bit: a block of many rows (B's strips packed, rows past RowBlock, depth past
    /// DepthBlock) gives exactly what the same rows give one at a time (never packed), plain and transposed A, with B's
    /// row stride wider than the product's columns and equal to a strip's width.
    /// </summary>
    [Theory]
    [InlineData(64, 100, 70, 100)]
    [InlineData(64, 32, 500, 32)]
    [InlineData(30, 16, 200, 16)]
    [InlineData(13, 48, 1000, 1024)]
    [InlineData(700, 65, 300, 80)]
    public void Packed_and_blocked_products_equal_the_row_by_row_products_bit_for_bit(int m, int n, int k, int ldb)
    {
        Assert.True(Gemm.RowBlock % 24 == 0 && Gemm.DepthBlock % 8 == 0, $"RowBlock {Gemm.RowBlock}, DepthBlock {Gemm.DepthBlock}");
        var rng = new Random(m + n + k);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, k * ldb).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        foreach (bool transposed in new[] { false, true })
        {
            var whole = new float[m * n];
            var byRow = new float[m * n];
            int rowStride = transposed ? 1 : k, colStride = transposed ? m : 1;
            fixed (float* pa = a, pb = b, pw = whole, pr = byRow)
            {
                Gemm.Block(0, m, 0, n, k, pa, rowStride, colStride, pb, ldb, pw, n, accumulate: false);
                for (int i = 0; i < m; i++) Gemm.Block(i, i + 1, 0, n, k, pa, rowStride, colStride, pb, ldb, pr, n, accumulate: false);
            }
            for (int i = 0; i < whole.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(whole[i]) == BitConverter.SingleToInt32Bits(byRow[i]), $"transposed {transposed}: C[{i / n}, {i % n}] {whole[i]:R} vs {byRow[i]:R}");
        }
    }

    [Theory]
    [InlineData("48K", 48 * 1024)]
    [InlineData("1024K", 1024 * 1024)]
    [InlineData("2M", 2 * 1024 * 1024)]
    [InlineData("32768", 32768)]
    [InlineData("", 0)]
    [InlineData("K", 0)]
    [InlineData("-4K", 0)]
    [InlineData("9999999M", 0)]
    public void Cache_sizes_parse_as_linux_writes_them(string text, int bytes)
    {
        Assert.Equal(bytes, CacheSizes.ParseSize(text));
        Assert.True(CacheSizes.L1Data >= 16 * 1024 && CacheSizes.L2 >= 128 * 1024, CacheSizes.Describe());
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 1)]
    [InlineData(8, 8, 1)]
    [InlineData(9, 15, 2)]
    [InlineData(33, 65, 2)]
    [InlineData(64, 129, 3)]
    [InlineData(400, 784, 2)]
    [InlineData(784, 400, 2)]
    [InlineData(40, 400, 2)]
    public void Transpose_is_exact_for_every_shape_and_thread_count(int rows, int cols, int threads)
    {
        var src = Enumerable.Range(0, rows * cols).Select(i => (float)i).ToArray();
        var dst = new float[rows * cols];
        using var team = new CpuThreads(threads);
        fixed (float* s = src, d = dst) Linear.Transpose(team, s, rows, cols, d);
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            Assert.Equal(src[r * cols + c], dst[c * rows + r]);
    }

    [Theory]
    [InlineData(1, 5, 3)]
    [InlineData(7, 33, 17)]
    [InlineData(130, 129, 65)]
    public void Linear_forward_and_backward_on_several_threads_match_one_thread(int rows, int inF, int outF)
    {
        var rng = new Random(rows + inF + outF);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var x = Random(rows * inF);
        var w = Random(outF * inF);
        var bias = Random(outF);
        var dOut = Random(rows * outF);
        (float[] Out, float[] Dw, float[] Db, float[] Dx) Run(int threads)
        {
            using var team = new CpuThreads(threads);
            var pre = new float[rows * outF];
            var output = new float[rows * outF];
            var packed = new float[inF * outF];
            var dw = new float[outF * inF];
            var db = new float[outF];
            var dx = new float[rows * inF];
            var d = (float[])dOut.Clone();
            fixed (float* px = x, pw = w, pb = bias, ppre = pre, pout = output, ppk = packed, pdw = dw, pdb = db, pdx = dx, pd = d)
            {
                Linear.Forward<TanhActivation>(team, rows, inF, outF, new Floats(px), new Floats(pw), new Floats(pb), new Floats(ppre), new Floats(pout), new Floats(ppk));
                Linear.Backward<TanhActivation>(team, rows, inF, outF, new Floats(pd), new Floats(ppre), new Floats(pout), new Floats(px), new Floats(pw), new Floats(pdw), new Floats(pdb), new Floats(pdx), new Floats(pd));
            }
            return (output, dw, db, dx);
        }
        var one = Run(1);
        var three = Run(3);
        Assert.Equal(one.Out, three.Out);
        Assert.Equal(one.Dw, three.Dw);
        Assert.Equal(one.Db, three.Db);
        Assert.Equal(one.Dx, three.Dx);
    }
}
