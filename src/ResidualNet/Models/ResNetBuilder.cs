using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;

namespace ResidualNet.Models;

/// <summary>
/// Fluent builder of new architectures, stage by stage; <see cref="Build"/> produces the same immutable
/// <see cref="ResNetOptions"/> that presets are. (A variant of an existing network is a <c>with</c> expression on its
/// options, not a builder.) Example: a 1-channel, 10-class network of three basic-block stages with tanh and no
/// shortcuts:
/// <code>
/// var options = new ResNetBuilder()
///     .WithStem(StemKind.Cifar, 16).WithInputChannels(1).WithClasses(10)
///     .AddStage(BlockKind.Basic, 3, 16).AddStage(BlockKind.Basic, 3, 32, stride: 2).AddStage(BlockKind.Basic, 3, 64, stride: 2)
///     .WithActivation(ActivationFactory.Tanh).WithoutShortcuts()
///     .Build();
/// using var net = new ResNet(options);
/// </code>
/// </summary>
public sealed class ResNetBuilder
{
    private readonly List<StageOptions> _stages = [];
    private readonly List<Func<BlockOptions, BlockOptions>> _everyBlock = [];
    private ResNetOptions _options;

    /// <summary>Starts from the defaults of <see cref="ResNetOptions"/> with no stages.</summary>
    public ResNetBuilder()
    {
        _options = new ResNetOptions();
    }

    /// <summary>Sets the stem and, when given, its output width.</summary>
    public ResNetBuilder WithStem(StemKind stem, long? width = null)
    {
        _options = _options with { Stem = stem, StemWidth = width ?? _options.StemWidth };
        return this;
    }

    /// <summary>Sets the number of input channels.</summary>
    public ResNetBuilder WithInputChannels(long channels)
    {
        _options = _options with { InputChannels = channels };
        return this;
    }

    /// <summary>Sets the number of classes (and keeps or restores the average-pool-linear head).</summary>
    public ResNetBuilder WithClasses(long numClasses)
    {
        _options = _options with { NumClasses = numClasses, Head = HeadKind.AveragePoolLinear };
        return this;
    }

    /// <summary>Drops the head: the network returns the last feature map.</summary>
    public ResNetBuilder WithoutHead()
    {
        _options = _options with { Head = HeadKind.None };
        return this;
    }

    /// <summary>Appends a stage.</summary>
    /// <param name="kind">Block design.</param>
    /// <param name="blocks">Number of blocks.</param>
    /// <param name="planes">Planes of every block.</param>
    /// <param name="stride">Stride of the first block. Default 1.</param>
    /// <param name="options">Block options of this stage only; the network's when null.</param>
    public ResNetBuilder AddStage(BlockKind kind, int blocks, long planes, long stride = 1, BlockOptions? options = null)
    {
        _stages.Add(new StageOptions(kind, blocks, planes, stride, Options: options));
        return this;
    }

    /// <summary>Removes every stage.</summary>
    public ResNetBuilder ClearStages()
    {
        _stages.Clear();
        return this;
    }

    /// <summary>Replaces the network's block options.</summary>
    public ResNetBuilder WithBlockOptions(BlockOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = _options with { Block = options };
        return this;
    }

    /// <summary>Changes the network's block options, for example <c>o =&gt; o with { Groups = 32, BaseWidth = 4 }</c>.</summary>
    public ResNetBuilder ConfigureBlocks(Func<BlockOptions, BlockOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return WithBlockOptions(configure(_options.Block));
    }

    /// <summary>Sets the activation of the stem and every block, including the blocks of stages added with their own
    /// <c>options</c> (before or after this call).</summary>
    public ResNetBuilder WithActivation(ActivationFactory activation)
    {
        ArgumentNullException.ThrowIfNull(activation);
        return ConfigureEveryBlock(o => o with { Activation = activation });
    }

    /// <summary>Sets the normalisation of the stem and every block, including the blocks of stages added with their
    /// own <c>options</c> (before or after this call).</summary>
    public ResNetBuilder WithNorm(NormFactory norm)
    {
        ArgumentNullException.ThrowIfNull(norm);
        return ConfigureEveryBlock(o => o with { Norm = norm });
    }

    /// <summary>Sets the shortcut used where a block changes shape.</summary>
    public ResNetBuilder WithShortcut(ShortcutKind shortcut) => ConfigureBlocks(o => o with { Shortcut = shortcut });

    /// <summary>Builds the plain twin: no block adds a shortcut, including the blocks of stages added with their own
    /// <c>options</c> (see <see cref="ResNetOptions.AsPlain"/>).</summary>
    public ResNetBuilder WithoutShortcuts() => ConfigureEveryBlock(o => o with { HasShortcut = false });

    /// <summary>Sets the stochastic-depth rate of the last block (earlier blocks get linearly less).</summary>
    public ResNetBuilder WithDropPath(double rate) => ConfigureBlocks(o => o with { DropPathRate = rate });

    /// <summary>Adds squeeze-and-excitation to every block.</summary>
    public ResNetBuilder WithSqueezeExcitation(int reduction = 16)
        => ConfigureBlocks(o => o with { SqueezeExcitation = true, SqueezeExcitationReduction = reduction });

    /// <summary>Zero-initialises the last normalisation of every residual branch.</summary>
    public ResNetBuilder WithZeroInitLastNorm() => ConfigureBlocks(o => o with { ZeroInitLastNorm = true });

    /// <summary>Changes the network's block options now and, at <see cref="Build"/>, every stage's own options.</summary>
    private ResNetBuilder ConfigureEveryBlock(Func<BlockOptions, BlockOptions> change)
    {
        _everyBlock.Add(change);
        return ConfigureBlocks(change);
    }

    /// <summary>The options described so far, validated.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or no stage was added.</exception>
    public ResNetOptions Build()
    {
        var stages = _stages
            .Select(s => s.Options is null ? s : s with { Options = _everyBlock.Aggregate(s.Options, (o, change) => change(o)) })
            .ToArray();
        var options = _options with { Stages = stages };
        options.Validate();
        return options;
    }

    /// <summary>Builds the network.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public ResNet Create() => new(Build());
}
