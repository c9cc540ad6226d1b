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
typedef uint vae_u32;
typedef ulong vae_u64;
typedef long vae_i64;
