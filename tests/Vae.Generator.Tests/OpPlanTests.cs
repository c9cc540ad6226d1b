using Vae.Generator.Planning;
using Vae.Generator.Planning.Activations;
using Vae.Generator.Planning.Ops;
using Vae.Generator.Specs;
using Xunit;

namespace Vae.Generator.Tests;

/// <summary>
/// The op tier: one op's plan asserted precisely (its layout, buffers, steps and launches), without running the
/// generator or reading a snapshot.
/// </summary>
public class OpPlanTests
{
    private static ModelSpec Spec(LikelihoodKind likelihood = LikelihoodKind.Bernoulli, int samples = 1, params LayerSpec[] encoder) =>
        new(null, "M", "M", Input: 6, Latent: 2, likelihood, LatentKind.Gaussian, ObjectiveKind.Elbo, Beta: 1, samples, Sigma: 1, FreeBits: 0, Classes: 0,
            new EquatableArray<LayerSpec>(encoder), new EquatableArray<LayerSpec>(new[] { new LayerSpec(5, ReluActivation.Instance) }));

    [Fact]
    public void A_dense_layer_declares_its_constants_and_buffers_and_launches_what_it_declares()
    {
        var layout = new LayoutBuilder();
        var op = DenseOp.Declare(layout, Side.Encoder, "encoder.0", "Encoder0", 6, "Input", 4, "4", TanhActivation.Instance, "X",
            RowSpace.Examples, weightOffset: 10, biasOffset: 34, "encoder.0.weight");

        Assert.Equal(new[] { "Encoder0InFeatures", "Encoder0OutFeatures", "Encoder0Weight", "Encoder0Bias" }, layout.Constants.Select(c => c.Name));
        Assert.Equal(new[] { "ENCODER0_IN_FEATURES", "ENCODER0_OUT_FEATURES", "ENCODER0_WEIGHT", "ENCODER0_BIAS" }, layout.Constants.Select(c => c.Macro));
        Assert.Equal(new[] { "6", "4", "10", "34" }, layout.Constants.Select(c => c.CValue));
        Assert.Equal(new[] { "Encoder0Pre", "Encoder0Out" }, layout.Buffers.Select(b => b.Name));

        var step = Assert.Single(op.Forward(ProgramKind.Train));
        Assert.Equal("global::Vae.Kernels.Cpu.Linear.Forward<global::Vae.Kernels.Cpu.TanhActivation>", step.Cpu.Method);
        var launch = Assert.Single(step.Device);
        Assert.Equal("encoder_0_forward", launch.Kernel.Name);
        Assert.Equal(RowSpace.Examples, launch.Rows);
        // A tile of DenseOp.TileRows rows x DenseOp.TileOutputs outputs per work item: ceil(rows / 4) x ceil(4 / 4) items.
        Assert.Equal("((Encoder0OutFeatures + 3) / 4)", launch.WorkItems);
        Assert.Equal(DenseOp.TileRows, launch.RowBlock);
        Assert.Contains("vae_tanh(s)", launch.Kernel.Body);
        Assert.Empty(op.Forward(ProgramKind.Decode));
    }

    [Fact]
    public void The_first_layer_writes_no_input_gradient_and_a_later_one_passes_the_gradient_on()
    {
        var layout = new LayoutBuilder();
        var op = DenseOp.Declare(layout, Side.Encoder, "encoder.0", "Encoder0", 6, "Input", 4, "4", ReluActivation.Instance, "X",
            RowSpace.Examples, 0, 24, "encoder.0.weight");

        var first = new GradientFlow("A", "B");
        var firstStep = Assert.Single(op.Backward(first, first: true));
        Assert.Equal(ArgKind.None, firstStep.Cpu.Args[11].Kind);
        Assert.DoesNotContain(firstStep.Device, l => l.Kernel.Name.EndsWith("input_grad", StringComparison.Ordinal));
        Assert.Equal("A", first.Current);

        var later = new GradientFlow("A", "B");
        var laterStep = Assert.Single(op.Backward(later, first: false));
        Assert.Equal(Arg.Buffer("B"), laterStep.Cpu.Args[11]);
        // The bias gradient is summed inside weight_grad, by the work items of the first column strip.
        Assert.Equal(new[] { "encoder_0_delta", "encoder_0_weight_grad", "encoder_0_input_grad" },
            laterStep.Device.Select(l => l.Kernel.Name));
        Assert.Equal("B", later.Current);
    }

    [Fact]
    public void An_identity_layer_shares_its_pre_activation_buffer_and_launches_no_derivative()
    {
        var layout = new LayoutBuilder();
        var op = DenseOp.Declare(layout, Side.Decoder, "decoder.0", "Decoder0", 2, "Latent", 3, "3", IdentityActivation.Instance, "Z",
            RowSpace.Samples, 0, 6, "decoder.0.weight");
        Assert.Equal(op.Pre, op.Output);
        Assert.Equal(new[] { "Decoder0Out" }, layout.Buffers.Select(b => b.Name));
        var step = Assert.Single(op.Backward(new GradientFlow("A", "B"), first: false));
        Assert.DoesNotContain(step.Device, l => l.Kernel.Name.EndsWith("delta", StringComparison.Ordinal));
    }

