using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Models;
using ResidualNet.Performance;
using TorchSharp;
using TorchSharp.Modules;
using ResNet = ResidualNet.Models.ResNet;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// The networks and blocks the suites measure: TorchSharp's TorchVision (the baseline of the torchvision
/// families) and ResidualNet's own (<see cref="ModelRegistry.Default"/>, <see cref="BasicBlock"/>,
/// <see cref="Bottleneck"/>).
/// </summary>
/// <remarks>
/// Environment variables: <c>RESIDUALNET_BENCHMARK_QUICK=1</c> (smoke test: tiny images, batch at most 2) and
/// <c>RESIDUALNET_BENCHMARK_NETWORKS=resnet50,resnet56</c> (restricts every network parameter to those names, so
/// that one run measures only what it needs; BenchmarkDotNet has no command-line filter on parameters).
/// </remarks>
public static class Networks
{
    /// <summary>The ImageNet-layout networks measured against TorchVision (1000 classes, 224x224 input).</summary>
    public static IReadOnlyList<string> Names => Restrict("resnet18", "resnet50");

    /// <summary>The CIFAR networks (10 classes, 32x32 input) and their plain twins; baseline: the library's default.</summary>
    public static IReadOnlyList<string> CifarNames => Restrict("resnet20", "resnet56", "resnet110", "plain_resnet20", "plain_resnet56", "plain_resnet110");

    /// <summary>The deep networks of the checkpointing suite: resnet152 (224x224) and CIFAR resnet1202 (32x32).</summary>
    public static IReadOnlyList<string> CheckpointNames => Restrict("resnet152", "resnet1202");

    /// <summary>The networks of the gradient-flow-monitor overhead suite (CIFAR).</summary>
    public static IReadOnlyList<string> MonitorNames => Restrict("resnet20", "resnet56");

    /// <summary>The networks of the ONNX Runtime suite: one ImageNet, one CIFAR.</summary>
    public static IReadOnlyList<string> OnnxNames => Restrict("resnet18", "resnet20");

    /// <summary>
    /// The networks of the quantized-inference suite: resnet50 (224x224, batch 8) and the Classify sample's
    /// <c>wide-resnet-6</c> (1 x 28 x 28 Fashion-MNIST images, batch 128).
    /// </summary>
    public static IReadOnlyList<string> QuantizedNames => Restrict("resnet50", "wide-resnet-6");

    /// <summary>Quick mode (a smoke test, not a measurement): tiny images. Set RESIDUALNET_BENCHMARK_QUICK=1.</summary>
    public static bool Quick => Environment.GetEnvironmentVariable("RESIDUALNET_BENCHMARK_QUICK") == "1";

    /// <summary>Whether <paramref name="name"/> is a CIFAR network (32x32, 10 classes).</summary>
    public static bool IsCifar(string name) => ModelRegistry.Default.GetOptions(name).Stem == StemKind.Cifar;

    /// <summary>The number of classes of <paramref name="name"/>.</summary>
    public static int Classes(string name) => checked((int)ModelRegistry.Default.GetOptions(name).NumClasses);

    /// <summary>The input resolution of <paramref name="name"/>: 224 (ImageNet) or 32 (CIFAR); 32 in quick mode.</summary>
    public static int InputSize(string name) => Quick || IsCifar(name) ? 32 : 224;

    /// <summary>The baseline: TorchSharp's TorchVision package.</summary>
    public static nn.Module<Tensor, Tensor> TorchVision(string name, Device device) => name switch
    {
        "resnet18" => torchvision.models.resnet18(device: device),
        "resnet50" => torchvision.models.resnet50(device: device),
        "resnet152" => torchvision.models.resnet152(device: device),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"TorchVision has no network '{name}'."),
    };

    /// <summary>The library's network in its default configuration (<see cref="ModelRegistry.Default"/>).</summary>
    public static ResNet Library(string name, Device device) => ModelRegistry.Default.Create(name).to(device);

    /// <summary>The library's network with activation checkpointing (<see cref="ResNet.Checkpointing"/>).</summary>
    public static ResNet CheckpointedLibrary(string name, Device device, CheckpointGranularity granularity = CheckpointGranularity.Block)
    {
        var model = Library(name, device);
        model.Checkpointing = granularity;
        return model;
    }

    /// <summary>The single blocks measured: kind, channels in, spatial size (a stage-1/3 position of resnet18/50).</summary>
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

    /// <summary>The library's block of the same shape (identity shortcut, default options).</summary>
    public static ResidualBlockBase LibraryBlock(string block, Device device) => block switch
    {
        "basic-64x56" => new BasicBlock(64, 64).to(device),
        "basic-256x14" => new BasicBlock(256, 256).to(device),
        "bottleneck-256x56" => new Bottleneck(256, 64).to(device),
        "bottleneck-1024x14" => new Bottleneck(1024, 256).to(device),
        _ => throw new ArgumentOutOfRangeException(nameof(block), block, $"Unknown block '{block}'."),
    };

    private static string[] Restrict(params string[] names)
    {
        var wanted = Environment.GetEnvironmentVariable("RESIDUALNET_BENCHMARK_NETWORKS");
        if (string.IsNullOrWhiteSpace(wanted))
        {
            return names;
        }

        var set = wanted.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var kept = names.Where(set.Contains).ToArray();
        // A suite none of whose networks is wanted keeps its first one, so that its parameter source is never empty.
        return kept.Length > 0 ? kept : new[] { names[0] };
    }
}
