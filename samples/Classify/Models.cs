using static TorchSharp.torch;

namespace ResidualNet.Samples.Classify;

/// <summary>The network the Classify sample trains.</summary>
public static class Models
{
    /// <summary>Name printed in the output and used for the saved model's file.</summary>
    public const string Name = "classifier";

    /// <summary>
    /// THE PLUG-IN POINT: builds the classifier (1 x 28 x 28 input, 10 classes). Called after torch.manual_seed, twice
    /// (once to train, once to load the saved weights into a fresh instance), so it must build the same architecture
    /// every time.
    /// </summary>
    /// <remarks>
    /// LEAD: replace the placeholder below with the library's CIFAR-style ResNet for 1-channel input, for example a
    /// ResNet-20 (or a small wide ResNet) from ResidualNet.Models, and update <see cref="Name"/> and samples/README.md.
    /// </remarks>
    /// <returns>A freshly initialised classifier.</returns>
    public static nn.Module<Tensor, Tensor> Create() =>
        PlaceholderNetworks.PlainConvNet(layersPerStage: 1, width: 16, classes: 10); // LEAD: plug the library's ResNet in here.
}
