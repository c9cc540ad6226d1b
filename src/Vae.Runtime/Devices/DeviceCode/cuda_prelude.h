/* CUDA C spellings of the names the device library and the generated kernels use (compiled by NVRTC). */
#define VAE_KERNEL extern "C" __global__
#define VAE_GLOBAL
#define VAE_FN static __device__ __forceinline__
#define VAE_GID ((vae_i64)blockIdx.x * blockDim.x + threadIdx.x)
#define VAE_EXP expf
#define VAE_LOG logf
#define VAE_TANH tanhf
#define VAE_SQRT sqrtf
#define VAE_SIN sinf
#define VAE_COS cosf
#define VAE_FMAX fmaxf
#define VAE_FABS fabsf
#define VAE_FMA fmaf
#define VAE_INFINITY __int_as_float(0x7f800000)
/* A CUDA device is a GPU: the GEMM kernels stage their operands in shared memory, a block of 256 threads per tile block. */
#define VAE_WORK_GROUP_TILES 1
#define VAE_LOCAL_ARRAY __shared__
#define VAE_LOCAL
#define VAE_BARRIER() __syncthreads()
typedef unsigned int vae_u32;
typedef unsigned long long vae_u64;
typedef long long vae_i64;

/* Eight floats that the GEMM-shaped kernels treat as one value (OpenCL's float8; here a struct the compiler keeps in registers). */
typedef struct { float v[8]; } vae_f8;
static __device__ __forceinline__ vae_f8 vae_load8(const float* p) { vae_f8 r; for (int i = 0; i < 8; i++) r.v[i] = p[i]; return r; }
static __device__ __forceinline__ void vae_store8(vae_f8 a, float* p) { for (int i = 0; i < 8; i++) p[i] = a.v[i]; }
static __device__ __forceinline__ vae_f8 vae_zero8() { vae_f8 r; for (int i = 0; i < 8; i++) r.v[i] = 0.0f; return r; }
/* c + a * b, lane by lane, with a one float or eight. */
static __device__ __forceinline__ vae_f8 vae_madd8(vae_f8 a, vae_f8 b, vae_f8 c) { for (int i = 0; i < 8; i++) c.v[i] = c.v[i] + a.v[i] * b.v[i]; return c; }
static __device__ __forceinline__ vae_f8 vae_madd8(float a, vae_f8 b, vae_f8 c) { for (int i = 0; i < 8; i++) c.v[i] = c.v[i] + a * b.v[i]; return c; }
/* Lane j is p[at + j stride] for j in [lo, hi) and zero elsewhere (as OpenCL's); only those lanes' addresses are read. */
static __device__ __forceinline__ vae_f8 vae_gather8(const float* p, int at, int stride, int lo, int hi)
{
    vae_f8 r;
    for (int i = 0; i < 8; i++) r.v[i] = i >= lo && i < hi ? p[at + i * stride] : 0.0f;
    return r;
}
/* The eight lanes summed pairwise, in the same order on both dialects. */
static __device__ __forceinline__ float vae_hsum8(vae_f8 a) { return ((a.v[0] + a.v[1]) + (a.v[2] + a.v[3])) + ((a.v[4] + a.v[5]) + (a.v[6] + a.v[7])); }
/* The Bernoulli likelihood on eight logits: softplus(l) - x l per lane, and sigmoid(l) - x into *g (as OpenCL's). */
static __device__ __forceinline__ vae_f8 vae_bernoulli8(vae_f8 l, vae_f8 x, vae_f8* g)
{
    vae_f8 r;
    for (int i = 0; i < 8; i++)
    {
        float e = expf(-fabsf(l.v[i]));
        g->v[i] = (l.v[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e)) - x.v[i];
        r.v[i] = fmaxf(l.v[i], 0.0f) - x.v[i] * l.v[i] + logf(1.0f + e);
    }
    return r;
}
/* The learned-variance Gaussian on eight columns (as OpenCL's). */
static __device__ __forceinline__ vae_f8 vae_gaussian_lv8(vae_f8 m, vae_f8 lv, vae_f8 x, vae_f8* g_mean, vae_f8* g_logvar)
{
    vae_f8 r;
    for (int i = 0; i < 8; i++)
    {
        float diff = x.v[i] - m.v[i];
        float precision = expf(-lv.v[i]);
        g_mean->v[i] = -(diff * precision);
        g_logvar->v[i] = 0.5f * (1.0f - diff * diff * precision);
        r.v[i] = lv.v[i] + diff * diff * precision;
    }
    return r;
}
/*
 * A VQ-VAE's exact squared distance sum over d of ((double)z[d] - (double)e[d])^2 in ascending d, every operation rounded
 * on its own (the _rn intrinsics are never contracted into fused multiply-adds), as the CPU's VectorQuantizer.ExactDistance.
 */
#define VAE_HAS_DOUBLE 1
static __device__ __forceinline__ double vae_exact_distance(const float* z, const float* e, int dim)
{
    double s = 0.0;
    for (int d = 0; d < dim; d++)
    {
        double t = __dsub_rn((double)z[d], (double)e[d]);
        s = __dadd_rn(s, __dmul_rn(t, t));
    }
    return s;
}
