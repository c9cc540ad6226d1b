using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Vae.Generator.Tests;

/// <summary>One source file of a test compilation: the path diagnostics will carry, and its text.</summary>
internal sealed record SourceFile(string Path, string Text);

/// <summary>Everything one generator run produced, read off the driver so that tests never touch the driver API directly.</summary>
internal sealed class GeneratorRun
{
    public GeneratorRun(GeneratorDriver driver, CSharpCompilation input, Compilation output)
    {
        Driver = driver;
        Input = input;
        Output = output;
        RunResult = driver.GetRunResult();
        Result = RunResult.Results.Single();
        Sources = Result.GeneratedSources
            .OrderBy(s => s.HintName, StringComparer.Ordinal)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
    }

    /// <summary>The driver after the run; pass it to <see cref="GeneratorHarness.Rerun"/> to test incrementality.</summary>
    public GeneratorDriver Driver { get; }

    /// <summary>The compilation the generator saw (user code only).</summary>
    public CSharpCompilation Input { get; }

    /// <summary>The user code plus every generated file.</summary>
    public Compilation Output { get; }

    public GeneratorDriverRunResult RunResult { get; }

    /// <summary>The one generator's result: its tracked steps, timing and exception.</summary>
    public GeneratorRunResult Result { get; }

    /// <summary>Diagnostics the generator reported (VAE...).</summary>
    public ImmutableArray<Diagnostic> GeneratorDiagnostics => Result.Diagnostics;

    /// <summary>Generated files by hint name, in ordinal order of the names.</summary>
    public IReadOnlyDictionary<string, string> Sources { get; }

    /// <summary>Set when the generator threw past its own guards; the driver turns that into CS8785.</summary>
    public Exception? Exception => Result.Exception;

    /// <summary>Errors and warnings (not info or hidden) of the user code, before generation.</summary>
    public ImmutableArray<Diagnostic> InputDiagnostics => Visible(Input.GetDiagnostics());

    /// <summary>Errors and warnings (not info or hidden) of the user code plus the generated files.</summary>
    public ImmutableArray<Diagnostic> OutputDiagnostics => Visible(Output.GetDiagnostics());

    /// <summary>The generated files of a model: the class, its CPU kernels and its device kernels.</summary>
    public static string[] FilesOf(string hintPrefix) => [hintPrefix + ".Cpu.g.cs", hintPrefix + ".Device.g.cs", hintPrefix + ".g.cs"];

    /// <summary>
    /// The files of the one model generated, concatenated in hint-name order; fails unless exactly one model's three
    /// files were generated.
    /// </summary>
    public string SingleSource
    {
        get
        {
            var prefix = Sources.Keys.FirstOrDefault(k => k.EndsWith(".Cpu.g.cs", StringComparison.Ordinal))?[..^".Cpu.g.cs".Length];
            Assert.True(prefix is not null && Sources.Keys.SequenceEqual(FilesOf(prefix)),
                $"Expected one model's three files, got {Sources.Count}: {string.Join(", ", Sources.Keys)}");
            return string.Concat(Sources.Values);
        }
    }

    private static ImmutableArray<Diagnostic> Visible(ImmutableArray<Diagnostic> diagnostics) =>
        diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();
}

/// <summary>
/// Runs <see cref="VaeGenerator"/> over source text the way the compiler would: a net10 library compilation with nullable
/// enabled, every warning wave on, documentation comments checked, and references to the BCL and the Vae runtime.
/// </summary>
internal static class GeneratorHarness
{
    /// <summary>
    /// Parse options shared by every tree. DocumentationMode.Diagnose makes the compiler check the generated XML
    /// comments (bad crefs, malformed XML), which a consumer with GenerateDocumentationFile would otherwise see.
    /// </summary>
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    /// <summary>
    /// The references are created once: a MetadataReference is costly to read, and incremental runs need the new
    /// compilation to share the old one's reference objects or the driver treats every reference as changed.
    /// </summary>
    public static readonly ImmutableArray<MetadataReference> References = CreateReferences();

    private static readonly CSharpCompilationOptions Options = new(
        OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable,
        // 9999 turns on every warning wave, so tomorrow's compiler warnings show up today.
        warningLevel: 9999,
        deterministic: true);

    public static CSharpCompilation Compile(params string[] sources) =>
        Compile(sources.Select((text, i) => new SourceFile($"/src/Source{i}.cs", text)).ToArray());

    public static CSharpCompilation Compile(params SourceFile[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)),
            References,
            Options);

    /// <summary>A fresh driver that records every tracked step, as the incrementality tests need.</summary>
    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            new[] { new VaeGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(params string[] sources) => Run(Compile(sources));

    public static GeneratorRun Run(params SourceFile[] sources) => Run(Compile(sources));

    public static GeneratorRun Run(CSharpCompilation compilation) => Rerun(CreateDriver(), compilation);

    /// <summary>Runs an existing driver on a (possibly edited) compilation; the driver keeps its cache from earlier runs.</summary>
    public static GeneratorRun Rerun(GeneratorDriver driver, CSharpCompilation compilation)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return new GeneratorRun(driver, compilation, output);
    }

    private static ImmutableArray<MetadataReference> CreateReferences()
    {
        // The trusted platform assemblies hold the whole test host (xunit, Roslyn, Vae itself); keep only the shared
        // framework's, i.e. those beside System.Private.CoreLib, which is what a net10 consumer compiles against.
        var frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var trusted = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDirectory, StringComparison.Ordinal))
            .OrderBy(p => p, StringComparer.Ordinal);
        return trusted
            .Append(typeof(VaeModel).Assembly.Location)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }
}
