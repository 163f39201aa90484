using System;
using ResidualNet.Blocks;

namespace ResidualNet.Models;

/// <summary>
/// The published architectures as <see cref="ResNetOptions"/> values. Every method returns a fresh, equal value;
/// a method takes only what defines its architecture (depth, groups, width). Everything else is a <c>with</c>
/// expression on the result (for example <c>ResNetPresets.ResNet(18) with { NumClasses = 10 }</c>); build it with
/// <c>new ResNet(options)</c>. <see cref="ModelRegistry"/> lists them by name.
/// </summary>
public static class ResNetPresets
{
    /// <summary>torchvision's ResNet-18/34/50/101/152 (He et al. 2015, Table 1; bottleneck stride on the 3x3, "v1.5"),
    /// 1000 classes.</summary>
    /// <param name="depth">18, 34, 50, 101 or 152.</param>
    /// <exception cref="ArgumentOutOfRangeException">Another depth.</exception>
    public static ResNetOptions ResNet(int depth)
        => ImageNetLayout(depth, nameof(depth), preActivation: false);

    /// <summary>torchvision's ResNeXt (Xie et al. 2017): bottlenecks with <paramref name="groups"/> groups of
    /// <paramref name="widthPerGroup"/> channels, for example (50, 32, 4) for <c>resnext50_32x4d</c>.</summary>
    /// <param name="depth">50, 101 or 152.</param>
    /// <param name="groups">Cardinality, at least 1.</param>
    /// <param name="widthPerGroup">Width per group, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public static ResNetOptions ResNeXt(int depth, int groups, int widthPerGroup)
    {
        CheckBottleneckDepth(depth);
        if (groups < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"groups must be at least 1; got {groups}.");
        }

