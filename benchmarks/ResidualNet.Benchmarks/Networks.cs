using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Performance;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// The networks and blocks the suites measure: the TorchVision baseline, and the library's own.
/// </summary>
/// <remarks>
/// ==== PLUG-IN POINT FOR THE LEAD ==========================================================================
/// <see cref="Library"/> and <see cref="LibraryBlock"/> build TorchVision stand-ins until ResidualNet's own
/// networks are merged. After the merge, replace their bodies with ResidualNet's builders (resnet18/50 with
/// torchvision-identical layout, and add CIFAR resnet20/56/110 and the plain twins to <see cref="Names"/> /
/// <see cref="InputSize"/>; CIFAR networks have no TorchVision baseline, so their suites compare the optimized
/// paths with the library's default configuration). <see cref="CheckpointedLibrary"/> should then use the
/// library's own checkpointing option instead of re-assembling TorchVision's children.
/// ==========================================================================================================
/// </remarks>
public static class Networks
{
    /// <summary>The whole networks measured (ImageNet layout, 1000 classes, 224x224 input).</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "resnet18", "resnet50" };

    /// <summary>Quick mode (a smoke test, not a measurement): tiny images. Set RESIDUALNET_BENCHMARK_QUICK=1.</summary>
    public static bool Quick => Environment.GetEnvironmentVariable("RESIDUALNET_BENCHMARK_QUICK") == "1";

    /// <summary>The input resolution of <paramref name="name"/> (32 in quick mode).</summary>
    public static int InputSize(string name) => Quick ? 32 : name switch
    {
        "resnet18" or "resnet50" => 224,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown network '{name}'."),
    };

    /// <summary>The baseline: TorchSharp's TorchVision package.</summary>
    public static nn.Module<Tensor, Tensor> TorchVision(string name, Device device) => name switch
    {
        "resnet18" => torchvision.models.resnet18(device: device),
        "resnet50" => torchvision.models.resnet50(device: device),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown network '{name}'."),
    };

    /// <summary>
    /// The library's network in its default configuration. STAND-IN: TorchVision until the lead plugs in
    /// ResidualNet.Models here.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Library(string name, Device device) => TorchVision(name, device);

    /// <summary>
    /// The library's network with activation checkpointing per block. STAND-IN: re-assembles a TorchVision ResNet's
    /// children (stem, every block of layer1..4 wrapped in <see cref="Checkpoint"/>, pool, flatten, fc) into a Sequential.
    /// </summary>
    public static nn.Module<Tensor, Tensor> CheckpointedLibrary(string name, Device device)
    {
        var model = Library(name, device);
        var children = model.named_children().ToList();
        string[] expected = { "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc" };
        if (!children.Select(c => c.Item1).SequenceEqual(expected))
        {
            throw new InvalidOperationException($"Unexpected children of {name}: {string.Join(", ", children.Select(c => c.Item1))}.");
        }

        // The children are registered in forward order, so the Sequential computes what ResNet.forward does.
        var parts = children
            .Select(c => (c.Item1, c.Item1.StartsWith("layer", StringComparison.Ordinal)
                ? CheckpointEachBlock((Sequential)c.Item2)
                : (nn.Module<Tensor, Tensor>)c.Item2))
            .ToArray();
        return nn.Sequential(parts);
    }

    private static Sequential CheckpointEachBlock(Sequential stage) => nn.Sequential(
        stage.named_children().Select(c => (c.Item1, (nn.Module<Tensor, Tensor>)new Checkpoint((nn.Module<Tensor, Tensor>)c.Item2))).ToArray());

    /// <summary>The single blocks measured: kind, channels in, spatial size (a stage-2..4 position of resnet18/50).</summary>
    public static IReadOnlyList<string> BlockNames { get; } = new[] { "basic-64x56", "basic-256x14", "bottleneck-256x56", "bottleneck-1024x14" };

    /// <summary>Input channels and spatial size of a block shape.</summary>
    public static (int Channels, int Size) BlockInput(string block) => block switch
    {
        "basic-64x56" => (64, Quick ? 8 : 56),
        "basic-256x14" => (256, Quick ? 4 : 14),
        "bottleneck-256x56" => (256, Quick ? 8 : 56),
        "bottleneck-1024x14" => (1024, Quick ? 4 : 14),
        _ => throw new ArgumentOutOfRangeException(nameof(block), block, $"Unknown block '{block}'."),
    };

    /// <summary>
    /// The baseline block: an identity-shortcut block taken from a TorchVision network (its block classes are
    /// private): resnet18's layer1[1] / layer3[1], resnet50's layer1[1] / layer3[1].
    /// </summary>
    public static nn.Module<Tensor, Tensor> TorchVisionBlock(string block, Device device)
    {
        var (network, layer) = block switch
        {
            "basic-64x56" => ("resnet18", "layer1"),
            "basic-256x14" => ("resnet18", "layer3"),
            "bottleneck-256x56" => ("resnet50", "layer1"),
            "bottleneck-1024x14" => ("resnet50", "layer3"),
            _ => throw new ArgumentOutOfRangeException(nameof(block), block, $"Unknown block '{block}'."),
        };
        var model = TorchVision(network, device);
        var stage = (Sequential)model.named_children().Single(c => c.Item1 == layer).Item2;
        return (nn.Module<Tensor, Tensor>)stage.named_children().Single(c => c.Item1 == "1").Item2;
    }

    /// <summary>The library's block. STAND-IN: TorchVision's until the lead plugs in ResidualNet.Blocks.</summary>
    public static nn.Module<Tensor, Tensor> LibraryBlock(string block, Device device) => TorchVisionBlock(block, device);
}
