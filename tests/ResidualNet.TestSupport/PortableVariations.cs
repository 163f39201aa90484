using System;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;

namespace ResidualNet.TestSupport;

/// <summary>
/// The portable variations of torchvision's ResNet, by case name: the unit tests check the constructor text that
/// <see cref="TorchvisionPortability.Check"/> gives each (TorchvisionPortabilityTests), the integration tests build
/// each in Python and compare (TorchvisionPortabilityPythonTests).
/// </summary>
public static class PortableVariations
{
    private static ResNetOptions R18 => ResNetPresets.ResNet(18);

    private static ResNetOptions R50 => ResNetPresets.ResNet(50);

    private static ResNetOptions Stage(ResNetOptions o, int index, Func<StageOptions, StageOptions> change) =>
        o with { Stages = o.Stages.Select((s, i) => i == index ? change(s) : s).ToArray() };

    /// <summary>The options of the named case.</summary>
    /// <param name="name">A case name of TorchvisionPortabilityTests.PortableCases.</param>
    /// <returns>The options.</returns>
    public static ResNetOptions Options(string name) => name switch
    {
        "one channel, 10 classes" => R18 with { InputChannels = 1, NumClasses = 10 },
        "CIFAR stem" => R18 with { Stem = StemKind.Cifar },
        "zero init" => R50 with { Block = R50.Block with { ZeroInitLastNorm = true } },
        "zero init, basic blocks" => R18 with { Block = R18.Block with { ZeroInitLastNorm = true } },
        "GroupNorm" => R18 with { Block = R18.Block with { Norm = NormFactory.GroupNorm(32) } },
        "no normalisation" => R18 with { Block = R18.Block with { Norm = NormFactory.None } },
        "no normalisation, zero init has no effect" => R18 with { Block = R18.Block with { Norm = NormFactory.None, ZeroInitLastNorm = true } },
        "dilated stages 3 and 4" => Stage(Stage(R50, 2, s => s with { Dilate = true }), 3, s => s with { Dilate = true }),
        "width multiplier 2 is wide_resnet50_2" => R50 with { Block = R50.Block with { WidthMultiplier = 2 } },
        "custom layers" => R18 with { NumClasses = 10, Stages = R18.Stages.Select(s => s with { Blocks = 1 }).ToArray() },
        "custom ResNeXt" => R50 with
        {
            Stages = R50.Stages.Select((s, i) => s with { Blocks = i == 1 ? 2 : 1 }).ToArray(),
            Block = R50.Block with { Groups = 4, BaseWidth = 16 },
        },
        "custom wide, dilated" => R50 with
        {
            NumClasses = 10,
            Stages = R50.Stages.Select((s, i) => s with { Blocks = 1, Dilate = i >= 2 }).ToArray(),
            Block = R50.Block with { WidthMultiplier = 2 },
        },
        "stage override equal to Block" => Stage(R18, 2, s => s with { Options = BlockOptions.Default }),
        "dilate on stage 1 changes nothing" => Stage(R18, 0, s => s with { Dilate = true }),
        "stride on first conv of a basic block changes nothing" => R18 with { Block = R18.Block with { StrideOnFirstConv = true } },
        "stride on first conv with every stride dilated away" => R50 with
        {
            Stages = R50.Stages.Select((s, i) => s with { Dilate = i > 0 }).ToArray(),
            Block = R50.Block with { StrideOnFirstConv = true },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown case"),
    };
}
