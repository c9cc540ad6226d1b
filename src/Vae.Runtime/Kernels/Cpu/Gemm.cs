using System.Runtime.CompilerServices;
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
    /// <summary>Rows of C per register tile.</summary>
    public const int TileRows = 4;
    /// <summary>Columns of C per register tile (two 8-float vectors).</summary>
    public const int TileColumns = 16;
    /// <summary>Depth of a K block, chosen so a 16-column strip of B stays in L1.</summary>
    public const int DepthBlock = 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Block(
        int i0, int i1, int j0, int j1, int k,
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

        for (int k0 = 0; k0 < k; k0 += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, k - k0);
            bool add = accumulate || k0 > 0;
            float* aBlock = a + (long)k0 * aColStride;
            float* bBlock = b + (long)k0 * ldb;
            int j = j0;
            for (; j + TileColumns <= j1; j += TileColumns)
            {
                int i = i0;
                for (; i + TileRows <= i1; i += TileRows)
                    Tile4x16(kc, aBlock + (long)i * aRowStride, aRowStride, aColStride, bBlock + j, ldb, c + (long)i * ldc + j, ldc, add);
                for (; i < i1; i++)
                    Tile1x16(kc, aBlock + (long)i * aRowStride, aColStride, bBlock + j, ldb, c + (long)i * ldc + j, add);
            }
            if (j < j1)
                for (int i = i0; i < i1; i++)
                    Edge(kc, aBlock + (long)i * aRowStride, aColStride, bBlock, ldb, c + (long)i * ldc, j, j1, add);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

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

    /// <summary>The columns right of the last full tile, for one row of C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Edge(int kc, float* a, int aCol, float* b, int ldb, float* cRow, int j0, int j1, bool add)
    {
        for (int j = j0; j < j1; j++)
        {
            float sum = add ? cRow[j] : 0f;
            float* bj = b + j;
            for (int p = 0; p < kc; p++) sum = MathF.FusedMultiplyAdd(a[(long)p * aCol], bj[(long)p * ldb], sum);
            cRow[j] = sum;
        }
    }
}
