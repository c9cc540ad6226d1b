namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The work-group variant of a device GEMM kernel, for GPUs: C[m, n] = sum over k of A(m, k) B(k, n) by the device
    /// library's <c>vae_group_gemm</c>, a work-group of <see cref="GroupSize"/> work items per
    /// <see cref="Block"/> x <see cref="Block"/> block of C with both operands staged in local memory, each work item
    /// holding a <see cref="Tile"/> x <see cref="Tile"/> tile strided by <see cref="Side"/>. The generated kernel adds
    /// only the layer's operands and its epilogue. A CPU device (PoCL) runs the op's register tiles instead: its work
    /// items run one after another, so staging in local memory would only copy. The runtime compiles the program with
    /// VAE_WORK_GROUP_TILES for a GPU; these numbers are the library's VAE_GROUP_* macros.
    /// </summary>
    internal static class WorkGroupGemm
    {
        public const int Side = 16, Tile = 4, Block = Side * Tile, GroupSize = Side * Side;

        /// <summary>
        /// An operand X(i, k) = <see cref="Pointer"/>[i <see cref="AlongI"/> + k <see cref="AlongK"/>] (C expressions),
        /// i being m for A and n for B.
        /// </summary>
        public sealed record Operand(string Pointer, string AlongI, string AlongK);

        /// <summary>
        /// The kernel body: the block's products into <c>c</c>, then <paramref name="store"/> (C of <c>i</c>, <c>j</c>
        /// and <c>c[at]</c>, the output's m, n and value) for each output of the tile inside the extents, then
        /// <paramref name="after"/> (which may use <c>lid</c>, <c>m0</c> and <c>n0</c>).
        /// </summary>
        public static string Body(string m, string n, string k, Operand a, Operand b, string store, string after = "") =>
            $@"/* The work-group's block of C at (m0, n0) and this work item's place in it. */
int lid = (int)(gid % {I(GroupSize)}), group = (int)(gid / {I(GroupSize)});
int m0 = group / {Blocks(n)} * {I(Block)}, n0 = group % {Blocks(n)} * {I(Block)};
VAE_LOCAL_ARRAY float as[VAE_GROUP_STAGE];
VAE_LOCAL_ARRAY float bs[VAE_GROUP_STAGE];
float c[{I(Tile * Tile)}];
vae_group_gemm({a.Pointer}, {a.AlongI}, {a.AlongK}, {b.Pointer}, {b.AlongI}, {b.AlongK}, {m}, {n}, {k}, m0, n0, lid, as, bs, c);
for (int at = 0; at < {I(Tile * Tile)}; at++)
{{
    int i = m0 + lid / {I(Side)} + {I(Side)} * (at / {I(Tile)}), j = n0 + lid % {I(Side)} + {I(Side)} * (at % {I(Tile)});
    if (i < {m} && j < {n}) {{ {store} }}
}}" + (after.Length == 0 ? "" : "\n" + after);

        /// <summary>Blocks of <see cref="Block"/> along an extent, as a C (or C#) expression.</summary>
        public static string Blocks(string extent) => Op.Blocks(extent, Block);

        /// <summary>The body that compiles for the device's kind: the work-group variant where VAE_WORK_GROUP_TILES is defined.</summary>
        public static string PerDeviceKind(string workGroups, string registers) =>
            "#ifdef VAE_WORK_GROUP_TILES\n" + workGroups + "\n#else\n" + registers + "\n#endif";

        private static string I(int value) => Op.Int(value);
    }
}
