namespace Vae;

/// <summary>
/// Training met a loss or gradient that is NaN or infinite. The step was not applied: the model keeps the
/// parameters and optimiser state it had before <see cref="Step"/>.
/// </summary>
public sealed class NonFiniteLossException : Exception
{
    /// <summary>Reports a refused step, with advice on what to change.</summary>
    /// <param name="step">The refused step, 1-based.</param>
    /// <param name="loss">The non-finite value met.</param>
    /// <param name="what">What was non-finite, for the message (e.g. "loss" or "gradient norm").</param>
    public NonFiniteLossException(long step, double loss, string what)
        : base($"Training stopped at step {step}: the {what} is {loss}. The parameters from before step {step} are kept. " +
               "Try a lower learning rate, gradient clipping, or check the data for NaN or values outside the likelihood's range.")
    {
        Step = step;
        Loss = loss;
    }

    /// <summary>The step that was refused (1-based, as counted by the model).</summary>
    public long Step { get; }

    /// <summary>The non-finite value.</summary>
    public double Loss { get; }
}
