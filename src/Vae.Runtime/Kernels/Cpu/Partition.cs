namespace Vae.Kernels.Cpu;

/// <summary>Splits an output matrix into blocks for the thread team, along whichever side gives every thread whole tiles.</summary>
internal readonly struct Partition
{
    public readonly int Rows, Columns, Tasks;
    private readonly bool _byRows;

    public Partition(int rows, int columns, int threads)
    {
        Rows = rows;
        Columns = columns;
        // Split rows when each thread still gets a few row tiles; otherwise split columns in tile multiples.
        _byRows = rows >= threads * Gemm.TileRows * 2 || columns < threads * Gemm.TileColumns;
        int extent = _byRows ? rows : columns;
        int grain = _byRows ? Gemm.TileRows : Gemm.TileColumns;
        Tasks = Math.Max(1, Math.Min(threads, (extent + grain - 1) / grain));
    }

    /// <summary>Whether each task owns whole rows (so a row's epilogue can run in the task that computed it).</summary>
    public bool ByRows => _byRows;

    public void Get(int task, out int i0, out int i1, out int j0, out int j1)
    {
        if (_byRows)
        {
            (i0, i1) = Range(Rows, Gemm.TileRows, task);
            (j0, j1) = (0, Columns);
        }
        else
        {
            (i0, i1) = (0, Rows);
            (j0, j1) = Range(Columns, Gemm.TileColumns, task);
        }
    }

    private (int Begin, int End) Range(int extent, int grain, int task)
    {
        int tiles = (extent + grain - 1) / grain;
        int begin = (int)((long)tiles * task / Tasks) * grain;
        int end = (int)((long)tiles * (task + 1) / Tasks) * grain;
        return (Math.Min(begin, extent), Math.Min(end, extent));
    }
}
