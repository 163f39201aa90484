using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Models;

namespace ResidualNet.Samples;

/// <summary>A network the samples train: a name (options, file names, legends) and its architecture.</summary>
/// <param name="Name">Name such as <c>plain-20</c>.</param>
/// <param name="Options">The architecture (1 input channel, 10 classes).</param>
public sealed record NamedNetwork(string Name, ResNetOptions Options)
{
    /// <summary>Builds a freshly initialised network; call it after <c>torch.manual_seed</c> for reproducible weights.</summary>
    /// <returns>The network.</returns>
    public ResNet Create() => new(Options);
}

/// <summary>
/// The networks of the training samples, in one place so that every program that trains, exports or benchmarks them
/// builds the same architecture: Degradation and the GPU runner (<c>benchmarks/ResidualNet.GpuSweep</c>) train
/// <see cref="Degradation"/>; Classify trains <see cref="Classify"/>, OnnxExport exports what it saved and the
/// benchmarks' <c>QuantizedInferenceBenchmarks</c> measures its <c>wide-resnet-6</c>. All come
/// from ResidualNet.Models, take 1 x 28 x 28 images and give 10 classes.
/// </summary>
public static class SampleNetworks
{
    /// <summary>
    /// He et al. (2015, Fig. 6): plain-20, plain-56, ResNet-20, ResNet-56, in training (and legend) order.
    /// The residual nets are <see cref="ResNetPresets.CifarResNet"/> with one input channel (3x3 stem, three stages of
    /// n basic blocks with 16/32/64 filters, option A zero-padding shortcuts, global average pooling, linear layer);
    /// the plain nets are their twins (<see cref="ResNetOptions.AsPlain"/>): the same layers and initialisation
    /// without the shortcut additions, so the two kinds differ only by their shortcuts.
    /// </summary>
    public static IReadOnlyList<NamedNetwork> Degradation { get; } =
    [
        new("plain-20", Cifar(20).AsPlain()),
        new("plain-56", Cifar(56).AsPlain()),
        new("resnet-20", Cifar(20)),
        new("resnet-56", Cifar(56)),
    ];

    /// <summary>
    /// The classifiers of the Classify sample (<c>--model</c>): <c>resnet-20</c> (He et al.'s CIFAR ResNet-20),
    /// <c>wide-resnet-6</c> (a 3x3 stem of 32 filters at 28x28, then one basic block of 64 filters at 14x14 and one of
    /// 128 at 7x7, projection shortcuts: fewer, wider layers use CPU cores better) and <c>wide-resnet-10</c> (the same
    /// idea with a first stage at 14x14 and two blocks of 64).
    /// </summary>
    public static IReadOnlyList<NamedNetwork> Classify { get; } =
    [
        new("resnet-20", Cifar(20)),
        new("wide-resnet-6", Wide().AddStage(BlockKind.Basic, 1, 64, stride: 2).AddStage(BlockKind.Basic, 1, 128, stride: 2).Build()),
        new("wide-resnet-10", Wide().AddStage(BlockKind.Basic, 1, 32, stride: 2).AddStage(BlockKind.Basic, 2, 64, stride: 1).AddStage(BlockKind.Basic, 1, 128, stride: 2).Build()),
    ];

    /// <summary>The CIFAR ResNet of the given depth for one input channel and 10 classes.</summary>
    /// <param name="depth">6n + 2.</param>
    /// <returns>The options.</returns>
    public static ResNetOptions Cifar(int depth) => ResNetPresets.CifarResNet(depth) with { InputChannels = 1 };

    /// <summary>The network of <paramref name="catalogue"/> called <paramref name="name"/> (case-insensitive).</summary>
    /// <param name="catalogue">For example <see cref="Classify"/>.</param>
    /// <param name="name">The name.</param>
    /// <returns>The network.</returns>
    /// <exception cref="ArgumentException">No network of that name; the message lists the names.</exception>
    public static NamedNetwork Find(this IReadOnlyList<NamedNetwork> catalogue, string name)
    {
        ArgumentNullException.ThrowIfNull(catalogue);
        return catalogue.FirstOrDefault(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown network '{name}'; choose from {string.Join(", ", catalogue.Select(n => n.Name))}.", nameof(name));
    }

    private static ResNetBuilder Wide() => new ResNetBuilder()
        .WithStem(StemKind.Cifar, 32)
        .WithInputChannels(1)
        .WithClasses(10)
        .WithShortcut(ShortcutKind.Projection);
}
