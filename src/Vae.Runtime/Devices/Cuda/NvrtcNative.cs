using System.Runtime.InteropServices;
using System.Text;

namespace Vae.Devices.Cuda;

/// <summary>
/// NVRTC, CUDA's runtime C++-to-PTX compiler, bound at run time by function pointer.
/// </summary>
/// <remarks>
/// The library's SONAME carries the toolkit's major version (libnvrtc.so.12, libnvrtc.so.11.2, ...)
/// and it often lives outside the loader path (/usr/local/cuda/lib64, a Python wheel), so it is
/// searched for under several names and places; <c>VAE_NVRTC_LIBRARY</c> names an exact file.
/// Loading by hand avoids a DllImportResolver, of which an assembly may have only one.
/// </remarks>
internal static unsafe class NvrtcNative
{
    internal const int NVRTC_SUCCESS = 0;

    /// <summary>Environment variable naming the NVRTC library file to use.</summary>
    internal const string LibraryVariable = "VAE_NVRTC_LIBRARY";

    private static readonly Lazy<Loaded> State = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    internal static Api? Compiler => State.Value.Api;

    internal static Api Require() =>
        State.Value.Api ?? throw new DeviceUnavailableException(
            $"NVRTC, the CUDA runtime compiler, is not available ({State.Value.Error}). " +
            "Install the CUDA toolkit's NVRTC library (libnvrtc.so.12 from NVIDIA's `cuda-nvrtc-12-*` package, " +
            "or `libnvrtc11.2` / `nvidia-cuda-toolkit` from Debian non-free), " +
            $"or set {LibraryVariable} to the path of a libnvrtc.so.");

    internal static string ErrorName(Api api, int result)
    {
        var text = api.nvrtcGetErrorString(result);
        return text is null ? $"NVRTC_ERROR_{result}" : Marshal.PtrToStringUTF8((nint)text) ?? $"NVRTC_ERROR_{result}";
    }

    /// <summary>
    /// Compiles CUDA C++ to PTX for <paramref name="arch"/> (e.g. "compute_80").
    /// </summary>
    /// <exception cref="CudaException">Compilation failed; the message holds NVRTC's log.</exception>
    internal static string CompileToPtx(Api api, string source, string arch, IEnumerable<string>? extraOptions)
    {
        var options = new List<string> { "--gpu-architecture=" + arch };
        if (extraOptions is not null)
            options.AddRange(extraOptions);

        nint program = 0;
        try
        {
            fixed (byte* text = NullTerminated(source))
            fixed (byte* name = NullTerminated("vae_kernels.cu"))
            {
                Check(api, api.nvrtcCreateProgram(&program, text, name, 0, null, null), "nvrtcCreateProgram");
            }

            var encoded = options.Select(NullTerminated).ToArray();
            var handles = new GCHandle[encoded.Length];
            var pointers = new byte*[encoded.Length];
            try
            {
                for (int i = 0; i < encoded.Length; i++)
                {
                    handles[i] = GCHandle.Alloc(encoded[i], GCHandleType.Pinned);
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }

                int result;
                fixed (byte** optionArray = pointers)
                    result = api.nvrtcCompileProgram(program, pointers.Length, optionArray);

                if (result != NVRTC_SUCCESS)
                {
                    throw new CudaException("nvrtcCompileProgram", result, ErrorName(api, result),
                        $"options: {string.Join(' ', options)}", ProgramLog(api, program));
                }
            }
            finally
            {
                foreach (var handle in handles)
                {
                    if (handle.IsAllocated)
                        handle.Free();
                }
            }

            nuint size;
            Check(api, api.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx)
                Check(api, api.nvrtcGetPTX(program, p), "nvrtcGetPTX");
            return CString(ptx);
        }
        finally
        {
            if (program != 0)
                api.nvrtcDestroyProgram(&program);
        }
    }

    /// <summary>
    /// The newest architecture NVRTC can target that is not newer than
    /// <paramref name="major"/>.<paramref name="minor"/>, so a toolkit older than the GPU still
    /// produces PTX the driver can JIT forward.
    /// </summary>
    internal static string ArchitectureFor(Api api, int major, int minor)
    {
        int wanted = major * 10 + minor;
        if (api.nvrtcGetNumSupportedArchs is null || api.nvrtcGetSupportedArchs is null)
            return $"compute_{wanted}";

        int count;
        if (api.nvrtcGetNumSupportedArchs(&count) != NVRTC_SUCCESS || count <= 0)
            return $"compute_{wanted}";

        var archs = new int[count];
        fixed (int* p = archs)
        {
            if (api.nvrtcGetSupportedArchs(p) != NVRTC_SUCCESS)
                return $"compute_{wanted}";
        }

        var best = archs.Where(a => a <= wanted).DefaultIfEmpty(wanted).Max();
        return $"compute_{best}";
    }

