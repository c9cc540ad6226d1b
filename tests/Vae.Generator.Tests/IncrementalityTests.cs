using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Vae.Generator.Tests;

/// <summary>
/// The generator runs on every keystroke in an IDE, so an edit that does not touch a model must leave every tracked
/// step cached, and an edit that does must flow through to the plan and the output.
/// </summary>
public class IncrementalityTests
{
    private const string ModelPath = "/src/Model.cs";
    private const string OtherPath = "/src/Other.cs";

    private const string ModelText = """
        using Vae;

        namespace Shop;

        /// <summary>The model, with a hand-written member beside the generated ones.</summary>
        [VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
        [Encoder(400, Activation.Relu)]
        [Decoder(400, Activation.Relu)]
        public partial class ShopVae
        {
            /// <summary>Hand-written helper.</summary>
            public static int Helper() => 1;
        }
        """;

    private const string OtherText = """
        namespace Shop;

        /// <summary>Code that has nothing to do with the model.</summary>
        public static class Prices
        {
            /// <summary>A method whose body the edits change.</summary>
            public static int Total(int a, int b)
            {
                return a + b;
            }
        }
        """;

    /// <summary>Every constant in <see cref="VaeGenerator.TrackingNames"/>, read by reflection so a new step is checked without editing this test.</summary>
    public static IReadOnlyList<string> TrackingNames { get; } = typeof(VaeGenerator.TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    /// <summary>Edits that leave the model alone, applied to the first run's compilation.</summary>
    public static TheoryData<string> UnrelatedEdits => new()
    {
        "add a file",
        "change a method body in another file",
        "change a method body in the model class",
        "add a comment above the model",
        "add a class to the model's file",
        "remove the other file",
    };

    private static CSharpCompilation Edit(CSharpCompilation compilation, string edit)
    {
        var model = compilation.SyntaxTrees.Single(t => t.FilePath == ModelPath);
        var other = compilation.SyntaxTrees.Single(t => t.FilePath == OtherPath);
        SyntaxTree Reparse(SyntaxTree tree, string text) => CSharpSyntaxTree.ParseText(text, GeneratorHarness.ParseOptions, tree.FilePath);
        return edit switch
        {
            "add a file" => compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText(
                "namespace Shop;\n/// <summary>New.</summary>\npublic sealed class Basket\n{\n}\n", GeneratorHarness.ParseOptions, "/src/Basket.cs")),
            "change a method body in another file" => compilation.ReplaceSyntaxTree(other, Reparse(other, OtherText.Replace("a + b", "a + b + 0"))),
            "change a method body in the model class" => compilation.ReplaceSyntaxTree(model, Reparse(model, ModelText.Replace("=> 1;", "=> 2;"))),
            "add a comment above the model" => compilation.ReplaceSyntaxTree(model, Reparse(model, "// A comment that shifts every span.\n" + ModelText)),
            "add a class to the model's file" => compilation.ReplaceSyntaxTree(model, Reparse(model,
                ModelText + "\n\n/// <summary>Another class.</summary>\npublic sealed class Receipt\n{\n}\n")),
            "remove the other file" => compilation.RemoveSyntaxTrees(other),
            _ => throw new ArgumentOutOfRangeException(nameof(edit), edit, "unknown edit"),
        };
    }

    [Fact]
    public void Tracking_names_are_found()
    {
        // Guards the reflection above: an empty list would make every other test here pass vacuously.
        Assert.Contains(VaeGenerator.TrackingNames.Parse, TrackingNames);
        Assert.Contains(VaeGenerator.TrackingNames.Models, TrackingNames);
        Assert.Contains(VaeGenerator.TrackingNames.Plans, TrackingNames);
        Assert.Contains(VaeGenerator.TrackingNames.OrphanEncoders, TrackingNames);
    }

