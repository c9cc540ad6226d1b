namespace Vae.Samples.Fashion;

// The convolutional model: the shape of Keras's "Variational AutoEncoder" example, layer for layer the PyTorch peer
// ../shared/peers/torch_conv_vae.py (134,165 parameters with Latent = 2), with a Bernoulli decoder on logits. With
// Latent = 2 it is the peer's model and draws the manifold; Latent = 20 compares with the dense default.
// 1x28x28-32x14x14-64x7x7-3136-16-[J]-3136-64x7x7-64x14x14-32x28x28-1x28x28.

/// <summary>The convolutional model (--model conv) with two latent dimensions: the peer's, and the default of --model conv.</summary>
[VariationalAutoencoder(Latent = 2, Likelihood = Likelihood.Bernoulli)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
[Encoder(16, Activation.Relu)]
[Decoder(3136, Activation.Relu)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionConvVae2;

/// <summary>The convolutional model with 20 latent dimensions, as many as the dense default.</summary>
[VariationalAutoencoder(Latent = 20, Likelihood = Likelihood.Bernoulli)]
[ImageInput(1, 28, 28)]
[EncoderConv2d(32, 3, 2, 1, Activation.Relu)]
[EncoderConv2d(64, 3, 2, 1, Activation.Relu)]
[Encoder(16, Activation.Relu)]
[Decoder(3136, Activation.Relu)]
[DecoderReshape(64, 7, 7)]
[DecoderConvTranspose2d(64, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(32, 3, 2, 1, 1, Activation.Relu)]
[DecoderConvTranspose2d(1, 3, 1, 1, 0, Activation.Identity)]
public partial class FashionConvVae20;

/// <summary>
/// The conditional convolutional model (--model conv --conditional): the same network, the label one-hot joining the
/// flattened 64x7x7 map before the dense encoder layer and z before the dense decoder layer.
/// </summary>
[VariationalAutoencoder(Latent = 2, Likelihood = Likelihood.Bernoulli)]
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
public partial class FashionConvCvae2;
