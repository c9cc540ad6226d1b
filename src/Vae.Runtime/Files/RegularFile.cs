using System.Runtime.InteropServices;

namespace Vae.Files;

/// <summary>
/// Opens files for reading only when they are regular files. Opening a FIFO for reading blocks until some other
/// process opens it for writing (forever, usually), a character device such as /dev/zero or /dev/urandom never ends,
/// and a directory is not data at all; each is refused before it is opened, with a message that says what it is.
/// </summary>
internal static partial class RegularFile
{
    /// <summary>Opens <paramref name="path"/> for sequential reading, sharing it with other readers.</summary>
    /// <param name="path">The file to open.</param>
    /// <param name="what">What the file should be, for messages ("safetensors file", "IDX file").</param>
    /// <exception cref="ArgumentException">The path is empty or contains a NUL character.</exception>
    /// <exception cref="FileNotFoundException">Nothing exists at the path (or its folder does not exist).</exception>
    /// <exception cref="InvalidDataException">Something other than a regular file is at the path.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    /// <exception cref="IOException">The file could not be opened.</exception>
    public static FileStream OpenRead(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.Contains('\0'))
        {
            throw new ArgumentException($"The path of the {what} contains a NUL character.", nameof(path));
        }

        if (Directory.Exists(path))
        {
            throw new InvalidDataException($"{path}: this is a directory, not a {what}.");
        }
        if (!File.Exists(path))
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            string where = folder is not null && !Directory.Exists(folder) ? $" (the folder '{folder}' does not exist)" : "";
            throw new FileNotFoundException($"{what} not found: '{path}'{where}.", path);
        }

        string? kind = NonRegularKind(path);
        if (kind is not null)
        {
            throw new InvalidDataException($"{path}: this is {kind}, not a regular file; a {what} must be a regular file.");
        }
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
    }

    /// <summary>
    /// What sort of non-regular file is at <paramref name="path"/> ("a FIFO (named pipe)", ...), or null for a regular
    /// file. On Linux this asks statx(2); elsewhere a file that reports a length of 0 is treated as possibly special
    /// (FIFOs, devices and sockets all do), so it is never opened: an empty regular file is not a valid file anyway.
    /// </summary>
    private static string? NonRegularKind(string path)
    {
        if (OperatingSystem.IsLinux() && TryStatxMode(path, out uint mode))
        {
            return (mode & S_IFMT) switch
            {
                S_IFREG => null,
                S_IFIFO => "a FIFO (named pipe)",
                S_IFCHR => "a character device",
                S_IFBLK => "a block device",
                S_IFSOCK => "a socket",
                S_IFDIR => "a directory",
                _ => $"a special file (mode 0x{mode:X})",
            };
        }
        return new FileInfo(path).Length == 0 ? "empty (0 bytes) or not a regular file (a FIFO, device or socket)" : null;
    }

    // The file-type bits of st_mode, the same on every Linux architecture.
    private const uint S_IFMT = 0xF000;
    private const uint S_IFSOCK = 0xC000;
    private const uint S_IFREG = 0x8000;
    private const uint S_IFBLK = 0x6000;
    private const uint S_IFDIR = 0x4000;
    private const uint S_IFCHR = 0x2000;
    private const uint S_IFIFO = 0x1000;

    private const int AT_FDCWD = -100;
    private const uint STATX_TYPE = 0x1;

    // struct statx is 256 bytes with the same layout on every architecture (unlike struct stat): stx_mask at 0,
    // stx_mode (16 bits) at 28.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;

    private static bool TryStatxMode(string path, out uint mode)
    {
        mode = 0;
        try
        {
            Span<byte> buffer = stackalloc byte[StatxSize];
            buffer.Clear();
            if (Statx(AT_FDCWD, path, 0, STATX_TYPE, ref MemoryMarshal.GetReference(buffer)) != 0)
            {
                return false;
            }
            uint mask = MemoryMarshal.Read<uint>(buffer);
            if ((mask & STATX_TYPE) == 0)
            {
                return false;
            }
            mode = MemoryMarshal.Read<ushort>(buffer[StatxModeOffset..]);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No glibc (musl) or one without statx (before 2.28): fall back to the length test.
            return false;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string pathname, int flags, uint mask, ref byte statxbuf);
}
