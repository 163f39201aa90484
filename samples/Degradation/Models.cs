using System.Collections.Generic;
using ResidualNet.Models;

namespace ResidualNet.Samples.Degradation;

/// <summary>The networks the Degradation sample trains and compares.</summary>
public static class Models
{
    /// <summary>
    /// The list of named networks (1 x 28 x 28 input, 10 classes). Each factory is called after
    /// torch.manual_seed(seed), so every run builds the same initial weights. Order = order of training and legend.
    /// </summary>
    /// <remarks>
    /// All four come from <see cref="ResNetPresets.CifarResNet"/> (He et al. 2015, section 4.2: 3x3 stem, three stages of
    /// n basic blocks with 16/32/64 filters, global average pooling, linear layer; option A zero-padding shortcuts) with
    /// one input channel. The plain nets are the residual nets' plain twins (<see cref="ResNetOptions.AsPlain"/>): the
    /// same layers and initialisation without the shortcut additions, so plain and residual nets differ only by their
    /// shortcuts.
    /// </remarks>
    /// <returns>The catalogue, in training order.</returns>
    public static IReadOnlyList<NamedModel> Catalog() =>
    [
        new("plain-20", () => new ResNet(Cifar(20).AsPlain())),
        new("plain-56", () => new ResNet(Cifar(56).AsPlain())),
        new("resnet-20", () => new ResNet(Cifar(20))),
        new("resnet-56", () => new ResNet(Cifar(56))),
    ];

    /// <summary>The CIFAR ResNet of the given depth for one input channel and 10 classes.</summary>
    /// <param name="depth">6n + 2.</param>
    /// <returns>The options.</returns>
    public static ResNetOptions Cifar(int depth) => ResNetPresets.CifarResNet(depth) with { InputChannels = 1 };
}
