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
    private readonly StageOptions[] _stages = [];

    /// <summary>The most channels of any layer: <see cref="StemWidth"/>, <see cref="InputChannels"/>, a stage's
    /// <see cref="StageOptions.Planes"/>, 65,536.</summary>
    public const long MaxChannels = 1 << 16;

    /// <summary>The most classes, 16,777,216.</summary>
    public const long MaxClasses = 1 << 24;

    /// <summary>The most stages, 64.</summary>
    public const int MaxStages = 64;

    /// <summary>The most blocks, per stage and in all, 10,000.</summary>
    public const int MaxBlocks = 10_000;

    /// <summary>The largest stride of a stage, 64.</summary>
    public const long MaxStride = 64;

    /// <summary>The largest dilation of any block, the block's own times what dilated stages add, 1,024.</summary>
    public const long MaxDilation = 1024;

    /// <summary>The most parameters a network may have, 2^31 (8 GiB in float32), estimated from the options
    /// (convolutions and linear layer) before anything is allocated.</summary>
    public const long MaxParameters = 1L << 31;

    /// <summary>The stem. Default <see cref="StemKind.ImageNet"/>.</summary>
    public StemKind Stem { get; init; } = StemKind.ImageNet;

    /// <summary>Output channels of the stem. Default 64.</summary>
    public long StemWidth { get; init; } = 64;

    /// <summary>The residual stages, registered as <c>layer1</c>, <c>layer2</c>... Default empty (must be set).
    /// The list is copied when set, so later changes to the caller's collection do not reach the options.</summary>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    public IReadOnlyList<StageOptions> Stages
    {
        get => _stages;
        init => _stages = value is null ? throw new ArgumentNullException(nameof(Stages)) : value.ToArray();
    }

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
    /// <remarks>Saturates at <see cref="int.MaxValue"/> (<see cref="Validate"/> allows at most <see cref="MaxBlocks"/>).</remarks>
    public int BlockCount => (int)Math.Min(int.MaxValue, Stages.Sum(s => (long)s.Blocks));

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

        CheckAtMost(nameof(StemWidth), StemWidth, MaxChannels);
        CheckAtMost(nameof(InputChannels), InputChannels, MaxChannels);
        if (Head != HeadKind.None)
        {
            CheckAtMost(nameof(NumClasses), NumClasses, MaxClasses);
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

        if (Stages.Count == 0)
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

        CheckAtMost(nameof(Stages), Stages.Count, MaxStages);
        long blocks = Stages.Sum(s => (long)s.Blocks);
        if (blocks > MaxBlocks)
        {
            throw new ArgumentOutOfRangeException(nameof(Stages), blocks, $"The stages hold {blocks} blocks in all; the limit is {MaxBlocks}.");
        }

        long dilation = 1;
        foreach (var stage in Stages)
        {
            long previous = dilation;
            if (stage.Dilate)
            {
                dilation *= stage.Stride;
            }

            long effective = (stage.Options ?? Block).Dilation * Math.Max(previous, dilation);
            if (effective > MaxDilation)
            {
                throw new ArgumentOutOfRangeException(nameof(Stages), effective,
                    $"Stage {stage} reaches a dilation of {effective} (its blocks' Dilation times the strides that dilated stages replace); the limit is {MaxDilation}.");
            }
        }

        double parameters = EstimateParameters();
        if (parameters > MaxParameters)
        {
            throw new ArgumentOutOfRangeException(nameof(Stages), parameters, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"The network would have about {parameters:G3} parameters (estimated from the options before allocating); the limit is {MaxParameters} (2^31)."));
        }
    }

    /// <summary>An estimate of the parameter count from the options (convolutions, shortcut projections,
    /// squeeze-excitation and the linear layer; normalisation layers are left out), in floating point so that it
    /// cannot overflow.</summary>
    private double EstimateParameters()
    {
        double w = StemWidth, c = InputChannels;
        double total = Stem switch
        {
            StemKind.ImageNet => 49 * c * w,
            StemKind.Deep => (9 * c * (w / 2)) + (9 * (w / 2) * (w / 2)) + (9 * (w / 2) * w),
            _ => 9 * c * w,
        };
        double inChannels = w;
        foreach (var stage in Stages)
        {
            var options = stage.Options ?? Block;
            double planes = stage.Planes, outChannels = stage.Planes * (double)stage.Kind.Expansion();
            bool bottleneck = stage.Kind.Expansion() > 1;
            double width = bottleneck
                ? Math.Floor(planes * (options.BaseWidth / 64.0) * options.WidthMultiplier) * options.Groups
                : Math.Floor(planes * options.WidthMultiplier);
            double block = bottleneck
                ? (outChannels * width) + (9 * width * width / options.Groups) + (width * outChannels)
                : (9 * outChannels * width) + (9 * width * outChannels);
            if (options.SqueezeExcitation)
            {
                block += 2 * outChannels * outChannels / options.SqueezeExcitationReduction;
            }

            total += (stage.Blocks * block) + (inChannels * outChannels) + (9 * inChannels * width);
            inChannels = outChannels;
        }

        return total + (Head == HeadKind.None ? 0 : inChannels * (double)NumClasses);
    }

    private static void CheckAtMost(string name, long value, long limit)
    {
        if (value > limit)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at most {limit}; got {value}.");
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
