using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Vae.Kernels.Cpu;

/// <summary>
/// Single-threaded matrix multiply on a block of the output: C[i, j] (+)= sum_k A(i, k) B[k, j] for i in
/// [i0, i1), j in [j0, j1). A is read through two strides so the same driver serves A, A^T and row slices;
/// B and C are row-major. Callers split the output into blocks across threads.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Depth of a K block: a 32-wide strip of B over this depth fills half the L1 data cache (192 on a 48 KiB L1, 128 on
    /// 32 KiB), so it stays there while the rows of A stream past it. Declared before <see cref="Wide"/>, whose
    /// measurement runs the driver. Blocking never changes a result: each element's products are added in the same
    /// order whatever the depth, the partial sum passing through C between blocks exactly.
    /// </summary>
    public static readonly int DepthBlock = Math.Clamp(CacheSizes.L1Data / 2 / (32 * sizeof(float)) / 8 * 8, 64, 384);

    /// <summary>
    /// Rows of A per block: a block of A (rows x <see cref="DepthBlock"/>) fills at most half the L2 cache, so it stays
    /// there while B's strips pass over it; a multiple of both tile heights (6 and 8).
    /// </summary>
    public static readonly int RowBlock = Math.Max(48, CacheSizes.L2 / 2 / (DepthBlock * sizeof(float)) / 24 * 24);

    /// <summary>
    /// Whether the 512-bit tiles run (AVX-512): 8 rows x 32 columns in 16 of the 32 zmm registers. Decided once per
    /// process by <see cref="MeasureWide"/> wherever the CPU has AVX-512F, whatever
    /// <see cref="Vector512.IsHardwareAccelerated"/> says: .NET reports false there on Intel parts that lower their
    /// clock under 512-bit work (Skylake-SP to Cascade Lake), yet the explicit zmm FMAs still run and, in a loop that
    /// is all FMA, usually win by more than the clock they cost. The measurement settles the cases where they do not.
    /// Both tile sets add each element's products in the same order with the same fused multiply-add, so the choice
    /// never changes a result.
    /// </summary>
    public static readonly bool Wide = Avx512F.IsSupported && MeasureWide();

    /// <summary>What the start-up measurement found: seconds for one block with the 512-bit and with the 256-bit tiles (0 when not measured).</summary>
    public static double WideSeconds { get; private set; }

    /// <inheritdoc cref="WideSeconds"/>
    public static double NarrowSeconds { get; private set; }

    /// <summary>Rows of C per register tile: 8 with the 512-bit tiles, else 6 (12 ymm accumulators of the 16 registers).</summary>
    public static readonly int TileRows = Wide ? 8 : 6;

    /// <summary>Columns of C per register tile: two vectors.</summary>
    public static readonly int TileColumns = Wide ? 32 : 16;

    /// <summary>
    /// Times one block of the training step's typical shape (64 rows of A, 128 columns of B, depth 192: the operands
    /// sit in L1/L2 as in the real calls) with each tile set, best of several alternating rounds, about 2 ms in all.
    /// Wide wins only when it is at least 5% faster, so noise on a part where the two tie keeps the narrow tiles.
    /// </summary>
    private static bool MeasureWide()
    {
        const int M = 64, N = 128, K = 192;
        float* a = (float*)NativeMemory.AlignedAlloc(M * K * sizeof(float), 64);
        float* b = (float*)NativeMemory.AlignedAlloc(K * N * sizeof(float), 64);
        float* c = (float*)NativeMemory.AlignedAlloc(M * N * sizeof(float), 64);
        try
        {
            for (int i = 0; i < M * K; i++) a[i] = (i % 7) * 0.25f - 0.5f;
            for (int i = 0; i < K * N; i++) b[i] = (i % 5) * 0.125f - 0.25f;
            double wide = double.MaxValue, narrow = double.MaxValue;
            for (int round = 0; round < 12; round++)
            {
                wide = Math.Min(wide, Time(true, a, b, c));
                narrow = Math.Min(narrow, Time(false, a, b, c));
            }
            WideSeconds = wide;
            NarrowSeconds = narrow;
            return wide < 0.95 * narrow;
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }

        static double Time(bool wide, float* a, float* b, float* c)
        {
            long start = Stopwatch.GetTimestamp();
            for (int rep = 0; rep < 8; rep++) Run(wide, 0, M, 0, N, K, a, K, 1, b, N, c, N, rep > 0);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(
        int i0, int i1, int j0, int j1, int k,
        float* a, int aRowStride, int aColStride,
        float* b, int ldb,
        float* c, int ldc,
        bool accumulate) => Run(Wide, i0, i1, j0, j1, k, a, aRowStride, aColStride, b, ldb, c, ldc, accumulate);

    /// <summary>
    /// The blocked driver (the Goto / BLIS loop order, without a packed A): K in blocks of <see cref="DepthBlock"/>, the
    /// rows in blocks of <see cref="RowBlock"/>, then one strip of B at a time; a 32-wide strip (two cache lines a row)
    /// is copied into a contiguous panel in the layout the micro-kernel reads when two or more row tiles will read it: the tile's loads
    /// then walk one stream instead of kc rows <paramref name="ldb"/> apart (no cache-set conflicts for power-of-two
    /// strides, no TLB misses for wide B). A is read in place through its two strides: each step's broadcasts touch one
    /// value per row, which the caches serve from the block kept in L2 (packing A's row tiles measured slower on
    /// every layer shape: see the README's "Blocking and packing").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void Run(
        bool wide, int i0, int i1, int j0, int j1, int k,
        float* a, int aRowStride, int aColStride,
        float* b, int ldb,
        float* c, int ldc,
        bool accumulate)
    {
        if (i0 >= i1 || j0 >= j1) return;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = i0; i < i1; i++) new Span<float>(c + (long)i * ldc + j0, j1 - j0).Clear();
            return;
        }

        float* panel = stackalloc float[DepthBlock * 32]; // uninitialised (SkipLocalsInit): only the wide tiles use it
        for (int k0 = 0; k0 < k; k0 += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, k - k0);
            bool add = accumulate || k0 > 0;
            float* aBlock = a + (long)k0 * aColStride;
            float* bBlock = b + (long)k0 * ldb;
            for (int r0 = i0; r0 < i1; r0 += RowBlock)
            {
                int r1 = Math.Min(i1, r0 + RowBlock);
                int j = j0;
                if (wide)
                {
                    bool pack = r1 - r0 >= 16 && ldb != 32;
                    for (; j + 32 <= j1; j += 32)
                    {
                        float* strip = bBlock + j;
                        int ld = ldb;
                        if (pack)
                        {
                            PackStrip(strip, ldb, kc, panel);
                            strip = panel;
                            ld = 32;
                        }
                        int i = r0;
                        for (; i + 8 <= r1; i += 8)
                            Tile8x32(kc, aBlock + (long)i * aRowStride, aRowStride, aColStride, strip, ld, c + (long)i * ldc + j, ldc, add);
                        for (; i < r1; i++)
                            Tile1x32(kc, aBlock + (long)i * aRowStride, aColStride, strip, ld, c + (long)i * ldc + j, add);
                    }
                }
                // The 16-wide strips are read in place: a strip row is one cache line, which the prefetcher streams as
                // well as a panel, and copying it measured slower (AVX2-only epochs, 5 of 6 alternating pairs).
                for (; j + 16 <= j1; j += 16)
                {
                    int i = r0;
                    for (; i + 6 <= r1; i += 6)
                        Tile6x16(kc, aBlock + (long)i * aRowStride, aRowStride, aColStride, bBlock + j, ldb, c + (long)i * ldc + j, ldc, add);
                    for (; i + 4 <= r1; i += 4)
                        Tile4x16(kc, aBlock + (long)i * aRowStride, aRowStride, aColStride, bBlock + j, ldb, c + (long)i * ldc + j, ldc, add);
                    for (; i < r1; i++)
                        Tile1x16(kc, aBlock + (long)i * aRowStride, aColStride, bBlock + j, ldb, c + (long)i * ldc + j, add);
                }
                if (j < j1) EdgeColumns(r0, r1, j, j1, kc, aBlock, aRowStride, aColStride, bBlock, ldb, c, ldc, add);
            }
        }
    }

    /// <summary>panel[p, 0 .. 32) = strip[p * ldb + 0 .. 32) for p &lt; kc: one 32-wide strip of B made contiguous.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackStrip(float* strip, int ldb, int kc, float* panel)
    {
        for (int p = 0; p < kc; p++, strip += ldb, panel += 32)
        {
            Vector256.Store(Vector256.Load(strip), panel);
            Vector256.Store(Vector256.Load(strip + 8), panel + 8);
            Vector256.Store(Vector256.Load(strip + 16), panel + 16);
            Vector256.Store(Vector256.Load(strip + 24), panel + 24);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);

    /// <summary>C[8, 32] (+)= A[8, kc] B[kc, 32]: 16 accumulators, two loads of B and eight broadcasts of A per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x32(int kc, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc, bool add)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (add)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc); c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc); c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc); c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc); c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc); c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc); c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }

        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            float* ap = a + (long)p * aCol;
            var x = Vector512.Create(ap[0]);
            c00 = MulAdd(x, b0, c00); c01 = MulAdd(x, b1, c01);
            x = Vector512.Create(ap[aRow]);
            c10 = MulAdd(x, b0, c10); c11 = MulAdd(x, b1, c11);
            x = Vector512.Create(ap[2 * aRow]);
            c20 = MulAdd(x, b0, c20); c21 = MulAdd(x, b1, c21);
            x = Vector512.Create(ap[3 * aRow]);
            c30 = MulAdd(x, b0, c30); c31 = MulAdd(x, b1, c31);
            x = Vector512.Create(ap[4 * aRow]);
            c40 = MulAdd(x, b0, c40); c41 = MulAdd(x, b1, c41);
            x = Vector512.Create(ap[5 * aRow]);
            c50 = MulAdd(x, b0, c50); c51 = MulAdd(x, b1, c51);
            x = Vector512.Create(ap[6 * aRow]);
            c60 = MulAdd(x, b0, c60); c61 = MulAdd(x, b1, c61);
            x = Vector512.Create(ap[7 * aRow]);
            c70 = MulAdd(x, b0, c70); c71 = MulAdd(x, b1, c71);
            b += ldb;
        }

        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc); c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc); c71.Store(c + 7 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x32(int kc, float* a, int aCol, float* b, int ldb, float* c, bool add)
    {
        var c0 = add ? Vector512.Load(c) : Vector512<float>.Zero;
        var c1 = add ? Vector512.Load(c + 16) : Vector512<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var x = Vector512.Create(a[(long)p * aCol]);
            c0 = MulAdd(x, Vector512.Load(b), c0);
            c1 = MulAdd(x, Vector512.Load(b + 16), c1);
            b += ldb;
        }
        c0.Store(c);
        c1.Store(c + 16);
    }

    /// <summary>
    /// C[6, 16] (+)= A[6, kc] B[kc, 16] in 256-bit registers: 12 accumulators, two loads of B and six broadcasts of A
    /// per step fill 15 of the 16 ymm registers an AVX2 machine has, a third fewer loads per multiply-add than 4 x 16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x16(int kc, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc, bool add)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (add)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc); c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc); c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        }

        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            float* ap = a + (long)p * aCol;
            var x = Vector256.Create(ap[0]);
            c00 = MulAdd(x, b0, c00); c01 = MulAdd(x, b1, c01);
            x = Vector256.Create(ap[aRow]);
            c10 = MulAdd(x, b0, c10); c11 = MulAdd(x, b1, c11);
            x = Vector256.Create(ap[2 * aRow]);
            c20 = MulAdd(x, b0, c20); c21 = MulAdd(x, b1, c21);
            x = Vector256.Create(ap[3 * aRow]);
            c30 = MulAdd(x, b0, c30); c31 = MulAdd(x, b1, c31);
            x = Vector256.Create(ap[4 * aRow]);
            c40 = MulAdd(x, b0, c40); c41 = MulAdd(x, b1, c41);
            x = Vector256.Create(ap[5 * aRow]);
            c50 = MulAdd(x, b0, c50); c51 = MulAdd(x, b1, c51);
            b += ldb;
        }

        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc); c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc); c51.Store(c + 5 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x16(int kc, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc, bool add)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (add)
        {
            c00 = Vector256.Load(c); c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc); c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc); c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc); c31 = Vector256.Load(c + 3 * ldc + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector256<float>.Zero;
        }

        float* a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            long o = (long)p * aCol;
            var x = Vector256.Create(a0[o]);
            c00 = MulAdd(x, b0, c00); c01 = MulAdd(x, b1, c01);
            x = Vector256.Create(a1[o]);
            c10 = MulAdd(x, b0, c10); c11 = MulAdd(x, b1, c11);
            x = Vector256.Create(a2[o]);
            c20 = MulAdd(x, b0, c20); c21 = MulAdd(x, b1, c21);
            x = Vector256.Create(a3[o]);
            c30 = MulAdd(x, b0, c30); c31 = MulAdd(x, b1, c31);
            b += ldb;
        }

        c00.Store(c); c01.Store(c + 8);
        c10.Store(c + ldc); c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc); c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc); c31.Store(c + 3 * ldc + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1x16(int kc, float* a, int aCol, float* b, int ldb, float* c, bool add)
    {
        var c0 = add ? Vector256.Load(c) : Vector256<float>.Zero;
        var c1 = add ? Vector256.Load(c + 8) : Vector256<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            var x = Vector256.Create(a[(long)p * aCol]);
            c0 = MulAdd(x, Vector256.Load(b), c0);
            c1 = MulAdd(x, Vector256.Load(b + 8), c1);
            b += ldb;
        }
        c0.Store(c);
        c1.Store(c + 8);
    }

    /// <summary>
    /// The fewer than 16 columns right of the last full tile: B's strip is copied into a zero-padded 16-wide panel so
    /// the vector tiles do the work (narrow layers such as the 2 x 20 heads would otherwise run scalar), and each tile
    /// of C goes through a small buffer so only the real columns are written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void EdgeColumns(int i0, int i1, int j0, int j1, int kc, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc, bool add)
    {
        int width = j1 - j0;
        float* panel = stackalloc float[DepthBlock * 16];
        for (int p = 0; p < kc; p++)
        {
            float* row = panel + p * 16;
            for (int q = 0; q < 16; q++) row[q] = q < width ? b[(long)p * ldb + j0 + q] : 0f;
        }
        float* tile = stackalloc float[4 * 16];
        int i = i0;
        for (; i < i1; i += 4)
        {
            int rows = Math.Min(4, i1 - i);
            for (int r = 0; r < 4; r++)
            for (int q = 0; q < 16; q++)
                tile[r * 16 + q] = add && r < rows && q < width ? c[(long)(i + r) * ldc + j0 + q] : 0f;
            if (rows == 4)
                Tile4x16(kc, a + (long)i * aRow, aRow, aCol, panel, 16, tile, 16, add);
            else
                for (int r = 0; r < rows; r++) Tile1x16(kc, a + (long)(i + r) * aRow, aCol, panel, 16, tile + r * 16, add);
            for (int r = 0; r < rows; r++)
            for (int q = 0; q < width; q++)
                c[(long)(i + r) * ldc + j0 + q] = tile[r * 16 + q];
        }
    }
}
