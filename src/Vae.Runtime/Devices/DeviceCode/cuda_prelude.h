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
typedef unsigned int vae_u32;
typedef unsigned long long vae_u64;
typedef long long vae_i64;
