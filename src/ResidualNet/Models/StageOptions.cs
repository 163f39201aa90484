using System;
using ResidualNet.Blocks;

namespace ResidualNet.Models;

/// <summary>
/// One stage of a network: <paramref name="Blocks"/> blocks of one kind; the first block has
/// <paramref name="Stride"/> (and the shortcut that changes the shape), the others stride 1.
/// </summary>
/// <param name="Kind">Block design.</param>
/// <param name="Blocks">Number of blocks, at least 1.</param>
/// <param name="Planes">Planes of every block (output channels are <c>Planes * expansion</c>), at least 1.</param>
/// <param name="Stride">Stride of the first block, at least 1. Default 1.</param>
/// <param name="Dilate">Replace the stride by dilation (torchvision's <c>replace_stride_with_dilation</c>). Default false.</param>
/// <param name="Options">Block options for this stage; the network's <see cref="ResNetOptions.Block"/> when null.</param>
public sealed record StageOptions(BlockKind Kind, int Blocks, long Planes, long Stride = 1, bool Dilate = false, BlockOptions? Options = null)
{
    /// <summary>Output channels of the stage: <c>Planes * Kind.Expansion()</c>.</summary>
    public long OutChannels => Planes * Kind.Expansion();

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it and the value.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"Stage {this}: unknown block kind {Kind}.");
        }

        if (Blocks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Blocks), Blocks, $"Stage {this}: Blocks must be at least 1; got {Blocks}.");
        }

        if (Planes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Planes), Planes, $"Stage {this}: Planes must be at least 1; got {Planes}.");
        }

        if (Stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Stride), Stride, $"Stage {this}: Stride must be at least 1; got {Stride}.");
        }

        if (Blocks > ResNetOptions.MaxBlocks)
        {
            throw new ArgumentOutOfRangeException(nameof(Blocks), Blocks, $"Stage {this}: Blocks must be at most {ResNetOptions.MaxBlocks}; got {Blocks}.");
        }

        if (Planes > ResNetOptions.MaxChannels)
        {
            throw new ArgumentOutOfRangeException(nameof(Planes), Planes, $"Stage {this}: Planes must be at most {ResNetOptions.MaxChannels}; got {Planes}.");
        }

        if (Stride > ResNetOptions.MaxStride)
        {
            throw new ArgumentOutOfRangeException(nameof(Stride), Stride, $"Stage {this}: Stride must be at most {ResNetOptions.MaxStride}; got {Stride}.");
        }

        Options?.Validate();
    }
}
