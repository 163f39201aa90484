using System;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>
/// The seed's experiments on ResidualNet's own networks, for SeedClaimsTests (samples/GradientFlowExperiments builds the
/// same networks from the library's CIFAR presets and prints the numbers these tests assert).
/// <list type="bullet">
/// <item><see cref="Cifar"/>: the CIFAR layout of He et al. (3x3 stem, three stages of n blocks with 16/32/64 filters,
/// option A shortcuts, average pool, linear; 6n + 2 weighted layers) built with <see cref="ResNetBuilder"/>, with any
/// activation and normalisation, pre-activation blocks (x + F(x), the seed's formula) or the original post-activation
/// blocks (act(x + F(x))), and its plain twin (<c>WithoutShortcuts</c>).</item>
/// <item><see cref="Registry"/>: a registry preset such as <c>plain_resnet56</c> (BatchNorm, ReLU).</item>
/// </list>
/// Every network uses the library's torchvision initialisation (Kaiming normal, fan_out) from seed 0, and is
/// measured on one fixed batch of 16 random 3x32x32 images with cross-entropy, in training mode.
/// </summary>
public static class SeedNetworks
{
    /// <summary>A CIFAR-layout network of <paramref name="depth"/> = 6n + 2 layers, built with the builder.</summary>
    public static ResNet Cifar(int depth, ActivationFactory activation, bool residual, NormFactory norm, bool preActivation = true, int seed = 0)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"depth must be 6n + 2; got {depth}.");
        }

        int n = (depth - 2) / 6;
        var kind = preActivation ? BlockKind.PreActBasic : BlockKind.Basic;
        var builder = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 16)
            .WithClasses(10)
            .WithActivation(activation)
            .WithNorm(norm)
            .WithShortcut(ShortcutKind.ZeroPad)
            .AddStage(kind, n, 16)
            .AddStage(kind, n, 32, 2)
            .AddStage(kind, n, 64, 2);
        if (!residual)
        {
            builder = builder.WithoutShortcuts();
        }

        torch.manual_seed(seed);
        return builder.Create();
    }

    /// <summary>One stage of <paramref name="blocks"/> pre-activation basic blocks of 16 channels (shape-preserving, for the identity term).</summary>
    public static ResNet SingleStage(int blocks, ActivationFactory activation, bool residual, NormFactory norm, int seed = 0)
    {
        var builder = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 16)
            .WithClasses(10)
            .WithActivation(activation)
            .WithNorm(norm)
            .AddStage(BlockKind.PreActBasic, blocks, 16);
        if (!residual)
        {
            builder = builder.WithoutShortcuts();
        }

        torch.manual_seed(seed);
        return builder.Create();
    }

    /// <summary>A preset of <see cref="ModelRegistry.Default"/>'s built-in list, from seed 0.</summary>
    public static ResNet Registry(string name, int seed = 0)
    {
        torch.manual_seed(seed);
        return Presets.Create(name);
    }

    /// <summary>The fixed batch: 16 random 3x32x32 images and labels in 0..9.</summary>
    public static (Tensor Images, Tensor Labels) Batch(int seed = 1, int batch = 16, int size = 32)
    {
        var generator = new torch.Generator((ulong)seed);
        var images = torch.randn(new long[] { batch, 3, size, size }, generator: generator);
        var labels = torch.randint(0, 10, new long[] { batch }, generator: generator);
        return (images, labels);
    }

    /// <summary>One monitored step at initialisation (training mode): the fixed batch, cross-entropy, backward.</summary>
    public static GradientFlowStep GradientFlowAtInit(ResNet network)
    {
        using var scope = torch.NewDisposeScope();
        network.train();
        var (images, labels) = Batch();
        using var monitor = GradientFlowMonitor.Attach(network);
        nn.functional.cross_entropy(network.call(images), labels).backward();
        return monitor.RecordStep()!;
    }

    /// <summary>
    /// The first and last convolution weights' gradient norms (stem conv1 and the last block's last convolution;
    /// shortcut layers excluded) and ||dL/dx|| at the first and the last block's input.
    /// </summary>
    public static SeedMeasurement Measure(ResNet network)
    {
        var step = GradientFlowAtInit(network);
        var convs = step.Parameters.Where(p => p.IsWeight && p.Name != "fc.weight" && !p.Name.Contains("downsample", StringComparison.Ordinal)).ToList();
        return new SeedMeasurement(
            convs[0].L2Norm,
            convs[^1].L2Norm,
            step.Blocks[0].InputGradientNorm!.Value,
            step.Blocks[^1].InputGradientNorm!.Value,
            step);
    }

    /// <summary>The identity term of a single-stage network's blocks, from the stem's output for the fixed batch (8 probes, seed 0).</summary>
    public static IdentityTermReport IdentityTermAtInit(ResNet network)
    {
        using var scope = torch.NewDisposeScope();
        var (images, _) = Batch();
        Tensor x = images;
        using (torch.no_grad())
        {
            foreach (var (name, child) in network.named_children())
            {
                if (name.StartsWith("layer", StringComparison.Ordinal))
                {
                    break;
                }

                x = ((nn.Module<Tensor, Tensor>)child).call(x);
            }
        }

        return IdentityTerm.Measure(network.Blocks.Select(b => (nn.Module<Tensor, Tensor>)b.Module).ToList(), x);
    }

    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();
}

/// <summary>What <see cref="SeedNetworks.Measure"/> found.</summary>
public sealed record SeedMeasurement(double FirstWeight, double LastWeight, double FirstBlock, double LastBlock, GradientFlowStep Step)
{
    /// <summary>First over last convolution weight-gradient norm.</summary>
    public double WeightRatio => FirstWeight / LastWeight;

    /// <summary>||dL/dx|| at the first block's input over that at the last block's input.</summary>
    public double BlockRatio => FirstBlock / LastBlock;
}
