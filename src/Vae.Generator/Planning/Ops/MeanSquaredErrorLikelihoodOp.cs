namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// The mean squared error per value, (1/Input) sum (m - x)^2 per row, as PyTorch's <c>F.mse_loss</c>: a VQ-VAE's
    /// reconstruction loss (not a log-likelihood; the parser allows it with a vector-quantised latent only).
    /// </summary>
    internal sealed record MeanSquaredErrorLikelihoodOp(string Gradient) : LikelihoodOp(Gradient)
    {
        public override string Name => "MeanSquaredError";
        protected override string CpuTarget => "global::Vae.Kernels.Cpu.Likelihoods.MeanSquaredErrorTarget";
        protected override string CpuMean => "global::Vae.Kernels.Cpu.Likelihoods.GaussianMean";
        protected override string DeviceMean => "v";
        protected override string DeviceRow => @"float twice_over_n = 2.0f / INPUT;
for (int i = 0; i < INPUT; i++)
{
    float diff = o[i] - xr[i];
    sum += diff * diff;
    if (with_gradient) d[i] = grad_scale * (twice_over_n * diff);
}
row_nll[gid] = sum / INPUT;";
    }
}