    private static string ProgramLog(Api api, nint program)
    {
        nuint size;
        if (api.nvrtcGetProgramLogSize(program, &size) != NVRTC_SUCCESS || size == 0)
            return string.Empty;
        var log = new byte[(int)size];
        fixed (byte* p = log)
        {
            if (api.nvrtcGetProgramLog(program, p) != NVRTC_SUCCESS)
                return string.Empty;
        }

        return CString(log).Trim();
    }

    private static void Check(Api api, int result, string function)
    {
        if (result != NVRTC_SUCCESS)
            throw new CudaException(function, result, ErrorName(api, result));
    }

    private static byte[] NullTerminated(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static string CString(byte[] bytes)
    {
        int end = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }

    private sealed record Loaded(Api? Api, string? Error);

    private static IEnumerable<string> Candidates()
    {
        var explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath))
            yield return explicitPath;

        string[] names = OperatingSystem.IsWindows()
            ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
            : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0", "libnvrtc.so"];

        foreach (var name in names)
            yield return name;

        // The toolkit's own directories are frequently not in the loader's search path.
        foreach (var root in new[] { Environment.GetEnvironmentVariable("CUDA_HOME"), Environment.GetEnvironmentVariable("CUDA_PATH"), "/usr/local/cuda" })
        {
            if (string.IsNullOrWhiteSpace(root))
                continue;
            foreach (var name in names)
            {
                yield return Path.Combine(root, "lib64", name);
                yield return Path.Combine(root, OperatingSystem.IsWindows() ? "bin" : "lib", name);
            }
        }
    }

    private static Loaded Load()
    {
        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (!NativeLibrary.TryLoad(candidate, out var library))
                continue;
            try
            {
                return new Loaded(new Api(library), null);
            }
            catch (EntryPointNotFoundException)
            {
                // Not a usable NVRTC (or far too old); keep looking.
            }
        }

        return new Loaded(null, "tried " + string.Join(", ", tried.Take(8)) + (tried.Count > 8 ? ", ..." : string.Empty));
    }

    /// <summary>Resolved NVRTC entry points.</summary>
    internal sealed class Api
    {
        // (prog*, src, name, numHeaders, headers, includeNames)
        public readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> nvrtcCreateProgram;
        public readonly delegate* unmanaged<nint, int, byte**, int> nvrtcCompileProgram;
        public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetProgramLogSize;
        public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetProgramLog;
        public readonly delegate* unmanaged<nint, nuint*, int> nvrtcGetPTXSize;
        public readonly delegate* unmanaged<nint, byte*, int> nvrtcGetPTX;
        public readonly delegate* unmanaged<nint*, int> nvrtcDestroyProgram;
        public readonly delegate* unmanaged<int, byte*> nvrtcGetErrorString;

        // Since CUDA 11.2; null when absent.
        public readonly delegate* unmanaged<int*, int> nvrtcGetNumSupportedArchs;
        public readonly delegate* unmanaged<int*, int> nvrtcGetSupportedArchs;

        public Api(nint library)
        {
            nvrtcCreateProgram = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)CudaNative.Export(library, "nvrtcCreateProgram");
            nvrtcCompileProgram = (delegate* unmanaged<nint, int, byte**, int>)CudaNative.Export(library, "nvrtcCompileProgram");
            nvrtcGetProgramLogSize = (delegate* unmanaged<nint, nuint*, int>)CudaNative.Export(library, "nvrtcGetProgramLogSize");
            nvrtcGetProgramLog = (delegate* unmanaged<nint, byte*, int>)CudaNative.Export(library, "nvrtcGetProgramLog");
            nvrtcGetPTXSize = (delegate* unmanaged<nint, nuint*, int>)CudaNative.Export(library, "nvrtcGetPTXSize");
            nvrtcGetPTX = (delegate* unmanaged<nint, byte*, int>)CudaNative.Export(library, "nvrtcGetPTX");
            nvrtcDestroyProgram = (delegate* unmanaged<nint*, int>)CudaNative.Export(library, "nvrtcDestroyProgram");
            nvrtcGetErrorString = (delegate* unmanaged<int, byte*>)CudaNative.Export(library, "nvrtcGetErrorString");

            if (NativeLibrary.TryGetExport(library, "nvrtcGetNumSupportedArchs", out var count) &&
                NativeLibrary.TryGetExport(library, "nvrtcGetSupportedArchs", out var list))
            {
                nvrtcGetNumSupportedArchs = (delegate* unmanaged<int*, int>)count;
                nvrtcGetSupportedArchs = (delegate* unmanaged<int*, int>)list;
            }
        }
    }
}
