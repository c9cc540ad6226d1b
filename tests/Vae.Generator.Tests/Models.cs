using Xunit;

namespace Vae.Generator.Tests;

/// <summary>A model declaration as a consumer writes it, and the names the generator should give its output.</summary>
internal sealed record ModelSource(string Name, string HintPrefix, string Source);

/// <summary>
/// Representative declarations shared by the snapshot, determinism, incrementality and timing tests. Each carries XML
/// comments because the harness checks documentation comments: the only warnings left should be the generator's.
/// </summary>
internal static class Models
{
    /// <summary>The default Fashion-MNIST model of the design notes, in a file-scoped namespace.</summary>
    public static readonly ModelSource Fashion = new("FashionVae", "Samples.Fashion.FashionVae", """
        using Vae;

        namespace Samples.Fashion;

        /// <summary>784-400-20, ReLU, Bernoulli pixels.</summary>
        [VariationalAutoencoder(Input = 784, Latent = 20, Likelihood = Likelihood.Bernoulli)]
        [Encoder(400, Activation.Relu)]
        [Decoder(400, Activation.Relu)]
        public partial class FashionVae;
        """);

    /// <summary>
    /// Three layers a side with six different activations (Identity included, which shares its pre-activation buffer),
    /// a fixed-sigma Gaussian, Beta != 1 and three latent samples: every branch of the planner but learned variance.
    /// </summary>
    public static readonly ModelSource Deep = new("DeepGaussianVae", "Samples.Deep.DeepGaussianVae", """
        using Vae;

        namespace Samples.Deep
        {
            /// <summary>Deep Gaussian model with mixed activations.</summary>
            [VariationalAutoencoder(Input = 96, Latent = 6, Likelihood = Likelihood.Gaussian, Sigma = 0.25, Beta = 0.5, LatentSamples = 3)]
            [Encoder(128, Activation.Gelu)]
            [Encoder(64, Activation.Elu)]
            [Encoder(32, Activation.Softplus)]
            [Decoder(32, Activation.LeakyRelu)]
            [Decoder(64, Activation.Sigmoid)]
            [Decoder(128, Activation.Identity)]
            internal sealed partial class DeepGaussianVae
            {
            }
        }
        """);

    /// <summary>Kingma and Welling's learned-variance head, no encoder layers (the heads read the input), global namespace.</summary>
    public static readonly ModelSource LearnedVariance = new("LearnedVarianceVae", "LearnedVarianceVae", """
        using Vae;

        /// <summary>Linear encoder, one Tanh decoder layer, learned variance.</summary>
        [VariationalAutoencoder(Input = 12, Latent = 3, Likelihood = Likelihood.GaussianLearnedVariance)]
        [Decoder(16, Activation.Tanh)]
        public partial class LearnedVarianceVae;
        """);

    /// <summary>The importance-weighted bound with DReG over five samples: the objective op and the latent's other kernels.</summary>
    public static readonly ModelSource ImportanceWeighted = new("ImportanceWeightedVae", "Samples.Iwae.ImportanceWeightedVae", """
        using Vae;

        namespace Samples.Iwae;

        /// <summary>784-200-[10]-200-784, IWAE K = 5 with the doubly reparameterised encoder gradient.</summary>
        [VariationalAutoencoder(Input = 784, Latent = 10, LatentSamples = 5, Objective = Objective.ImportanceWeightedDReG)]
        [Encoder(200, Activation.Relu)]
        [Decoder(200, Activation.Relu)]
        public partial class ImportanceWeightedVae;
        """);

