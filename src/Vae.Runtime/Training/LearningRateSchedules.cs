namespace Vae;

/// <summary>
/// A learning rate for each optimiser step; <see cref="Trainer.LearningRateSchedule"/> sets the optimiser's rate
/// from it before every step. Steps count from 1, as <see cref="VaeModel.Step"/> does after the step.
/// </summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate of step <paramref name="step"/> (1-based).</summary>
    float At(long step);
}

/// <summary>PyTorch's StepLR: <c>initial * gamma^floor((step - 1) / every)</c>.</summary>
public sealed class StepDecaySchedule : ILearningRateSchedule
{
    /// <param name="initial">The rate of the first steps, a finite number &gt; 0.</param>
    /// <param name="every">Steps between decays, &gt;= 1.</param>
    /// <param name="gamma">The factor of each decay, in (0, 1].</param>
    public StepDecaySchedule(float initial, long every, float gamma)
    {
        Initial = Positive(initial, nameof(initial));
        Every = every >= 1 ? every : throw new ArgumentOutOfRangeException(nameof(every), every, "Steps between decays must be >= 1.");
        Gamma = gamma > 0 && gamma <= 1 ? gamma : throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "The decay factor must be in (0, 1].");
    }

    /// <summary>The rate of the first steps.</summary>
    public float Initial { get; }

    /// <summary>Steps between decays.</summary>
    public long Every { get; }

    /// <summary>The factor of each decay.</summary>
    public float Gamma { get; }

    /// <inheritdoc/>
    public float At(long step) => (float)(Initial * Math.Pow(Gamma, Math.Max(0, step - 1) / Every));

    internal static float Positive(float value, string name) =>
        value > 0 && float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, "A learning rate must be a finite number > 0.");
}

/// <summary>Cosine annealing from <c>initial</c> at step 1 to <c>minimum</c> at step <c>steps</c>, then <c>minimum</c>.</summary>
public sealed class CosineSchedule : ILearningRateSchedule
{
    /// <param name="initial">The rate of step 1.</param>
    /// <param name="steps">The step at which the rate reaches <paramref name="minimum"/>, &gt;= 1.</param>
    /// <param name="minimum">The final rate, &gt;= 0 and at most <paramref name="initial"/>.</param>
    public CosineSchedule(float initial, long steps, float minimum = 0)
    {
        Initial = StepDecaySchedule.Positive(initial, nameof(initial));
        Steps = steps >= 1 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), steps, "The annealing length must be >= 1 step.");
        Minimum = minimum >= 0 && minimum <= initial ? minimum : throw new ArgumentOutOfRangeException(nameof(minimum), minimum, "The final rate must be in [0, initial].");
    }

    /// <summary>The rate of step 1.</summary>
    public float Initial { get; }

    /// <summary>The step at which the rate reaches <see cref="Minimum"/>.</summary>
    public long Steps { get; }

    /// <summary>The final rate.</summary>
    public float Minimum { get; }

    /// <inheritdoc/>
    public float At(long step)
    {
        double t = Steps == 1 ? 1 : Math.Clamp((step - 1) / (double)(Steps - 1), 0, 1);
        return (float)(Minimum + 0.5 * (Initial - Minimum) * (1 + Math.Cos(Math.PI * t)));
    }
}

/// <summary>A linear warm-up over the first <c>steps</c> steps (from <c>1/steps</c> of the rate to all of it), then another schedule.</summary>
public sealed class WarmupSchedule : ILearningRateSchedule
{
    /// <param name="then">The schedule the warm-up scales, and follows after it.</param>
    /// <param name="steps">Warm-up steps, &gt;= 1.</param>
    public WarmupSchedule(ILearningRateSchedule then, long steps)
    {
        Then = then ?? throw new ArgumentNullException(nameof(then));
        Steps = steps >= 1 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), steps, "Warm-up steps must be >= 1.");
    }

    /// <summary>The schedule after the warm-up.</summary>
    public ILearningRateSchedule Then { get; }

    /// <summary>Warm-up steps.</summary>
    public long Steps { get; }

    /// <inheritdoc/>
    public float At(long step) => step >= Steps ? Then.At(step) : Then.At(step) * Math.Max(1, step) / Steps;
}
