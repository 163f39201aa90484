using System.Collections.Generic;

namespace ResidualNet.Samples.Degradation;

/// <summary>The networks the Degradation sample trains and compares.</summary>
public static class Models
{
    /// <summary>
    /// THE PLUG-IN POINT: the list of named networks (1 x 28 x 28 input, 10 classes). Each factory is called after
    /// torch.manual_seed(seed), so every run builds the same initial weights. Order = order of training and legend.
    /// </summary>
    /// <remarks>
    /// The plain nets below are He et al.'s CIFAR plain nets adapted to one input channel: a 3x3 stem, three stages of
    /// 6n 3x3 conv-BN-ReLU layers with 16/32/64 filters, global average pooling and a linear layer (depth 6n + 2).
    /// LEAD: add "resnet-20" and "resnet-56" from ResidualNet.Models (CIFAR-style, option A shortcuts, 1 input channel),
    /// and switch the plain entries to the library's plain twins if it has them, so that plain and residual nets
    /// differ only by their shortcuts. Then update samples/README.md.
    /// </remarks>
    /// <returns>The catalogue, in training order.</returns>
    public static IReadOnlyList<NamedModel> Catalog() =>
    [
        new("plain-20", () => PlaceholderNetworks.PlainConvNet(layersPerStage: 6, width: 16)),
        new("plain-56", () => PlaceholderNetworks.PlainConvNet(layersPerStage: 18, width: 16)),

        // LEAD: plug the library's residual networks in here, for example:
        // new("resnet-20", () => <ResidualNet.Models CIFAR ResNet-20, 1 input channel, 10 classes>),
        // new("resnet-56", () => <ResidualNet.Models CIFAR ResNet-56, 1 input channel, 10 classes>),
    ];
}
