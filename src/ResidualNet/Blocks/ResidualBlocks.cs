using System;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>Creates a block of any <see cref="BlockKind"/>.</summary>
public static class ResidualBlocks
{
    /// <summary>Creates a block, initialised as torchvision does.</summary>
    /// <param name="kind">Block design.</param>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="planes">Output channels divided by the kind's expansion, at least 1.</param>
    /// <param name="stride">Stride, at least 1.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <returns>The block; it also implements <see cref="IResidualBlock"/>.</returns>
    /// <exception cref="ArgumentException">A size or option is out of range.</exception>
    public static nn.Module<Tensor, Tensor> Create(BlockKind kind, long inChannels, long planes, long stride = 1, BlockOptions? options = null) => kind switch
    {
        BlockKind.Basic => new BasicBlock(inChannels, planes, stride, options),
        BlockKind.Bottleneck => new Bottleneck(inChannels, planes, stride, options),
        BlockKind.PreActBasic => new PreActBasicBlock(inChannels, planes, stride, options),
        BlockKind.PreActBottleneck => new PreActBottleneck(inChannels, planes, stride, options),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Unknown block kind {kind}."),
    };
}
