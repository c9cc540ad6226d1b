using System.Globalization;

namespace Vae.Kernels.Cpu;

/// <summary>
/// The data caches of the core this process runs on, which size the GEMM's blocks (<see cref="Gemm.DepthBlock"/>,
/// <see cref="Gemm.RowBlock"/>). Read once from Linux's cache description (/sys/devices/system/cpu/cpu0/cache); where
/// that is missing or unreadable, the smallest sizes of the x86 cores in service (32 KiB L1d, 1 MiB L2 per core on
/// Cascade Lake; Zen 4 and 5 have 32/48 KiB and 1 MiB), so the blocks never outgrow the caches they assume.
/// </summary>
public static class CacheSizes
{
    /// <summary>Bytes of level-1 data cache per core.</summary>
    public static readonly int L1Data;

    /// <summary>Bytes of level-2 cache per core.</summary>
    public static readonly int L2;

    /// <summary>Where the sizes came from: "sysfs" or "default".</summary>
    public static readonly string Source;

    private const int DefaultL1 = 32 * 1024, DefaultL2 = 1024 * 1024;

    static CacheSizes()
    {
        int l1 = 0, l2 = 0;
        try
        {
            const string root = "/sys/devices/system/cpu/cpu0/cache";
            if (Directory.Exists(root))
            {
                foreach (var index in Directory.EnumerateDirectories(root, "index*"))
                {
                    string level = ReadLine(Path.Combine(index, "level")), type = ReadLine(Path.Combine(index, "type"));
                    int size = ParseSize(ReadLine(Path.Combine(index, "size")));
                    if (level == "1" && type == "Data") l1 = size;
                    else if (level == "2" && type is "Unified" or "Data") l2 = size;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            l1 = l2 = 0;
        }
        bool found = l1 > 0 && l2 > 0;
        L1Data = found ? l1 : DefaultL1;
        L2 = found ? l2 : DefaultL2;
        Source = found ? "sysfs" : "default";
    }

    /// <summary>"L1d 48 KiB, L2 1024 KiB (sysfs)", for benchmark headers.</summary>
    public static string Describe() => $"L1d {L1Data / 1024} KiB, L2 {L2 / 1024} KiB ({Source})";

    private static string ReadLine(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "";

    /// <summary>"48K", "1024K", "2M" or a plain byte count; 0 when it is none of those.</summary>
    internal static int ParseSize(string text)
    {
        if (text.Length == 0) return 0;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1024, 'M' => 1024 * 1024, _ => 1 };
        string digits = unit == 1 ? text : text[..^1];
        return long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 && value * unit <= int.MaxValue
            ? (int)(value * unit)
            : 0;
    }
}
