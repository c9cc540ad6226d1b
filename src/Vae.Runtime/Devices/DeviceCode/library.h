/*
 * The device library: code that is the same for every model, compiled in front of each model's generated kernels
 * after the dialect prelude (opencl_prelude.h or cuda_prelude.h). Sizes come in as arguments, so this file compiles
 * on its own; a test builds it alone for both dialects.
 */

/* 0.5 * log(2 pi), the Gaussian's normalising constant per dimension. */
#define VAE_HALF_LOG_TWO_PI 0.9189385332f

/* 1 / (1 + exp(-a)) without overflow in either tail. */
VAE_FN float vae_logistic(float a)
{
    float e = VAE_EXP(-VAE_FABS(a));
    return a >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* (1 + tanh u) / 2 from e = exp(-2|u|): exact in both tails, where tanh may stop one ulp short of +-1. */
VAE_FN float vae_half_one_plus_tanh(float u)
{
    float e = VAE_EXP(-2.0f * VAE_FABS(u));
    return u >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* 1 - tanh(u)^2 = 4e / (1 + e)^2 with e = exp(-2|u|): 1 - t*t would cancel to 1e-7 where the truth is 1e-70. */
VAE_FN float vae_sech2(float u)
{
    float e = VAE_EXP(-2.0f * VAE_FABS(u));
    return 4.0f * e / ((1.0f + e) * (1.0f + e));
}

/* start + the sum over j in [k, n) of x[j] w[j], in order: the part of a dot product that eight-lane vectors leave over. */
VAE_FN float vae_dot_tail(float start, VAE_GLOBAL const float* x, VAE_GLOBAL const float* w, int k, int n)
{
    for (; k < n; k++) start += x[k] * w[k];
    return start;
}

#ifdef VAE_WORK_GROUP_TILES
/*
 * The work-group variant of the GEMM kernels, for GPUs (the runtime defines VAE_WORK_GROUP_TILES there; a CPU device
 * runs the generated register tiles instead). C[m, n] = sum over k of A(m, k) B(k, n), with A(m, k) = a[m a_m + k a_k]
 * and B(k, n) = b[n b_n + k b_k]: a work-group of VAE_GROUP_SIZE work items owns the VAE_GROUP_BLOCK x VAE_GROUP_BLOCK
 * block of C at (m0, n0) and walks k VAE_GROUP_DEPTH at a time, staging both operands' slices in local memory; each
 * work item keeps VAE_GROUP_TILE x VAE_GROUP_TILE outputs in registers, strided by VAE_GROUP_SIDE along both axes so
 * neighbouring work items read neighbouring local values and write neighbouring outputs. Every output adds its
 * products in ascending k. Every work item of the group must call it (it holds barriers), so launches cover whole
 * work-groups.
 */
#define VAE_GROUP_SIDE 16
#define VAE_GROUP_TILE 4
#define VAE_GROUP_BLOCK 64
#define VAE_GROUP_DEPTH 16
#define VAE_GROUP_SIZE 256
/* One operand's stage: VAE_GROUP_DEPTH rows of k, VAE_GROUP_BLOCK values each, padded by one so k-contiguous stores spread over the banks. */
#define VAE_GROUP_STAGE (VAE_GROUP_DEPTH * (VAE_GROUP_BLOCK + 1))

/* Stages p(i0 + i, k0 + kk) for the block's i and the stage's kk (zero outside the extents); consecutive work items take consecutive addresses. */
VAE_FN void vae_group_stage(VAE_LOCAL float* s, VAE_GLOBAL const float* p, vae_i64 s_i, vae_i64 s_k, int i0, int extent, int k0, int depth, int lid)
{
    for (int j = 0; j < VAE_GROUP_BLOCK * VAE_GROUP_DEPTH / VAE_GROUP_SIZE; j++)
    {
        int e = lid + VAE_GROUP_SIZE * j;
        int kk = s_k == 1 ? e % VAE_GROUP_DEPTH : e / VAE_GROUP_BLOCK;
        int i = s_k == 1 ? e / VAE_GROUP_DEPTH : e % VAE_GROUP_BLOCK;
        s[kk * (VAE_GROUP_BLOCK + 1) + i] = i0 + i < extent && k0 + kk < depth ? p[(vae_i64)(i0 + i) * s_i + (vae_i64)(k0 + kk) * s_k] : 0.0f;
    }
}

/* The work item's tile of the block at (m0, n0) into c[VAE_GROUP_TILE t + u]: output (m0 + lid / VAE_GROUP_SIDE + VAE_GROUP_SIDE t, n0 + lid % VAE_GROUP_SIDE + VAE_GROUP_SIDE u). */
VAE_FN void vae_group_gemm(VAE_GLOBAL const float* a, vae_i64 a_m, vae_i64 a_k, VAE_GLOBAL const float* b, vae_i64 b_n, vae_i64 b_k,
    int m, int n, int k, int m0, int n0, int lid, VAE_LOCAL float* as, VAE_LOCAL float* bs, float* c)
{
    int tm = lid / VAE_GROUP_SIDE, tn = lid % VAE_GROUP_SIDE;
    /* Named accumulators: a compiler keeps them in registers whatever it does with small arrays. */
    float c00 = 0.0f, c01 = 0.0f, c02 = 0.0f, c03 = 0.0f, c10 = 0.0f, c11 = 0.0f, c12 = 0.0f, c13 = 0.0f, c20 = 0.0f, c21 = 0.0f, c22 = 0.0f, c23 = 0.0f, c30 = 0.0f, c31 = 0.0f, c32 = 0.0f, c33 = 0.0f;
    for (int k0 = 0; k0 < k; k0 += VAE_GROUP_DEPTH)
    {
        vae_group_stage(as, a, a_m, a_k, m0, m, k0, k, lid);
        vae_group_stage(bs, b, b_n, b_k, n0, n, k0, k, lid);
        VAE_BARRIER();
        for (int kk = 0; kk < VAE_GROUP_DEPTH; kk++)
        {
            VAE_LOCAL const float* ra = as + kk * (VAE_GROUP_BLOCK + 1) + tm;
            VAE_LOCAL const float* rb = bs + kk * (VAE_GROUP_BLOCK + 1) + tn;
            float a0 = ra[0], a1 = ra[VAE_GROUP_SIDE], a2 = ra[2 * VAE_GROUP_SIDE], a3 = ra[3 * VAE_GROUP_SIDE];
            float b0 = rb[0], b1 = rb[VAE_GROUP_SIDE], b2 = rb[2 * VAE_GROUP_SIDE], b3 = rb[3 * VAE_GROUP_SIDE];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        }
        VAE_BARRIER();
    }
    c[0] = c00; c[1] = c01; c[2] = c02; c[3] = c03;
    c[4] = c10; c[5] = c11; c[6] = c12; c[7] = c13;
    c[8] = c20; c[9] = c21; c[10] = c22; c[11] = c23;
    c[12] = c30; c[13] = c31; c[14] = c32; c[15] = c33;
}
#endif

/* Philox4x32-10 (Salmon et al. 2011): counter (c0..c3), key (k0, k1). */
VAE_FN void vae_philox4x32_10(vae_u32 c[4], vae_u32 k0, vae_u32 k1)
{
    for (int round = 0; round < 10; round++)
    {
        vae_u64 p0 = (vae_u64)0xD2511F53u * c[0];
        vae_u64 p1 = (vae_u64)0xCD9E8D57u * c[2];
        vae_u32 hi0 = (vae_u32)(p0 >> 32), lo0 = (vae_u32)p0;
        vae_u32 hi1 = (vae_u32)(p1 >> 32), lo1 = (vae_u32)p1;
        vae_u32 n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* The Philox counter words of a VQ-VAE's draws: the codebook's initial rows ("INIT") and dead-code restarts ("RSTR"), as the CPU's VectorQuantizer. */
#define VAE_VQ_INITIALIZE_STREAM 0x494E4954u
#define VAE_VQ_RESTART_STREAM 0x52535452u

/* The 64 bits (X0 << 32 | X1) of Philox4x32-10 at counter (c0, c1, c2, 0), key (k0, k1): a VQ-VAE's row draws. */
VAE_FN vae_u64 vae_philox_wide(vae_u32 c0, vae_u32 c1, vae_u32 c2, vae_u32 k0, vae_u32 k1)
{
    vae_u32 c[4] = { c0, c1, c2, 0u };
    vae_philox4x32_10(c, k0, k1);
    return ((vae_u64)c[0] << 32) | c[1];
}

/* A uniform in (0, 1] from the top 24 bits, then Box-Muller: the same arithmetic as the runtime's Philox.Normal. */
VAE_FN float vae_uniform24(vae_u32 r) { return ((float)(r >> 8) + 0.5f) * (1.0f / 16777216.0f); }

/*
 * eps [examples, samples, latent] of standard normals keyed by (seed, step, first_example + example, sample, latent
 * index): one work item per (example, sample, group of four latent indices). Keying by the global example index means
 * a batch split across processes draws what one process would.
 */
VAE_KERNEL void vae_draw_noise(int n, VAE_GLOBAL float* eps, vae_u32 seed_lo, vae_u32 seed_hi, vae_u32 step, int first_example,
                               int latent, int samples)
{
    vae_i64 gid = VAE_GID;
    if (gid >= n) return;
    int groups = (latent + 3) / 4;
    int group = (int)(gid % groups);
    int row = (int)(gid / groups);
    vae_u32 c[4] = { (vae_u32)group, (vae_u32)(row % samples), (vae_u32)(first_example + row / samples), step };
    vae_philox4x32_10(c, seed_lo, seed_hi);
    float r0 = VAE_SQRT(-2.0f * VAE_LOG(vae_uniform24(c[0])));
    float r1 = VAE_SQRT(-2.0f * VAE_LOG(vae_uniform24(c[2])));
    float a0 = 6.2831855f * vae_uniform24(c[1]);
    float a1 = 6.2831855f * vae_uniform24(c[3]);
    float normal[4] = { r0 * VAE_COS(a0), r0 * VAE_SIN(a0), r1 * VAE_COS(a1), r1 * VAE_SIN(a1) };
    for (int k = 0; k < 4 && group * 4 + k < latent; k++) eps[(vae_i64)row * latent + group * 4 + k] = normal[k];
}

/* Adam over the flat parameter buffer, as torch.optim.Adam (step_size = lr / (1 - beta1^t), root = 1 / sqrt(1 - beta2^t)). */
VAE_KERNEL void vae_adam(int n, VAE_GLOBAL float* p, VAE_GLOBAL const float* g, VAE_GLOBAL float* m, VAE_GLOBAL float* v,
                         float step_size, float root, float beta1, float beta2, float epsilon, float weight_decay)
{
    vae_i64 i = VAE_GID;
    if (i >= n) return;
    float gi = g[i] + weight_decay * p[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * mi / (VAE_SQRT(vi) * root + epsilon);
}

/* SGD with optional momentum, as torch.optim.SGD. */
VAE_KERNEL void vae_sgd(int n, VAE_GLOBAL float* p, VAE_GLOBAL const float* g, VAE_GLOBAL float* buffer, float lr, float momentum,
                        float weight_decay, int first_step, int has_momentum)
{
    vae_i64 i = VAE_GID;
    if (i >= n) return;
    float gi = g[i] + weight_decay * p[i];
    if (has_momentum)
    {
        gi = first_step ? gi : momentum * buffer[i] + gi;
        buffer[i] = gi;
    }
    p[i] -= lr * gi;
}

/* x *= factor (gradient clipping). */
VAE_KERNEL void vae_scale(int n, VAE_GLOBAL float* x, float factor)
{
    vae_i64 i = VAE_GID;
    if (i >= n) return;
    x[i] *= factor;
}
