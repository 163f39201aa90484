using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Models;

namespace ResidualNet.Samples.Classify;

/// <summary>The networks the Classify sample can train (<c>--model</c>), all from ResidualNet.Models.</summary>
public static class Models
{
    /// <summary>The default model's name.</summary>
    public const string DefaultName = "resnet-20";

    private static readonly Dictionary<string, ResNetOptions> Catalogue = new(StringComparer.OrdinalIgnoreCase)
    {
        // He et al. (2015, section 4.2): 3x3 stem, three stages of three basic blocks with 16/32/64 filters, option A
        // shortcuts, global average pooling, fc; one input channel.
        ["resnet-20"] = ResNetPresets.CifarResNet(20) with { InputChannels = 1 },

        // A shallow, wide ResNet for CPUs: a 3x3 stem of 32 filters at 28x28, then two stages of one basic block each
        // (64 filters at 14x14, 128 filters at 7x7, projection shortcuts). Fewer, wider layers use CPU cores better.
        ["wide-resnet-6"] = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 32)
            .WithInputChannels(1)
            .WithClasses(10)
            .WithShortcut(ShortcutKind.Projection)
            .AddStage(BlockKind.Basic, 1, 64, stride: 2)
            .AddStage(BlockKind.Basic, 1, 128, stride: 2)
            .Build(),

        // Same idea with two blocks per stage and a first stage at full resolution.
        ["wide-resnet-10"] = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 32)
            .WithInputChannels(1)
            .WithClasses(10)
            .WithShortcut(ShortcutKind.Projection)
            .AddStage(BlockKind.Basic, 1, 32, stride: 2)
            .AddStage(BlockKind.Basic, 2, 64, stride: 1)
            .AddStage(BlockKind.Basic, 1, 128, stride: 2)
            .Build(),
    };

    /// <summary>The model names, in catalogue order.</summary>
    public static IReadOnlyList<string> Names { get; } = Catalogue.Keys.ToArray();

    /// <summary>The options of a named model.</summary>
    /// <param name="name">A name from <see cref="Names"/> (case-insensitive).</param>
    /// <returns>The options (1 input channel, 10 classes).</returns>
    public static ResNetOptions Options(string name) => Catalogue[name];

    /// <summary>
    /// Builds a named classifier (1 x 28 x 28 input, 10 classes). Called after torch.manual_seed, twice (once to train,
    /// once to load the saved weights into a fresh instance), so it builds the same architecture every time.
    /// </summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    /// <returns>A freshly initialised classifier.</returns>
    public static ResNet Create(string name) => new(Options(name));
}