        if (widthPerGroup < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(widthPerGroup), widthPerGroup, $"widthPerGroup must be at least 1; got {widthPerGroup}.");
        }

        var options = ImageNetLayout(depth, nameof(depth), preActivation: false);
        return options with { Block = options.Block with { Groups = groups, BaseWidth = widthPerGroup } };
    }

    /// <summary>torchvision's Wide ResNet (Zagoruyko and Komodakis 2016): bottleneck inner width times
    /// <paramref name="widthFactor"/> (torchvision's <c>width_per_group = 64 * factor</c>).</summary>
    /// <param name="depth">50, 101 or 152.</param>
    /// <param name="widthFactor">Widening factor, at least 1. Default 2.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public static ResNetOptions WideResNet(int depth, int widthFactor = 2)
    {
        CheckBottleneckDepth(depth);
        if (widthFactor < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(widthFactor), widthFactor, $"widthFactor must be at least 1; got {widthFactor}.");
        }

        var options = ImageNetLayout(depth, nameof(depth), preActivation: false);
        return options with { Block = options.Block with { BaseWidth = 64 * widthFactor } };
    }

    /// <summary>Pre-activation ResNet-18/34/50/101/152 (He et al. 2016) in the ImageNet layout: torchvision's stages
    /// with <see cref="PreActBasicBlock"/> or <see cref="PreActBottleneck"/>, projection shortcuts, a final
    /// normalisation and activation before the head.</summary>
    /// <param name="depth">18, 34, 50, 101 or 152.</param>
    /// <exception cref="ArgumentOutOfRangeException">Another depth.</exception>
    public static ResNetOptions PreActResNet(int depth)
        => ImageNetLayout(depth, nameof(depth), preActivation: true);

    /// <summary>
    /// The CIFAR ResNets of He et al. (2015, section 4.2): depth <c>6n + 2</c>, a 3x3 stem of 16 channels, three
    /// stages of n basic blocks with 16, 32 and 64 channels, global average pooling and <c>fc</c> for 10 classes.
    /// </summary>
    /// <param name="depth">6n + 2 with n at least 1: 20, 32, 44, 56, 110, 1202...</param>
    /// <param name="shortcut">Shortcut where the shape changes: <see cref="ShortcutKind.ZeroPad"/> (option A, the
    /// paper's CIFAR choice, the default) or <see cref="ShortcutKind.Projection"/> (option B; adds 2,752 parameters).</param>
    /// <exception cref="ArgumentOutOfRangeException">The depth is not 6n + 2.</exception>
    public static ResNetOptions CifarResNet(int depth, ShortcutKind shortcut = ShortcutKind.ZeroPad)
    {
        int n = BlocksPerStage(depth, 6, nameof(depth));
        return CifarLayout(BlockKind.Basic, n, 16) with { Block = BlockOptions.Default with { Shortcut = shortcut } };
    }

    /// <summary>
    /// The CIFAR pre-activation ResNets of He et al. (2016): with basic blocks depth <c>6n + 2</c> (ResNet-110),
    /// with bottlenecks depth <c>9n + 2</c> (ResNet-164, ResNet-1001), stages of 16, 32, 64 planes (bottleneck
    /// outputs 64, 128, 256), projection shortcuts (a 1x1 convolution) where the shape changes, 10 classes.
    /// </summary>
    /// <param name="depth">6n + 2 for basic blocks, 9n + 2 for bottlenecks.</param>
    /// <param name="bottleneck">Use <see cref="PreActBottleneck"/> blocks.</param>
    /// <exception cref="ArgumentOutOfRangeException">The depth does not fit the block kind.</exception>
    public static ResNetOptions CifarPreActResNet(int depth, bool bottleneck)
    {
        int n = BlocksPerStage(depth, bottleneck ? 9 : 6, nameof(depth));
        return CifarLayout(bottleneck ? BlockKind.PreActBottleneck : BlockKind.PreActBasic, n, 16);
    }

    private static ResNetOptions CifarLayout(BlockKind kind, int n, long stemWidth) => new()
    {
        Stem = StemKind.Cifar,
        StemWidth = stemWidth,
        NumClasses = 10,
        Stages =
        [
            new StageOptions(kind, n, 16),
            new StageOptions(kind, n, 32, 2),
            new StageOptions(kind, n, 64, 2),
        ],
    };

    private static ResNetOptions ImageNetLayout(int depth, string paramName, bool preActivation)
    {
        (bool bottleneck, int[] counts) = depth switch
        {
            18 => (false, new[] { 2, 2, 2, 2 }),
            34 => (false, new[] { 3, 4, 6, 3 }),
            50 => (true, new[] { 3, 4, 6, 3 }),
            101 => (true, new[] { 3, 4, 23, 3 }),
            152 => (true, new[] { 3, 8, 36, 3 }),
            _ => throw new ArgumentOutOfRangeException(paramName, depth, $"The ImageNet-layout depth must be 18, 34, 50, 101 or 152; got {depth}."),
        };
        var kind = (bottleneck, preActivation) switch
        {
            (false, false) => BlockKind.Basic,
            (true, false) => BlockKind.Bottleneck,
            (false, true) => BlockKind.PreActBasic,
            (true, true) => BlockKind.PreActBottleneck,
        };
        return new ResNetOptions
        {
            Stages =
            [
                new StageOptions(kind, counts[0], 64),
                new StageOptions(kind, counts[1], 128, 2),
                new StageOptions(kind, counts[2], 256, 2),
                new StageOptions(kind, counts[3], 512, 2),
            ],
        };
    }

    private static void CheckBottleneckDepth(int depth)
    {
        if (depth is not (50 or 101 or 152))
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"The bottleneck depth must be 50, 101 or 152; got {depth}.");
        }
    }

    private static int BlocksPerStage(int depth, int layersPerBlockTimesStages, string paramName)
    {
        if (depth < layersPerBlockTimesStages + 2 || (depth - 2) % layersPerBlockTimesStages != 0)
        {
            throw new ArgumentOutOfRangeException(paramName, depth,
                $"The CIFAR depth must be {layersPerBlockTimesStages}n + 2 with n >= 1 ({layersPerBlockTimesStages + 2}, {2 * layersPerBlockTimesStages + 2}, ...); got {depth}.");
        }

        return (depth - 2) / layersPerBlockTimesStages;
    }
}
