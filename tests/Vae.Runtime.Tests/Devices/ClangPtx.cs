using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Vae.Runtime.Tests.Devices;

/// <summary>
/// Compiles CUDA C++ to PTX with clang (no CUDA toolkit needed), so tests on machines without
/// NVRTC or a GPU can still check that generated CUDA source compiles and exports its kernels.
/// </summary>
/// <remarks>
/// clang in CUDA mode with -nocudainc/-nocudalib has none of what NVRTC provides built in
/// (<c>__global__</c>, threadIdx, expf, atomicAdd, ...), so <see cref="Prelude"/> supplies those
/// from clang's NVVM builtins. Only this class prepends it: the product compiles the very same
/// source with NVRTC, which has the real definitions, and the prelude is additionally guarded by
/// <c>__CUDACC_RTC__</c>. A <c>#line</c> directive after it keeps clang's error positions
/// relative to the caller's source. Set VAE_CLANG to use another clang than clang-14.
/// </remarks>
public static partial class ClangPtx
{
    private static readonly Lazy<bool> IsAvailable = new(Probe);

    /// <summary>The clang executable: $VAE_CLANG, else clang-14.</summary>
    public static string Compiler =>
        Environment.GetEnvironmentVariable("VAE_CLANG") is { Length: > 0 } clang ? clang : "clang-14";

    /// <summary>True when <see cref="Compiler"/> runs and can emit PTX.</summary>
    public static bool Available => IsAvailable.Value;

    /// <summary>
    /// Compiles <paramref name="cudaSource"/> for <paramref name="arch"/> (sm_XX, up to sm_86 with
    /// clang 14) and returns the PTX text.
    /// </summary>
    /// <exception cref="InvalidOperationException">clang failed; the message holds its stderr.</exception>
    public static string Compile(string cudaSource, string arch = "sm_80")
    {
        ArgumentNullException.ThrowIfNull(cudaSource);
        var directory = Directory.CreateTempSubdirectory("vae-clangptx-");
        try
        {
            var input = Path.Combine(directory.FullName, "kernel_with_prelude.cu");
            var output = Path.Combine(directory.FullName, "out.ptx");
            File.WriteAllText(input, Prelude + "\n#line 1 \"kernel.cu\"\n" + cudaSource);

            // Without a CUDA installation clang cannot infer the PTX ISA version, and the default
            // is too old for the *_sync warp intrinsics; sm_86 needs PTX 7.1, everything else 7.0.
            var ptxFeature = ArchNumber(arch) >= 86 ? "+ptx71" : "+ptx70";
            var (exitCode, stderr) = Run(
                "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
                "--cuda-gpu-arch=" + arch, "-Xclang", "-target-feature", "-Xclang", ptxFeature,
                "-O3", "-S", "-o", output, input);

            if (exitCode != 0 || !File.Exists(output))
                throw new InvalidOperationException($"{Compiler} could not compile the CUDA source for {arch} (exit code {exitCode}):{Environment.NewLine}{stderr}");
            return File.ReadAllText(output);
        }
        finally
        {
            try
            {
                directory.Delete(recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp directory is not worth failing a test over.
            }
        }
    }

    /// <summary>The names of the kernels a PTX module exports (its <c>.visible .entry</c> lines).</summary>
    public static string[] EntryPoints(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        return EntryPattern().Matches(ptx).Select(m => m.Groups[1].Value).ToArray();
    }

    [GeneratedRegex(@"^\s*\.visible\s+\.entry\s+([A-Za-z_$][\w$]*)\s*\(", RegexOptions.Multiline)]
    private static partial Regex EntryPattern();

    private static int ArchNumber(string arch) =>
        int.TryParse(arch.AsSpan(arch.IndexOf('_') + 1), out var number) ? number : 0;

    private static bool Probe()
    {
        try
        {
            var ptx = Compile("extern \"C\" __global__ void probe(float* x) { x[threadIdx.x] = 1.0f; }");
            return EntryPoints(ptx).Contains("probe");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
            return false;
        }
    }

    private static (int ExitCode, string Stderr) Run(params string[] arguments)
    {
        var start = new ProcessStartInfo(Compiler)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Compiler}.");
        // Both pipes are drained concurrently so a chatty compiler cannot block on a full pipe.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Compiler} did not finish within 2 minutes.");
        }

