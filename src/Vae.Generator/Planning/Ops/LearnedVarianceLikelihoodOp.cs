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
        protected override string DeviceRow => @"/* Eight columns at a time on vector registers (vector exp), then the ragged tail one by one. */
vae_f8 acc = vae_zero8();
int i = 0;
for (; i + 8 <= INPUT; i += 8)
{
    vae_f8 g_mean, g_logvar;
    acc = vae_madd8(1.0f, vae_gaussian_lv8(vae_load8(o + i), vae_load8(o + INPUT + i), vae_load8(xr + i), &g_mean, &g_logvar), acc);
    if (with_gradient)
    {
        vae_store8(vae_madd8(grad_scale, g_mean, vae_zero8()), d + i);
        vae_store8(vae_madd8(grad_scale, g_logvar, vae_zero8()), d + INPUT + i);
    }
}
sum = vae_hsum8(acc);
for (; i < INPUT; i++)
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
