using System.Runtime.InteropServices;

namespace Vae.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound at run time to Open MPI's <c>libmpi.so.40</c> (Debian:
/// <c>openmpi-bin</c> and <c>libopenmpi-dev</c>). Nothing is loaded until <see cref="Load"/>: a program that never asks
/// for MPI needs no MPI library.
/// </summary>
/// <remarks>
/// Open MPI's handles (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, ...) are addresses of exported
/// globals, found here with dlsym; MPICH's are integers, so this binding is Open MPI's alone and says so. The library
/// is opened with RTLD_GLOBAL because Open MPI's plugins (dlopen-ed by libmpi) resolve symbols against it.
/// </remarks>
internal static unsafe class MpiNative
{
    internal const int MPI_SUCCESS = 0;
    internal const int MPI_THREAD_SERIALIZED = 2;          // Open MPI: SINGLE 0, FUNNELED 1, SERIALIZED 2, MULTIPLE 3
    internal static readonly nint MPI_IN_PLACE = 1;        // Open MPI: ((void *) 1)

    /// <summary>Names the MPI library to load instead of the default search (a path or a file name).</summary>
    internal const string LibraryVariable = "VAE_MPI_LIBRARY";

    private static readonly string[] Candidates = ["libmpi.so.40", "libmpi.so"];
    private static readonly object Gate = new();
    private static Api? _api;

    internal sealed class Api
    {
        public nint CommWorld, Float, Double, Sum;
        public delegate* unmanaged<int*, int> Initialized;
        public delegate* unmanaged<int*, int> Finalized;
        public delegate* unmanaged<int*, nint*, int, int*, int> InitThread;
        public delegate* unmanaged<int*, int> QueryThread;
        public delegate* unmanaged<int> Finalize;
        public delegate* unmanaged<nint, int*, int> CommRank;
        public delegate* unmanaged<nint, int*, int> CommSize;
        public delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce;
        public delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int> Gather;
        public delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
        public delegate* unmanaged<nint, int> Barrier;
        public delegate* unmanaged<nint, int, int> Abort;
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    private const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    /// <summary>The bound API, loading the library on first use.</summary>
    /// <exception cref="CommunicatorUnavailableException">No Open MPI library, or one without the expected symbols.</exception>
    internal static Api Load()
    {
        lock (Gate)
        {
            if (_api is { } loaded) return loaded;
            nint lib = 0;
            string? chosen = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } v ? v : null;
            foreach (var name in chosen is null ? Candidates : [chosen])
            {
                try { lib = DlOpen(name, RTLD_NOW | RTLD_GLOBAL); }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { lib = 0; }
                if (lib == 0) NativeLibrary.TryLoad(name, out lib);
                if (lib != 0) break;
            }
            if (lib == 0)
                throw new CommunicatorUnavailableException(
                    $"Distributed training needs Open MPI's library ({chosen ?? "libmpi.so.40"}{(chosen is null ? "" : $", from {LibraryVariable}")}), which was not found: install it " +
                    "(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and launch with mpirun.");
            var api = new Api
            {
                CommWorld = Symbol(lib, "ompi_mpi_comm_world"),
                Float = Symbol(lib, "ompi_mpi_float"),
                Double = Symbol(lib, "ompi_mpi_double"),
                Sum = Symbol(lib, "ompi_mpi_op_sum"),
                Initialized = (delegate* unmanaged<int*, int>)Symbol(lib, "MPI_Initialized"),
                Finalized = (delegate* unmanaged<int*, int>)Symbol(lib, "MPI_Finalized"),
                InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Symbol(lib, "MPI_Init_thread"),
                QueryThread = (delegate* unmanaged<int*, int>)Symbol(lib, "MPI_Query_thread"),
                Finalize = (delegate* unmanaged<int>)Symbol(lib, "MPI_Finalize"),
                CommRank = (delegate* unmanaged<nint, int*, int>)Symbol(lib, "MPI_Comm_rank"),
                CommSize = (delegate* unmanaged<nint, int*, int>)Symbol(lib, "MPI_Comm_size"),
                Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Symbol(lib, "MPI_Allreduce"),
                Gather = (delegate* unmanaged<void*, int, nint, void*, int, nint, int, nint, int>)Symbol(lib, "MPI_Gather"),
                Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Symbol(lib, "MPI_Bcast"),
                Barrier = (delegate* unmanaged<nint, int>)Symbol(lib, "MPI_Barrier"),
                Abort = (delegate* unmanaged<nint, int, int>)Symbol(lib, "MPI_Abort"),
            };
            return _api = api;
        }
    }

    private static nint Symbol(nint lib, string name) =>
        NativeLibrary.TryGetExport(lib, name, out var address)
            ? address
            : throw new CommunicatorUnavailableException(
                $"The MPI library found lacks '{name}': Vae binds Open MPI (libmpi.so.40, Debian package libopenmpi-dev), not MPICH or another MPI.");

    internal static void Check(int code, string call)
    {
        // The default error handler (MPI_ERRORS_ARE_FATAL) aborts before a failure returns; this is for handlers that return.
        if (code != MPI_SUCCESS) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }
}
