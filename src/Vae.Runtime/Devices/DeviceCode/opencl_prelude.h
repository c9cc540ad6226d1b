/* OpenCL C spellings of the names the device library and the generated kernels use. */
#define VAE_KERNEL __kernel
#define VAE_GLOBAL __global
#define VAE_FN inline
#define VAE_GID ((vae_i64)get_global_id(0))
#define VAE_EXP exp
#define VAE_LOG log
#define VAE_TANH tanh
#define VAE_SQRT sqrt
#define VAE_SIN sin
#define VAE_COS cos
#define VAE_FMAX fmax
#define VAE_FABS fabs
#define VAE_FMA fma
#define VAE_INFINITY INFINITY
/*
 * Work-group local memory (an array's storage, and a pointer's address space) and its barrier, for the work-group
 * variant of the GEMM kernels (compiled with -DVAE_WORK_GROUP_TILES on a GPU).
 */
#define VAE_LOCAL_ARRAY __local
#define VAE_LOCAL __local
#define VAE_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
typedef uint vae_u32;
typedef ulong vae_u64;
typedef long vae_i64;

/*
 * Eight floats that the GEMM-shaped kernels treat as one value, so a work item's inner loop runs on vector registers
 * (PoCL executes a kernel's loops one work item at a time, so vectors across work items do not form there). vload8 and
 * vstore8 need only float alignment.
 */
typedef float8 vae_f8;
#define vae_load8(p) vload8(0, (p))
#define vae_store8(v, p) vstore8((v), 0, (p))
#define vae_zero8() ((float8)(0.0f))
/* c + a * b, lane by lane (a one float or eight), with the same contraction as the scalar c += a * b. */
#define vae_madd8(a, b, c) ((c) + (a) * (b))
/*
 * Lane j is p[at + j stride] for j in [lo, hi) and zero elsewhere: eight positions of a row of an image, the lanes
 * outside the image zero. Only the addresses of the lanes in [lo, hi) are read (one vector load where that is all
 * eight, two and a shuffle for stride 2).
 */
inline float8 vae_gather8(__global const float* p, int at, int stride, int lo, int hi)
{
    if (lo <= 0 && hi >= 8)
    {
        if (stride == 1) return vload8(0, p + at);
        /* the even lanes of p[at .. at + 14], from two loads that read nothing past at + 14 */
        if (stride == 2) return shuffle2(vload8(0, p + at), vload8(0, p + at + 7), (uint8)(0, 2, 4, 6, 9, 11, 13, 15));
        return (float8)(p[at], p[at + stride], p[at + 2 * stride], p[at + 3 * stride], p[at + 4 * stride], p[at + 5 * stride], p[at + 6 * stride], p[at + 7 * stride]);
    }
    return (float8)(lo <= 0 && 0 < hi ? p[at] : 0.0f, lo <= 1 && 1 < hi ? p[at + stride] : 0.0f,
        lo <= 2 && 2 < hi ? p[at + 2 * stride] : 0.0f, lo <= 3 && 3 < hi ? p[at + 3 * stride] : 0.0f,
        lo <= 4 && 4 < hi ? p[at + 4 * stride] : 0.0f, lo <= 5 && 5 < hi ? p[at + 5 * stride] : 0.0f,
        lo <= 6 && 6 < hi ? p[at + 6 * stride] : 0.0f, lo <= 7 && 7 < hi ? p[at + 7 * stride] : 0.0f);
}
/* The eight lanes summed pairwise, in the same order on both dialects. */
inline float vae_hsum8(float8 a) { return ((a.s0 + a.s1) + (a.s2 + a.s3)) + ((a.s4 + a.s5) + (a.s6 + a.s7)); }
/*
 * The Bernoulli likelihood on eight logits l with targets x: returns softplus(l) - x l per lane and writes
 * sigmoid(l) - x to *g, each lane computed with the same operations as the scalar loop, so vector exp and log run.
 */
inline float8 vae_bernoulli8(float8 l, float8 x, float8* g)
{
    float8 e = exp(-fabs(l));
    *g = select(e / (1.0f + e), 1.0f / (1.0f + e), isgreaterequal(l, (float8)(0.0f))) - x;
    return fmax(l, 0.0f) - x * l + log(1.0f + e);
}
/*
 * The learned-variance Gaussian on eight columns: mean m, log variance lv, target x. Returns lv + (x - m)^2 exp(-lv) per
 * lane and writes the gradients -(x - m) exp(-lv) and (1 - (x - m)^2 exp(-lv)) / 2, with the scalar loop's operations.
 */
inline float8 vae_gaussian_lv8(float8 m, float8 lv, float8 x, float8* g_mean, float8* g_logvar)
{
    float8 diff = x - m;
    float8 precision = exp(-lv);
    *g_mean = -(diff * precision);
    *g_logvar = 0.5f * (1.0f - diff * diff * precision);
    return lv + diff * diff * precision;
}
/*
 * A VQ-VAE's exact squared distance sum over d of ((double)z[d] - (double)e[d])^2 in ascending d, with contraction off, so
 * every target rounds each operation as the CPU's VectorQuantizer.ExactDistance does and chooses the same codes. Only
 * where the device has doubles (cl_khr_fp64); a VQ-VAE's kernels do not compile elsewhere.
 */
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define VAE_HAS_DOUBLE 1
#pragma OPENCL FP_CONTRACT OFF
inline double vae_exact_distance(__global const float* z, __global const float* e, int dim)
{
    double s = 0.0;
    for (int d = 0; d < dim; d++)
    {
        double t = (double)z[d] - (double)e[d];
        s = s + t * t;
    }
    return s;
}
#pragma OPENCL FP_CONTRACT ON
#endif