    [Theory]
    [MemberData(nameof(UnrelatedEdits))]
    public void Unrelated_edit_leaves_every_tracked_step_cached(string edit)
    {
        var first = GeneratorHarness.Run(Sources());
        Assert.Empty(first.GeneratorDiagnostics);
        DeterminismTests.AssertClean(first);

        var second = GeneratorHarness.Rerun(first.Driver, Edit(first.Input, edit));

        var steps = second.Result.TrackedSteps;
        // The model's own steps must have been looked at (cached), or "nothing was modified" would prove nothing.
        foreach (var name in new[] { VaeGenerator.TrackingNames.Parse, VaeGenerator.TrackingNames.Models, VaeGenerator.TrackingNames.Plans })
            Assert.True(steps.ContainsKey(name), $"step {name} did not run; ran: {string.Join(", ", steps.Keys)}");

        var moved = new List<string>();
        foreach (var name in TrackingNames.Where(steps.ContainsKey))
            foreach (var step in steps[name])
                foreach (var (value, reason) in step.Outputs)
                    if (reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
                        moved.Add($"{name}: {reason} ({value})");
        foreach (var (name, outputSteps) in second.Result.TrackedOutputSteps)
            foreach (var step in outputSteps)
                foreach (var (value, reason) in step.Outputs)
                    if (reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
                        moved.Add($"output {name}: {reason} ({value})");
        Assert.True(moved.Count == 0, $"after '{edit}' these steps were not cached:\n" + string.Join("\n", moved));

        Assert.Equal(first.Sources, second.Sources);
    }

    [Fact]
    public void Changing_an_attribute_value_modifies_the_plan_and_the_output()
    {
        var first = GeneratorHarness.Run(Sources());
        var model = first.Input.SyntaxTrees.Single(t => t.FilePath == ModelPath);
        var edited = first.Input.ReplaceSyntaxTree(model,
            CSharpSyntaxTree.ParseText(ModelText.Replace("Latent = 20", "Latent = 10"), GeneratorHarness.ParseOptions, ModelPath));

        var second = GeneratorHarness.Rerun(first.Driver, edited);

        var plans = second.Result.TrackedSteps[VaeGenerator.TrackingNames.Plans];
        Assert.Contains(plans.SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        var before = first.SingleSource;
        var after = second.SingleSource;
        Assert.NotEqual(before, after);
        Assert.Contains("public const int LatentSize = 20;", before);
        Assert.Contains("public const int LatentSize = 10;", after);
        // And the edit leaves nothing stale: the rerun equals a run from scratch on the edited code.
        Assert.Equal(GeneratorHarness.Run(edited).SingleSource, after);
    }

    [Fact]
    public void Adding_a_layer_modifies_the_plan()
    {
        var first = GeneratorHarness.Run(Sources());
        var model = first.Input.SyntaxTrees.Single(t => t.FilePath == ModelPath);
        var edited = first.Input.ReplaceSyntaxTree(model, CSharpSyntaxTree.ParseText(
            ModelText.Replace("[Decoder(400, Activation.Relu)]", "[Decoder(200, Activation.Tanh)]\n[Decoder(400, Activation.Relu)]"),
            GeneratorHarness.ParseOptions, ModelPath));

        var second = GeneratorHarness.Rerun(first.Driver, edited);

        Assert.Contains(second.Result.TrackedSteps[VaeGenerator.TrackingNames.Plans].SelectMany(s => s.Outputs),
            o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("decoder.1.weight", second.SingleSource);
    }

    /// <summary>
    /// The design keeps symbols, syntax and locations out of every step past parsing: they pin whole compilations in
    /// the cache and compare by reference, which would defeat caching. Walk every tracked output's object graph to check.
    /// </summary>
    [Fact]
    public void Tracked_outputs_hold_no_symbols_syntax_or_compilations()
    {
        var run = GeneratorHarness.Run(Sources());
        var forbidden = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(Compilation), typeof(SemanticModel) };
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var found = new List<string>();

        void Walk(object? value, string path, int depth)
        {
            if (value is null || depth > 30) return;
            var type = value.GetType();
            if (forbidden.Any(f => f.IsAssignableFrom(type)))
            {
                found.Add($"{path}: {type.FullName}");
                return;
            }
            if (type.IsPrimitive || type.IsEnum || value is string || value is decimal) return;
            if (!type.IsValueType && !visited.Add(value)) return;
            if (value is IEnumerable items && value is not string)
            {
                int i = 0;
                foreach (var item in items) Walk(item, $"{path}[{i++}]", depth + 1);
                return;
            }
            for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
                foreach (var field in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    Walk(field.GetValue(value), $"{path}.{field.Name}", depth + 1);
        }

        foreach (var name in TrackingNames.Where(run.Result.TrackedSteps.ContainsKey))
            foreach (var step in run.Result.TrackedSteps[name])
                foreach (var (value, _) in step.Outputs)
                    Walk(value, name, 0);

        Assert.True(found.Count == 0, "tracked outputs hold compiler objects:\n" + string.Join("\n", found.Distinct()));
        Assert.NotEmpty(visited);
    }

    private static SourceFile[] Sources() => new[] { new SourceFile(ModelPath, ModelText), new SourceFile(OtherPath, OtherText) };
}
