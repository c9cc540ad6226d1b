using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Vae.Generator.Emitting;
using Vae.Generator.Parsing;
using Vae.Generator.Planning;
using Vae.Generator.Specs;

namespace Vae.Generator
{
    /// <summary>
    /// Attributes --Parse--> ModelSpec --Plan (ops, fusion)--> ModelPlan --Emit--> {Model}.g.cs, {Model}.Cpu.g.cs, {Model}.Device.g.cs.
    /// Every stage catches its own failures and turns them into a VAE999 diagnostic: the generator never throws.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class VaeGenerator : IIncrementalGenerator
    {
        /// <summary>Names of the tracked pipeline steps, for incrementality tests.</summary>
        public static class TrackingNames
        {
            public const string Parse = nameof(Parse);
            public const string Models = nameof(Models);
            public const string Plans = nameof(Plans);
            public const string ModelDiagnostics = nameof(ModelDiagnostics);
            public const string OrphanEncoders = nameof(OrphanEncoders);
            public const string OrphanDecoders = nameof(OrphanDecoders);
            public const string OrphanConditionals = nameof(OrphanConditionals);
        }

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(ModelParser.ModelAttribute, static (node, _) => node is TypeDeclarationSyntax, SafeParse)
                .WithTrackingName(TrackingNames.Parse);

            var diagnostics = parsed
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.ModelDiagnostics);
            context.RegisterSourceOutput(diagnostics, Report);

            var plans = parsed
                .Where(static result => result.Model is not null)
                .Select(static (result, _) => result.Model!)
                .WithTrackingName(TrackingNames.Models)
                .Select(static (model, _) => SafePlan(model))
                .WithTrackingName(TrackingNames.Plans);
            context.RegisterSourceOutput(plans, Emit);

            var orphanEncoders = context.SyntaxProvider
                .ForAttributeWithMetadataName(ModelParser.EncoderAttribute, static (node, _) => node is TypeDeclarationSyntax,
                    static (ctx, ct) => SafeOrphans(ctx, "Encoder", ct))
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.OrphanEncoders);
            context.RegisterSourceOutput(orphanEncoders, Report);

            var orphanDecoders = context.SyntaxProvider
                .ForAttributeWithMetadataName(ModelParser.DecoderAttribute, static (node, _) => node is TypeDeclarationSyntax,
                    static (ctx, ct) => SafeOrphans(ctx, "Decoder", ct))
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.OrphanDecoders);
            context.RegisterSourceOutput(orphanDecoders, Report);

            var orphanConditionals = context.SyntaxProvider
                .ForAttributeWithMetadataName(ModelParser.ConditionalAttribute, static (node, _) => node is TypeDeclarationSyntax,
                    static (ctx, ct) => SafeOrphans(ctx, "Conditional", ct))
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.OrphanConditionals);
            context.RegisterSourceOutput(orphanConditionals, Report);
        }

        private static ParseResult SafeParse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            try
            {
                return ModelParser.Parse(context, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return Failure(context, e);
            }
        }

        private static ParseResult SafeOrphans(GeneratorAttributeSyntaxContext context, string attribute, CancellationToken cancellationToken)
        {
            try
            {
                return ModelParser.ParseOrphanLayers(context, attribute, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return Failure(context, e);
            }
        }

        private static ParseResult Failure(GeneratorAttributeSyntaxContext context, Exception e) =>
            new ParseResult(null, new EquatableArray<DiagnosticInfo>(new[]
            {
                DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, context.TargetSymbol.Locations.FirstOrDefault(),
                    context.TargetSymbol.Name, e.GetType().Name + ": " + e.Message),
            }));

        /// <summary>The plan, or the failure to plan, as an equatable value.</summary>
        internal sealed record PlanResult(ModelPlan? Plan, string ClassName, string? Error);

        private static PlanResult SafePlan(ModelSpec model)
        {
            try
            {
                return new PlanResult(Planner.Plan(model), model.ClassName, null);
            }
            catch (Exception e)
            {
                return new PlanResult(null, model.ClassName, e.GetType().Name + ": " + e.Message);
            }
        }

        private static void Report(SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
        {
            foreach (var d in diagnostics) context.ReportDiagnostic(d.ToDiagnostic());
        }

        private static void Emit(SourceProductionContext context, PlanResult result)
        {
            if (result.Plan is null)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, null, result.ClassName, result.Error));
                return;
            }
            try
            {
                // One file per target, so each kernel appears once: the model's face, its CPU kernels, its device kernels.
                var prefix = result.Plan.Model.HintPrefix;
                context.AddSource(prefix + ".g.cs", ModelEmitter.Emit(result.Plan));
                context.AddSource(prefix + ".Cpu.g.cs", CpuEmitter.Emit(result.Plan));
                context.AddSource(prefix + ".Device.g.cs", DeviceEmitter.Emit(result.Plan));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, null, result.ClassName, e.GetType().Name + ": " + e.Message));
            }
        }
    }
}
