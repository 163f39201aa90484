using System;

namespace ResidualNet.Blocks;

/// <summary>The four residual block designs of the library.</summary>
public enum BlockKind
{
    /// <summary><see cref="BasicBlock"/>: two 3x3 convolutions, expansion 1 (ResNet-18/34, CIFAR ResNets).</summary>
    Basic = 0,

    /// <summary><see cref="Bottleneck"/>: 1x1, 3x3, 1x1 convolutions, expansion 4 (ResNet-50 and deeper, ResNeXt, Wide ResNet).</summary>
    Bottleneck = 1,

    /// <summary><see cref="PreActBasicBlock"/>: pre-activation basic block (He et al. 2016).</summary>
    PreActBasic = 2,

    /// <summary><see cref="PreActBottleneck"/>: pre-activation bottleneck (He et al. 2016).</summary>
    PreActBottleneck = 3,
}

/// <summary>Facts about <see cref="BlockKind"/> values.</summary>
public static class BlockKindExtensions
{
    /// <summary>Ratio of a block's output channels to its <c>planes</c>: 1 for basic blocks, 4 for bottlenecks.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Unknown kind.</exception>
    public static int Expansion(this BlockKind kind) => kind switch
    {
        BlockKind.Basic => BasicBlock.Expansion,
        BlockKind.Bottleneck => Bottleneck.Expansion,
        BlockKind.PreActBasic => PreActBasicBlock.Expansion,
        BlockKind.PreActBottleneck => PreActBottleneck.Expansion,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown block kind {kind}."),
    };

    /// <summary>True for the pre-activation kinds (normalisation and activation before each convolution).</summary>
    public static bool IsPreActivation(this BlockKind kind) => kind is BlockKind.PreActBasic or BlockKind.PreActBottleneck;
}
