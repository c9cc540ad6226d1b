using Vae.Samples.Fashion.Pictures;

namespace Vae.Samples.Fashion.Commands;

/// <summary>The pictures of a trained model.</summary>
internal enum PictureKind
{
    Sample,
    Reconstruct,
    Interpolate,
    Traverse,
    Manifold,
    /// <summary>A VQ-VAE's code maps (--model vq only).</summary>
    Codes,
}

internal sealed record PictureSettings(PictureKind Kind, string Checkpoint, string? Out, ulong Seed, string? Data, int? Class = null);

/// <summary>
/// <c>sample</c>, <c>reconstruct</c>, <c>interpolate</c>, <c>traverse</c>, <c>manifold</c> and <c>codes</c>: load a
/// checkpoint into the compiled model of its latent size and draw one picture. Decoding a few hundred tiles is instant,
/// so these run on the CPU. A VQ-VAE draws <c>reconstruct</c> and <c>codes</c>; the others need a Gaussian latent
/// (a prior to sample, posterior means to walk between), and <c>codes</c> needs a VQ-VAE.
/// </summary>
internal static class PictureCommands
{
    public static bool NeedsData(PictureKind kind) => kind is PictureKind.Reconstruct or PictureKind.Interpolate or PictureKind.Traverse or PictureKind.Codes;

    /// <summary>The command-line name of a picture.</summary>
    public static string NameOf(PictureKind kind) => kind.ToString().ToLowerInvariant();

    public static string DefaultOut(PictureKind kind) => kind switch
    {
        PictureKind.Sample => "samples.png",
        PictureKind.Reconstruct => "reconstructions.png",
        PictureKind.Interpolate => "interpolation.png",
        PictureKind.Traverse => "traversal.png",
        PictureKind.Codes => "codes.png",
        _ => "manifold.png",
    };

    public static int Run(PictureSettings settings, AppConsole console)
    {
        PathChecks.InputFile(settings.Checkpoint, "--checkpoint");
        PathChecks.DataFolder(settings.Data);
        string path = settings.Out ?? DefaultOut(settings.Kind);
        PathChecks.OutputFile(path, "--out");
        using var device = Device.Cpu();
        using var model = Models.Load(device, settings.Checkpoint);
        // Refuse before reading any data: a VQ-VAE has no prior or continuous latent, only a VQ-VAE has codes, and the
        // manifold only exists for a 2-D latent space.
        bool quantized = model.Architecture.Quantizer is not null;
        if (quantized && settings.Kind is not (PictureKind.Reconstruct or PictureKind.Codes))
            throw new UsageException($"{NameOf(settings.Kind)} needs a Gaussian latent, but '{settings.Checkpoint}' holds a VQ-VAE (--model vq), which has no prior " +
                                     "or continuous latent space to draw from; its pictures are reconstruct and codes.");
        if (!quantized && settings.Kind == PictureKind.Codes)
            throw new UsageException($"codes draws a VQ-VAE's code maps, but '{settings.Checkpoint}' holds {model.Architecture}, which has a Gaussian latent; train one with --model vq.");
        if (settings.Kind == PictureKind.Manifold && model.Architecture.Latent != 2)
            throw new UsageException($"manifold draws a 2-D latent space, but '{settings.Checkpoint}' holds a model with Latent = {model.Architecture.Latent}; train one with --latent 2.");
        if (settings.Kind == PictureKind.Manifold && model.Architecture.IsConditional && settings.Class is null)
            throw new UsageException($"manifold of a conditional model draws the latent space of one class: pass --class N (0 to {model.Architecture.Classes - 1}).");
        if (settings.Class is int only && (!model.Architecture.IsConditional || only >= model.Architecture.Classes))
            throw new UsageException(model.Architecture.IsConditional
                ? $"--class {only}: the model's classes are 0 to {model.Architecture.Classes - 1}."
                : $"--class needs a conditional model (train with --conditional); '{settings.Checkpoint}' holds {model.Architecture}.");
        var data = NeedsData(settings.Kind) ? FashionData.Load(settings.Data, null, console.Error, needTrain: false) : null;
        float[] test = data?.Test ?? [];
        int[] testLabels = data?.TestLabels ?? [];

        switch (settings.Kind)
        {
            case PictureKind.Sample: Figures.Samples(model, settings.Seed, path, settings.Class); break;
            case PictureKind.Reconstruct: Figures.Reconstructions(model, test, testLabels, settings.Seed, path); break;
            case PictureKind.Interpolate: Figures.Interpolation(model, test, testLabels, settings.Seed, path); break;
            case PictureKind.Traverse: Figures.Traversal(model, test, testLabels, settings.Seed, path); break;
            case PictureKind.Manifold: Figures.Manifold(model, path, settings.Class); break;
            case PictureKind.Codes: Figures.CodeMaps(model, test, settings.Seed, path); break;
        }
        console.Note($"wrote '{Path.GetFullPath(path)}'");
        return 0;
    }
}
