namespace Vae.Generator.Planning.Ops
{
    /// <summary>Bernoulli on logits l: -log p = softplus(l) - x l, with e = exp(-|l|) serving both softplus and the sigmoid.</summary>
    internal sealed record BernoulliLikelihoodOp(string Gradient) : LikelihoodOp(Gradient)
    {
        public override string Name => "Bernoulli";
        protected override string CpuTarget => "global::Vae.Kernels.Cpu.Likelihoods.BernoulliTarget";
        protected override string CpuMean => "global::Vae.Kernels.Cpu.Likelihoods.BernoulliMean";
        protected override string DeviceMean => "vae_logistic(v)";
        protected override string DeviceRow => @"/* Eight columns at a time on vector registers (vector exp and log), then the ragged tail one by one. */
vae_f8 acc = vae_zero8();
int i = 0;
for (; i + 8 <= INPUT; i += 8)
{
    vae_f8 g;
    acc = vae_madd8(1.0f, vae_bernoulli8(vae_load8(o + i), vae_load8(xr + i), &g), acc);
    if (with_gradient) vae_store8(vae_madd8(grad_scale, g, vae_zero8()), d + i);
}
sum = vae_hsum8(acc);
for (; i < INPUT; i++)
{
    float l = o[i];
    float e = VAE_EXP(-VAE_FABS(l));
    sum += VAE_FMAX(l, 0.0f) - xr[i] * l + VAE_LOG(1.0f + e);
    if (with_gradient) d[i] = grad_scale * ((l >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e)) - xr[i]);
}
row_nll[gid] = sum;";
    }
}
