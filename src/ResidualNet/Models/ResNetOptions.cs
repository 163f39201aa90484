using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;

namespace ResidualNet.Models;

/// <summary>
/// Immutable description of a residual network: stem, stages, head and block options. Presets
/// (<see cref="ResNetPresets"/>) are values of this record; make variants with <c>with</c>, for example
/// <c>ResNetPresets.ResNet(18) with { InputChannels = 1, NumClasses = 10 }</c> for Fashion-MNIST.
/// Two options compare equal when every value and every stage is equal.
/// </summary>
public sealed record ResNetOptions
{
    /// <summary>The stem. Default <see cref="StemKind.ImageNet"/>.</summary>
    public StemKind Stem { get; init; } = StemKind.ImageNet;

    /// <summary>Output channels of the stem. Default 64.</summary>
    public long StemWidth { get; init; } = 64;

    /// <summary>The residual stages, registered as <c>layer1</c>, <c>layer2</c>... Default empty (must be set).</summary>
    public IReadOnlyList<StageOptions> Stages { get; init; } = [];

    /// <summary>Input channels (3 for RGB, 1 for Fashion-MNIST). Default 3.</summary>
    public long InputChannels { get; init; } = 3;

    /// <summary>Number of classes of the <c>fc</c> layer. Default 1000. Ignored when <see cref="Head"/> is <see cref="HeadKind.None"/>.</summary>
    public long NumClasses { get; init; } = 1000;

    /// <summary>The head. Default <see cref="HeadKind.AveragePoolLinear"/>.</summary>
    public HeadKind Head { get; init; } = HeadKind.AveragePoolLinear;

    /// <summary>Options of every block (and of the stem's normalisation and activation) unless a stage overrides them.
    /// Default <see cref="BlockOptions.Default"/>.</summary>
    public BlockOptions Block { get; init; } = BlockOptions.Default;

    /// <summary>True when the blocks add their shortcuts (false for a plain twin).</summary>
    public bool HasShortcut => Block.HasShortcut && Stages.All(s => s.Options?.HasShortcut ?? true);

    /// <summary>Total number of blocks.</summary>
    public int BlockCount => Stages.Sum(s => s.Blocks);

    /// <summary>
    /// The plain twin: the same network with <see cref="BlockOptions.HasShortcut"/> false in every block (same
    /// layers and initialisation, no shortcut additions, no projection layers).
    /// </summary>
    public ResNetOptions AsPlain() => this with
    {
        Block = Block with { HasShortcut = false },
        Stages = Stages.Select(s => s.Options is null ? s : s with { Options = s.Options with { HasShortcut = false } }).ToArray(),
    };

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it and the value.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Stem))
        {
            throw new ArgumentOutOfRangeException(nameof(Stem), Stem, $"Unknown stem kind {Stem}.");
        }

        if (StemWidth < (Stem == StemKind.Deep ? 2 : 1))
        {
            throw new ArgumentOutOfRangeException(nameof(StemWidth), StemWidth,
                $"StemWidth must be at least {(Stem == StemKind.Deep ? 2 : 1)} for a {Stem} stem; got {StemWidth}.");
        }

        if (InputChannels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(InputChannels), InputChannels, $"InputChannels must be at least 1; got {InputChannels}.");
        }

        if (!Enum.IsDefined(Head))
        {
            throw new ArgumentOutOfRangeException(nameof(Head), Head, $"Unknown head kind {Head}.");
        }

        if (Head != HeadKind.None && NumClasses < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(NumClasses), NumClasses, $"NumClasses must be at least 1; got {NumClasses}.");
        }

        if (Stages is null || Stages.Count == 0)
        {
            throw new ArgumentException("Stages must hold at least one stage; got none.", nameof(Stages));
        }

        if (Block is null)
        {
            throw new ArgumentNullException(nameof(Block));
        }

        Block.Validate();
        for (int i = 0; i < Stages.Count; i++)
        {
            if (Stages[i] is null)
            {
                throw new ArgumentException($"Stage {i} is null.", nameof(Stages));
            }

            Stages[i].Validate();
        }
    }

    /// <inheritdoc />
    public bool Equals(ResNetOptions? other)
        => other is not null
           && Stem == other.Stem
           && StemWidth == other.StemWidth
           && InputChannels == other.InputChannels
           && NumClasses == other.NumClasses
           && Head == other.Head
           && Block == other.Block
           && Stages.SequenceEqual(other.Stages);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Stem);
        hash.Add(StemWidth);
        hash.Add(InputChannels);
        hash.Add(NumClasses);
        hash.Add(Head);
        hash.Add(Block);
        foreach (var stage in Stages)
        {
            hash.Add(stage);
        }

        return hash.ToHashCode();
    }
}