        process.WaitForExit();
        return (process.ExitCode, (stderr.Result + stdout.Result).Trim());
    }

    /// <summary>
    /// Stand-ins for NVRTC's built-ins: execution-space attributes, threadIdx/blockIdx/blockDim/
    /// gridDim, warp shuffles, atomics and the single-precision math library.
    /// </summary>
    public const string Prelude = """
        // ClangPtx prelude: what NVRTC provides built in, for clang -nocudainc (no CUDA headers, no
        // libdevice). Only ClangPtx prepends it; NVRTC never sees it.
        #if !defined(__CUDACC_RTC__) && !defined(VAE_CLANG_PTX_PRELUDE)
        #define VAE_CLANG_PTX_PRELUDE 1

        #define __global__ __attribute__((global))
        #define __device__ __attribute__((device))
        #define __host__ __attribute__((host))
        #define __shared__ __attribute__((shared))
        #define __constant__ __attribute__((constant))
        #define __forceinline__ __inline__ __attribute__((always_inline))
        #define __noinline__ __attribute__((noinline))
        #define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
        #define __VAE_DEV static __device__ __forceinline__

        typedef __SIZE_TYPE__ size_t;
        enum { warpSize = 32 };

        struct uint3 { unsigned int x, y, z; };
        struct dim3
        {
            unsigned int x, y, z;
            __host__ __device__ constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
        };
        struct __attribute__((aligned(8))) float2 { float x, y; };
        struct float3 { float x, y, z; };
        struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
        struct __attribute__((aligned(8))) int2 { int x, y; };
        struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
        __VAE_DEV float2 make_float2(float x, float y) { return float2{x, y}; }
        __VAE_DEV float3 make_float3(float x, float y, float z) { return float3{x, y, z}; }
        __VAE_DEV float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
        __VAE_DEV int2 make_int2(int x, int y) { return int2{x, y}; }
        __VAE_DEV int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }

        // threadIdx & co: property getters read the PTX special registers, like clang's own header.
        #define __VAE_SREG(NAME, REG)                                                                        \
            struct __vae_##NAME##_t                                                                          \
            {                                                                                                \
                __declspec(property(get = __get_x)) unsigned int x;                                          \
                __declspec(property(get = __get_y)) unsigned int y;                                          \
                __declspec(property(get = __get_z)) unsigned int z;                                          \
                static __device__ __forceinline__ unsigned int __get_x() { return __nvvm_read_ptx_sreg_##REG##_x(); } \
                static __device__ __forceinline__ unsigned int __get_y() { return __nvvm_read_ptx_sreg_##REG##_y(); } \
                static __device__ __forceinline__ unsigned int __get_z() { return __nvvm_read_ptx_sreg_##REG##_z(); } \
                __device__ __forceinline__ operator dim3() const { return dim3(__get_x(), __get_y(), __get_z()); } \
                __device__ __forceinline__ operator uint3() const { return uint3{__get_x(), __get_y(), __get_z()}; } \
            };                                                                                               \
            extern const __device__ __vae_##NAME##_t NAME;
        __VAE_SREG(threadIdx, tid)
        __VAE_SREG(blockIdx, ctaid)
        __VAE_SREG(blockDim, ntid)
        __VAE_SREG(gridDim, nctaid)
        #undef __VAE_SREG

        // Synchronization (__syncthreads itself is a clang builtin).
        __VAE_DEV void __syncwarp(unsigned int mask = 0xffffffffu) { __nvvm_bar_warp_sync(mask); }
        __VAE_DEV void __threadfence() { __nvvm_membar_gl(); }
        __VAE_DEV void __threadfence_block() { __nvvm_membar_cta(); }

        // Warp shuffles: c packs the segment mask ((32 - width) << 8) with the lane clamp (31, or 0 for up).
        __VAE_DEV float __shfl_sync(unsigned int mask, float v, int lane, int width = warpSize) { return __nvvm_shfl_sync_idx_f32(mask, v, lane, ((warpSize - width) << 8) | 0x1f); }
        __VAE_DEV int __shfl_sync(unsigned int mask, int v, int lane, int width = warpSize) { return __nvvm_shfl_sync_idx_i32(mask, v, lane, ((warpSize - width) << 8) | 0x1f); }
        __VAE_DEV float __shfl_down_sync(unsigned int mask, float v, unsigned int delta, int width = warpSize) { return __nvvm_shfl_sync_down_f32(mask, v, delta, ((warpSize - width) << 8) | 0x1f); }
        __VAE_DEV int __shfl_down_sync(unsigned int mask, int v, unsigned int delta, int width = warpSize) { return __nvvm_shfl_sync_down_i32(mask, v, delta, ((warpSize - width) << 8) | 0x1f); }
        __VAE_DEV float __shfl_up_sync(unsigned int mask, float v, unsigned int delta, int width = warpSize) { return __nvvm_shfl_sync_up_f32(mask, v, delta, (warpSize - width) << 8); }
        __VAE_DEV int __shfl_up_sync(unsigned int mask, int v, unsigned int delta, int width = warpSize) { return __nvvm_shfl_sync_up_i32(mask, v, delta, (warpSize - width) << 8); }
        __VAE_DEV float __shfl_xor_sync(unsigned int mask, float v, int laneMask, int width = warpSize) { return __nvvm_shfl_sync_bfly_f32(mask, v, laneMask, ((warpSize - width) << 8) | 0x1f); }
        __VAE_DEV int __shfl_xor_sync(unsigned int mask, int v, int laneMask, int width = warpSize) { return __nvvm_shfl_sync_bfly_i32(mask, v, laneMask, ((warpSize - width) << 8) | 0x1f); }

        // Atomics.
        __VAE_DEV float atomicAdd(float* p, float v) { return __nvvm_atom_add_gen_f(p, v); }
        __VAE_DEV int atomicAdd(int* p, int v) { return __nvvm_atom_add_gen_i(p, v); }
        __VAE_DEV unsigned int atomicAdd(unsigned int* p, unsigned int v) { return (unsigned int)__nvvm_atom_add_gen_i((int*)p, (int)v); }
        __VAE_DEV int atomicMax(int* p, int v) { return __nvvm_atom_max_gen_i(p, v); }
        __VAE_DEV int atomicMin(int* p, int v) { return __nvvm_atom_min_gen_i(p, v); }
        __VAE_DEV int atomicExch(int* p, int v) { return __nvvm_atom_xchg_gen_i(p, v); }
        __VAE_DEV float atomicExch(float* p, float v) { return __builtin_bit_cast(float, __nvvm_atom_xchg_gen_i((int*)p, __builtin_bit_cast(int, v))); }
        __VAE_DEV int atomicCAS(int* p, int compare, int v) { return __nvvm_atom_cas_gen_i(p, compare, v); }
        __VAE_DEV unsigned int atomicCAS(unsigned int* p, unsigned int compare, unsigned int v) { return (unsigned int)__nvvm_atom_cas_gen_i((int*)p, (int)compare, (int)v); }

        // Reinterpretation and fast intrinsics.
        __VAE_DEV int __float_as_int(float x) { return __builtin_bit_cast(int, x); }
        __VAE_DEV unsigned int __float_as_uint(float x) { return __builtin_bit_cast(unsigned int, x); }
        __VAE_DEV float __int_as_float(int x) { return __builtin_bit_cast(float, x); }
        __VAE_DEV float __uint_as_float(unsigned int x) { return __builtin_bit_cast(float, x); }
        __VAE_DEV float __fdividef(float a, float b) { return __nvvm_div_approx_f(a, b); }
        __VAE_DEV float __frcp_rn(float x) { return __nvvm_rcp_rn_f(x); }
        __VAE_DEV float __fsqrt_rn(float x) { return __nvvm_sqrt_rn_f(x); }
        __VAE_DEV float __fmaf_rn(float a, float b, float c) { return __nvvm_fma_rn_f(a, b, c); }
        __VAE_DEV float __saturatef(float x) { return __nvvm_saturate_f(x); }
        __VAE_DEV float __expf(float x) { return __nvvm_ex2_approx_f(x * 1.44269504f); }
        __VAE_DEV float __logf(float x) { return __nvvm_lg2_approx_f(x) * 0.693147181f; }
        __VAE_DEV float __sinf(float x) { return __nvvm_sin_approx_f(x); }
        __VAE_DEV float __cosf(float x) { return __nvvm_cos_approx_f(x); }
        __VAE_DEV float __powf(float x, float y) { return __nvvm_ex2_approx_f(y * __nvvm_lg2_approx_f(x)); }
        template <typename T> __VAE_DEV T __ldg(const T* p) { return *p; }

        // Classification, min/max.
        __VAE_DEV bool isnan(float x) { return __builtin_isnan(x); }
        __VAE_DEV bool isinf(float x) { return __builtin_isinf(x); }
        __VAE_DEV bool isfinite(float x) { return __builtin_isfinite(x); }
        __VAE_DEV bool signbit(float x) { return __builtin_signbit(x); }
        __VAE_DEV int min(int a, int b) { return a < b ? a : b; }
        __VAE_DEV int max(int a, int b) { return a > b ? a : b; }
        __VAE_DEV unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
        __VAE_DEV unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
        __VAE_DEV float min(float a, float b) { return __nvvm_fmin_f(a, b); }
        __VAE_DEV float max(float a, float b) { return __nvvm_fmax_f(a, b); }

        // Single-precision math. NVRTC links libdevice; here each function is built from PTX's
        // hardware approximations plus enough care (argument reduction, series near the points where
        // the approximations lose relative accuracy) to stay within a few ulp-ish of the real thing.
        __VAE_DEV float fabsf(float x) { return __nvvm_fabs_f(x); }
        __VAE_DEV float fmaxf(float a, float b) { return __nvvm_fmax_f(a, b); }
        __VAE_DEV float fminf(float a, float b) { return __nvvm_fmin_f(a, b); }
        __VAE_DEV float fmaf(float a, float b, float c) { return __nvvm_fma_rn_f(a, b, c); }
        __VAE_DEV double __dadd_rn(double a, double b) { return __nvvm_add_rn_d(a, b); }
        __VAE_DEV double __dsub_rn(double a, double b) { return __nvvm_add_rn_d(a, -b); }
        __VAE_DEV double __dmul_rn(double a, double b) { return __nvvm_mul_rn_d(a, b); }
        __VAE_DEV float copysignf(float x, float y) { return __builtin_copysignf(x, y); }
        __VAE_DEV float sqrtf(float x) { return __nvvm_sqrt_rn_f(x); }
        __VAE_DEV float rsqrtf(float x) { return __nvvm_rsqrt_approx_f(x); }
        __VAE_DEV float floorf(float x) { return __nvvm_floor_f(x); }
        __VAE_DEV float ceilf(float x) { return __nvvm_ceil_f(x); }
        __VAE_DEV float truncf(float x) { return __nvvm_trunc_f(x); }
        __VAE_DEV float roundf(float x) { float t = truncf(x); return fabsf(x - t) >= 0.5f ? t + copysignf(1.0f, x) : t; }
        __VAE_DEV float fmodf(float x, float y) { return x - truncf(x / y) * y; }
        __VAE_DEV float exp2f(float x) { return __nvvm_ex2_approx_f(x); }
        __VAE_DEV float expf(float x)
        {
            // e^x = 2^t with t = x*log2(e); the rounding error of that product is folded back in.
            float t = x * 1.44269502f;
            float e = __nvvm_ex2_approx_f(t);
            if (!__builtin_isfinite(x))
                return e;
            float error = __nvvm_fma_rn_f(x, 1.44269502f, -t) + x * 1.92596303e-8f;
            return e * (1.0f + error * 0.693147181f);
        }
        __VAE_DEV float __vae_log1p_small(float u)
        {
            // log(1+u) = 2 atanh(s), s = u/(2+u); |u| < 1/8 keeps |s| < 1/15, where five terms suffice.
            float s = u / (2.0f + u);
            float s2 = s * s;
            return 2.0f * s * (1.0f + s2 * (1.0f / 3.0f + s2 * (1.0f / 5.0f + s2 * (1.0f / 7.0f + s2 * (1.0f / 9.0f)))));
        }
        __VAE_DEV float log2f(float x) { return (x > 0.875f && x < 1.125f) ? __vae_log1p_small(x - 1.0f) * 1.44269504f : __nvvm_lg2_approx_f(x); }
        __VAE_DEV float logf(float x) { return (x > 0.875f && x < 1.125f) ? __vae_log1p_small(x - 1.0f) : __nvvm_lg2_approx_f(x) * 0.693147181f; }
        __VAE_DEV float log10f(float x) { return logf(x) * 0.434294482f; }
        __VAE_DEV float log1pf(float x) { return fabsf(x) < 0.125f ? __vae_log1p_small(x) : logf(1.0f + x); }
        __VAE_DEV float expm1f(float x)
        {
            if (fabsf(x) < 0.125f)
                return x * (1.0f + x * (0.5f + x * (1.0f / 6.0f + x * (1.0f / 24.0f + x * (1.0f / 120.0f + x * (1.0f / 720.0f))))));
            return expf(x) - 1.0f;
        }
        __VAE_DEV float tanhf(float x)
        {
            float a = fabsf(x);
            if (a < 0.125f)
            {
                float s = x * x;
                return x * (1.0f + s * (-1.0f / 3.0f + s * (2.0f / 15.0f + s * (-17.0f / 315.0f + s * (62.0f / 2835.0f)))));
            }
            return copysignf(1.0f - 2.0f / (expf(2.0f * a) + 1.0f), x);
        }
        __VAE_DEV float __vae_reduce_2pi(float x)
        {
            // x - k*2pi with 2pi split in two floats (Cody-Waite), so sin.approx/cos.approx see [-pi, pi].
            float k = floorf(x * 0.159154943f + 0.5f);
            float r = __nvvm_fma_rn_f(-k, 6.28318548f, x);
            return __nvvm_fma_rn_f(-k, -1.74845553e-7f, r);
        }
        __VAE_DEV float sinf(float x) { return __nvvm_sin_approx_f(__vae_reduce_2pi(x)); }
        __VAE_DEV float cosf(float x) { return __nvvm_cos_approx_f(__vae_reduce_2pi(x)); }
        __VAE_DEV float powf(float x, float y)
        {
            if (y == 0.0f || x == 1.0f) return 1.0f;
            if (y == 1.0f) return x;
            if (y == 2.0f) return x * x;
            if (y == 0.5f && x >= 0.0f) return sqrtf(x);
            float r = exp2f(y * log2f(fabsf(x)));
            if (x < 0.0f)
            {
                if (floorf(y) != y) return __builtin_nanf("");
                if (floorf(y * 0.5f) != y * 0.5f) r = -r;
            }
            return r;
        }
        __VAE_DEV float erff(float x)
        {
            float a = fabsf(x);
            if (a < 0.5f)
            {
                // Maclaurin series of erf, 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320).
                float s = x * x;
                return 1.12837917f * x * (1.0f + s * (-1.0f / 3.0f + s * (1.0f / 10.0f + s * (-1.0f / 42.0f + s * (1.0f / 216.0f + s * (-1.0f / 1320.0f))))));
            }
            // Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
            float t = 1.0f / (1.0f + 0.3275911f * a);
            float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
            return copysignf(1.0f - poly * expf(-a * a), x);
        }
        __VAE_DEV float erfcf(float x) { return 1.0f - erff(x); }

        #undef __VAE_DEV
        #endif
        """;
}
