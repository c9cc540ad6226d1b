using System.Collections.Generic;
using System.Globalization;

namespace Vae.Generator.Planning.Ops
{
    /// <summary>A Gaussian with fixed standard deviation Sigma: -log p = |x - m|^2 / (2 sigma^2) + Input (log sigma + log(2 pi) / 2).</summary>
    internal sealed record GaussianLikelihoodOp(string Gradient, double Sigma) : LikelihoodOp(Gradient)
    {
        public override string Name => "Gaussian";
        protected override string CpuTarget => "global::Vae.Kernels.Cpu.Likelihoods.GaussianTarget";
        protected override string CpuMean => "global::Vae.Kernels.Cpu.Likelihoods.GaussianMean";
        protected override string DeviceMean => "v";
        protected override IEnumerable<Arg> ExtraTargetArgs => new[] { Arg.Constant("Sigma") };

        public override void Declare(LayoutBuilder layout)
        {
            string value = ((float)Sigma).ToString("R", CultureInfo.InvariantCulture);
            string literal = (value.Contains(".") || value.Contains("E") ? value : value + ".0") + "f";
            layout.Constant(new ConstantPlan("Sigma", "SIGMA", "float", literal, literal, "the decoder's fixed standard deviation"));
        }

        protected override string DeviceRow => @"float inverse_variance = 1.0f / (SIGMA * SIGMA);
/* Eight columns at a time on vector registers, then the ragged tail one by one. */
vae_f8 acc = vae_zero8();
int i = 0;
for (; i + 8 <= INPUT; i += 8)
{
    vae_f8 diff = vae_madd8(-1.0f, vae_load8(xr + i), vae_load8(o + i));
    acc = vae_madd8(diff, diff, acc);
    if (with_gradient) vae_store8(vae_madd8(grad_scale * inverse_variance, diff, vae_zero8()), d + i);
}
sum = vae_hsum8(acc);
for (; i < INPUT; i++)
{
    float diff = o[i] - xr[i];
    sum += diff * diff;
    if (with_gradient) d[i] = grad_scale * inverse_variance * diff;
}
row_nll[gid] = 0.5f * sum * inverse_variance + INPUT * (VAE_LOG(SIGMA) + VAE_HALF_LOG_TWO_PI);";
    }
}
