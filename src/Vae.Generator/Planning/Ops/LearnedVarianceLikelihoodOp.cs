namespace Vae.Generator.Planning.Ops
{
    /// <summary>
    /// A Gaussian whose log variance is a second decoder head (Kingma and Welling's MLP): output rows are [mean | logvar],
    /// -log p = (log(2 pi) + lv + (x - m)^2 exp(-lv)) / 2 per dimension.
    /// </summary>
    internal sealed record LearnedVarianceLikelihoodOp(string Gradient) : LikelihoodOp(Gradient)
    {
        public override string Name => "GaussianLearnedVariance";
        public override int OutputWidth(int input) => 2 * input;
        protected override string CpuTarget => "global::Vae.Kernels.Cpu.Likelihoods.GaussianLearnedVarianceTarget";
        protected override string CpuMean => "global::Vae.Kernels.Cpu.Likelihoods.GaussianMean";
        protected override string DeviceMean => "v";
        protected override string DeviceRow => @"for (int i = 0; i < INPUT; i++)
{
    float diff = xr[i] - o[i];
    float lv = o[INPUT + i];
    float precision = VAE_EXP(-lv);
    sum += lv + diff * diff * precision;
    if (with_gradient)
    {
        d[i] = -grad_scale * diff * precision;
        d[INPUT + i] = grad_scale * 0.5f * (1.0f - diff * diff * precision);
    }
}
row_nll[gid] = 0.5f * sum + INPUT * VAE_HALF_LOG_TWO_PI;";
    }
}
