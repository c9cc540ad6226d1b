namespace Vae.Runtime.Tests;

/// <summary>
/// Descriptors for architectures no generated test model has (the oracle's finite-difference tiers try every
/// activation with every likelihood). Generated models get their layout from the generator's plan; this fixture lays
/// out the same nn.Linear names the plan would, so the oracle can be tested on its own.
/// </summary>
public static class TestLayouts
{
    public static ModelDescriptor Descriptor(string name, int input, int latent, Likelihood likelihood, double beta, int latentSamples,
        double sigma, IReadOnlyList<LayerDescriptor> encoder, IReadOnlyList<LayerDescriptor> decoder, Objective objective = Objective.Elbo, int classes = 0)
    {
        var tensors = new List<TensorDescriptor>();
        int offset = 0;
        void Add(string tensor, int fanIn, params int[] shape)
        {
            tensors.Add(new TensorDescriptor(tensor, shape, offset, TensorRole.Parameter, fanIn));
            offset += shape.Aggregate(1, (a, b) => a * b);
        }
        int width = input + classes;
        for (int i = 0; i < encoder.Count; i++)
        {
            Add($"encoder.{i}.weight", width, encoder[i].Units, width);
            Add($"encoder.{i}.bias", width, encoder[i].Units);
            width = encoder[i].Units;
        }
        Add("encoder.mu.weight", width, latent, width);
        Add("encoder.logvar.weight", width, latent, width);
        Add("encoder.mu.bias", width, latent);
        Add("encoder.logvar.bias", width, latent);
        width = latent + classes;
        for (int i = 0; i < decoder.Count; i++)
        {
            Add($"decoder.{i}.weight", width, decoder[i].Units, width);
            Add($"decoder.{i}.bias", width, decoder[i].Units);
            width = decoder[i].Units;
        }
        bool learned = likelihood == Likelihood.GaussianLearnedVariance;
        Add("decoder.out.weight", width, input, width);
        if (learned) Add("decoder.logvar.weight", width, input, width);
        Add("decoder.out.bias", width, input);
        if (learned) Add("decoder.logvar.bias", width, input);
        return new ModelDescriptor(name, input, latent, likelihood, beta, latentSamples, sigma, encoder, decoder, tensors, objective, classes: classes);
    }
}
