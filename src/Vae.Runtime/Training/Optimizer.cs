namespace Vae;

/// <summary>
/// An optimiser's hyperparameters. Its state (moments, momentum) lives beside the parameters on the device, in
/// buffers of the same flat layout, and is saved in checkpoints.
/// </summary>
public abstract class Optimizer
{
    private float _learningRate;

    /// <summary>Checks and stores the settings every optimiser has.</summary>
    /// <param name="learningRate">A finite number &gt; 0.</param>
    /// <param name="weightDecay">A finite number &gt;= 0; 0 for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range.</exception>
    protected Optimizer(float learningRate, float weightDecay)
    {
        LearningRate = learningRate;
        if (!(weightDecay >= 0 && float.IsFinite(weightDecay))) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Weight decay must be a finite number >= 0.");
        WeightDecay = weightDecay;
    }

    /// <summary>Step size; may be changed between steps (a schedule).</summary>
    public float LearningRate
    {
        get => _learningRate;
        set => _learningRate = value > 0 && float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(LearningRate), value, "Learning rate must be a finite number > 0.");
    }

    /// <summary>L2 penalty added to the gradient, as torch.optim does.</summary>
    public float WeightDecay { get; }

    /// <summary>Names of the state buffers, as PyTorch calls them (exp_avg, exp_avg_sq, momentum_buffer).</summary>
    public abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>A short description for logs and checkpoint metadata.</summary>
    public abstract string Describe();
}

/// <summary>Adam with PyTorch's defaults (betas 0.9, 0.999; eps 1e-8).</summary>
public sealed class Adam : Optimizer
{
    private static readonly string[] Names = ["exp_avg", "exp_avg_sq"];

    /// <summary>An Adam optimiser; the defaults are torch.optim.Adam's.</summary>
    /// <param name="learningRate">Step size, a finite number &gt; 0.</param>
    /// <param name="beta1">Decay of the running mean of gradients, in [0, 1).</param>
    /// <param name="beta2">Decay of the running mean of squared gradients, in [0, 1).</param>
    /// <param name="epsilon">Added to the root of the second moment before dividing, a finite number &gt; 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (not AdamW's decoupled decay), &gt;= 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range.</exception>
    public Adam(float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : base(learningRate, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (!(epsilon > 0 && float.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be a finite number > 0.");
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>Decay of the running mean of gradients (PyTorch's betas[0]).</summary>
    public float Beta1 { get; }

    /// <summary>Decay of the running mean of squared gradients (PyTorch's betas[1]).</summary>
    public float Beta2 { get; }

    /// <summary>Added to the root of the second moment, guarding the division.</summary>
    public float Epsilon { get; }

    /// <summary>exp_avg and exp_avg_sq, the two moments saved in checkpoints.</summary>
    public override IReadOnlyList<string> StateNames => Names;

    /// <summary>The settings in PyTorch's words, e.g. Adam(lr=0.001, betas=(0.9, 0.999), eps=1E-08, weight_decay=0).</summary>
    public override string Describe() => $"Adam(lr={LearningRate}, betas=({Beta1}, {Beta2}), eps={Epsilon}, weight_decay={WeightDecay})";
}

/// <summary>Stochastic gradient descent, optionally with momentum (PyTorch's form).</summary>
public sealed class Sgd : Optimizer
{
    private static readonly string[] WithMomentum = ["momentum_buffer"];

    /// <summary>An SGD optimiser, with momentum when <paramref name="momentum"/> &gt; 0.</summary>
    /// <param name="learningRate">Step size, a finite number &gt; 0.</param>
    /// <param name="momentum">Momentum factor in [0, 1); 0 is plain SGD with no state.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, &gt;= 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range.</exception>
    public Sgd(float learningRate, float momentum = 0f, float weightDecay = 0f) : base(learningRate, weightDecay)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        Momentum = momentum;
    }

    /// <summary>Momentum factor; 0 for plain SGD.</summary>
    public float Momentum { get; }

    /// <summary>momentum_buffer with momentum, none without.</summary>
    public override IReadOnlyList<string> StateNames => Momentum > 0 ? WithMomentum : [];

    /// <summary>The settings in PyTorch's words, e.g. SGD(lr=0.1, momentum=0.9, weight_decay=0).</summary>
    public override string Describe() => $"SGD(lr={LearningRate}, momentum={Momentum}, weight_decay={WeightDecay})";
}