    /// <summary>The convolutional VAE of the Keras example (and of the PyTorch peer), with its shapes computed at compile time.</summary>
    public static readonly ModelSource Convolutional = new("ConvolutionalVae", "Samples.Conv.ConvolutionalVae", """
        using Vae;

        namespace Samples.Conv;

        /// <summary>1x28x28 -> 32x14x14 -> 64x7x7 -> 16 -> [2] -> 3136 -> 64x7x7 -> 64x14x14 -> 32x28x28 -> 1x28x28.</summary>
        [VariationalAutoencoder(Latent = 2)]
        [ImageInput(1, 28, 28)]
        [EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
        [EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
        [Encoder(16, Activation.Relu)]
        [Decoder(3136, Activation.Relu)]
        [DecoderReshape(64, 7, 7)]
        [DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
        [DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
        [DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
        public partial class ConvolutionalVae;
        """);

    /// <summary>The same network with BatchNorm2d after every hidden convolution (Conv -> BatchNorm -> Relu), as PyTorch users write it.</summary>
    public static readonly ModelSource ConvolutionalBatchNorm = new("ConvolutionalBatchNormVae", "Samples.Conv.ConvolutionalBatchNormVae", """
        using Vae;

        namespace Samples.Conv;

        [VariationalAutoencoder(Latent = 2)]
        [ImageInput(1, 28, 28)]
        [EncoderConv2d(32, 3, 2, 1, Activation.Relu, BatchNorm = true)]
        [EncoderConv2d(64, 3, 2, 1, Activation.Relu, BatchNorm = true)]
        [Encoder(16, Activation.Relu)]
        [Decoder(3136, Activation.Relu)]
        [DecoderReshape(64, 7, 7)]
        [DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu, BatchNorm = true)]
        [DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu, BatchNorm = true)]
        [DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
        public partial class ConvolutionalBatchNormVae;
        """);

    /// <summary>
    /// The same network conditioned on ten classes: the label joins the flattened 64x7x7 map before the dense encoder
    /// layer (LabelFeaturesOp) and z before the decoder's dense layer, whose output the transposed convolutions read.
    /// </summary>
    public static readonly ModelSource ConditionalConvolutional = new("ConditionalConvolutionalVae", "Samples.Conv.ConditionalConvolutionalVae", """
        using Vae;

        namespace Samples.Conv;

        [VariationalAutoencoder(Latent = 2)]
        [Conditional(Classes = 10)]
        [ImageInput(1, 28, 28)]
        [EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
        [EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
        [Encoder(16, Activation.Relu)]
        [Decoder(3136, Activation.Relu)]
        [DecoderReshape(64, 7, 7)]
        [DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
        [DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
        [DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
        public partial class ConditionalConvolutionalVae;
        """);

    /// <summary>The peer's VQ-VAE: a convolutional encoder quantised per position (K = 128, D = 16, EMA, restarts), mean squared error.</summary>
    public static readonly ModelSource VectorQuantized = new("VectorQuantizedVae", "Samples.Vq.VectorQuantizedVae", """
        using Vae;

        namespace Samples.Vq;

        [VariationalAutoencoder(Likelihood = Likelihood.MeanSquaredError)]
        [VectorQuantized(Codes = 128, Dimension = 16, Commitment = 0.25, Decay = 0.99)]
        [ImageInput(1, 28, 28)]
        [EncoderConv2d(32, 4, 2, 1, Activation.Relu)]
        [EncoderConv2d(64, 4, 2, 1, Activation.Relu)]
        [EncoderConv2d(16, 1, 1, 0, Activation.Identity)]
        [DecoderReshape(16, 7, 7)]
        [DecoderConvTranspose2d(64, 4, 2, 1, 0, Activation.Relu)]
        [DecoderConvTranspose2d(32, 4, 2, 1, 0, Activation.Relu)]
        [DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
        public partial class VectorQuantizedVae;
        """);

    public static readonly ModelSource[] All = { Fashion, Deep, LearnedVariance, ImportanceWeighted, Convolutional, ConvolutionalBatchNorm, ConditionalConvolutional, VectorQuantized };

    public static ModelSource ByName(string name) => All.Single(m => m.Name == name);

    /// <summary>The model names as theory data, so each model is its own test case.</summary>
    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var model in All) data.Add(model.Name);
            return data;
        }
    }
}