    [Fact]
    public void The_fusion_rewrite_joins_an_identity_output_layer_and_its_likelihood_and_nothing_else()
    {
        var layout = new LayoutBuilder();
        var hidden = DenseOp.Declare(layout, Side.Decoder, "decoder.0", "Decoder0", 2, "Latent", 3, "3", ReluActivation.Instance, "Z",
            RowSpace.Samples, 0, 6, "decoder.0.weight");
        var output = DenseOp.Declare(layout, Side.Decoder, "decoder.out", "DecoderOutput", 3, "Decoder0OutFeatures", 6, "OutputWidth",
            IdentityActivation.Instance, hidden.Output, RowSpace.Samples, 9, 27, "decoder.out.weight", LikelihoodOp.OutputBuffer);
        var likelihood = new BernoulliLikelihoodOp("GradientA");

        var fused = Fusion.Apply(new Op[] { hidden, output, likelihood });
        Assert.Equal(2, fused.Count);
        Assert.Same(hidden, fused[0]);
        var joined = Assert.IsType<OutputLikelihoodOp>(fused[1]);
        Assert.Equal("global::Vae.Kernels.Cpu.Linear.ForwardToLikelihood", Assert.Single(joined.Forward(ProgramKind.Train)).Cpu.Method);

        // A likelihood after a non-identity layer is left alone: its unfused form must still be a valid plan.
        var unfused = Fusion.Apply(new Op[] { hidden, likelihood });
        Assert.Equal(new Op[] { hidden, likelihood }, unfused);
        Assert.Equal("global::Vae.Kernels.Cpu.Likelihoods.Run", Assert.Single(likelihood.Forward(ProgramKind.Evaluate)).Cpu.Method);
    }

    [Fact]
    public void A_launch_whose_arguments_do_not_fit_the_kernel_is_refused()
    {
        var kernel = new DeviceKernel("k", "test", new EquatableArray<KernelParameter>(new[]
        {
            new KernelParameter("x", ParameterKind.Input), new KernelParameter("n", ParameterKind.Int),
        }), "");
        new Launch(kernel, null, "1", new EquatableArray<Arg>(new[] { Arg.Buffer("X"), Arg.Constant("Input") })).Checked();
        Assert.Throws<InvalidOperationException>(() => new Launch(kernel, null, "1", new EquatableArray<Arg>(new[] { Arg.Buffer("X") })).Checked());
        Assert.Throws<InvalidOperationException>(() =>
            new Launch(kernel, null, "1", new EquatableArray<Arg>(new[] { Arg.Constant("Input"), Arg.Buffer("X") })).Checked());
    }

    [Fact]
    public void The_layout_is_one_flat_buffer_in_pytorch_order_and_the_parser_counts_it_with_the_same_ops()
    {
        var spec = Spec(LikelihoodKind.GaussianLearnedVariance, 1, new LayerSpec(4, GeluActivation.Instance));
        var plan = Planner.Plan(spec);
        Assert.Equal(new[]
        {
            "encoder.0.weight", "encoder.0.bias", "encoder.mu.weight", "encoder.logvar.weight", "encoder.mu.bias", "encoder.logvar.bias",
            "decoder.0.weight", "decoder.0.bias", "decoder.out.weight", "decoder.logvar.weight", "decoder.out.bias", "decoder.logvar.bias",
        }, plan.Tensors.Select(t => t.Name));
        int offset = 0;
        foreach (var t in plan.Tensors)
        {
            Assert.Equal(offset, t.Offset);
            offset += t.Length;
        }
        Assert.Equal(offset, plan.ParameterCount);
        Assert.Equal(plan.ParameterCount, Planner.ParameterCount(spec));
        // Fan-in for the initialisation: a bias takes its weight's.
        Assert.Equal(new[] { 6, 6, 4, 4, 4, 4, 2, 2, 5, 5, 5, 5 }, plan.Tensors.Select(t => t.FanIn));
    }

    [Fact]
    public void Every_program_launches_only_kernels_the_device_source_defines_or_the_library_holds()
    {
        var plan = Planner.Plan(Spec(LikelihoodKind.Gaussian, 3, new LayerSpec(4, SiluActivation.Instance)));
        var defined = plan.DeviceKernels().Select(k => k.Name).ToHashSet();
        foreach (var launch in plan.Programs.SelectMany(p => p.Steps).SelectMany(s => s.Device))
            Assert.True(launch.Kernel.Body is null || defined.Contains(launch.Kernel.Name), launch.Kernel.Name);
        Assert.Contains("vae_draw_noise", plan.Program(ProgramKind.DrawNoise).Steps.SelectMany(s => s.Device).Select(l => l.Kernel.Name));
        Assert.DoesNotContain("vae_draw_noise", defined);
        var train = plan.Program(ProgramKind.Train);
        Assert.True(train.BackwardFrom < train.Steps.Count);
        Assert.Equal(plan.Program(ProgramKind.Evaluate).Steps.Count, plan.Program(ProgramKind.Evaluate).BackwardFrom);
    }
}
