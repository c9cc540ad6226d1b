using System.Reflection;

namespace Vae.Devices;

/// <summary>
/// Puts together what an OpenCL or CUDA compiler sees: the dialect's prelude, the device library (Philox noise,
/// optimisers, stable math; real files under DeviceCode/, embedded in the assembly) and the model's generated kernels.
/// </summary>
public static class DeviceSources
{
    private static readonly Lazy<string> OpenClPrelude = new(() => Resource("opencl_prelude.h"));
    private static readonly Lazy<string> CudaPrelude = new(() => Resource("cuda_prelude.h"));
    private static readonly Lazy<string> LibraryText = new(() => Resource("library.h"));

    /// <summary>
    /// A model's kernel source from the UTF-8 literal the generator emits it as (a UTF-8 literal is stored in the
    /// assembly's data, not in its user-string heap, which is limited to 16 MB per assembly).
    /// </summary>
    public static string FromUtf8(ReadOnlySpan<byte> source) => System.Text.Encoding.UTF8.GetString(source);

    /// <summary>The device library shared by every model, without a prelude.</summary>
    public static string Library => LibraryText.Value;

    /// <summary>The OpenCL C program of a model: prelude, library, then <paramref name="modelSource"/>.</summary>
    public static string OpenCl(string modelSource) => Join(OpenClPrelude.Value, modelSource);

    /// <summary>The CUDA C program of a model: prelude, library, then <paramref name="modelSource"/>.</summary>
    public static string Cuda(string modelSource) => Join(CudaPrelude.Value, modelSource);

    private static string Join(string prelude, string modelSource) =>
        prelude + "\n" + LibraryText.Value + "\n" + modelSource;

    private static string Resource(string name)
    {
        var assembly = typeof(DeviceSources).Assembly;
        using var stream = assembly.GetManifestResourceStream("Vae.DeviceCode." + name)
            ?? throw new InvalidOperationException($"The device file {name} is missing from {assembly.GetName().Name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("\r\n", "\n");
    }
}
