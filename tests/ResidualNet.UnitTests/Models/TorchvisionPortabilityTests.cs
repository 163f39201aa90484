using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Models;

/// <summary>
/// <see cref="TorchvisionPortability.Check"/>: the verdict for every registry preset and for each option that has no
/// torchvision equivalent, and the constructor text of the portable ones. That the texts really build the same
/// network in Python is proven by <c>TorchvisionPortabilityPythonTests</c> (integration tests), on the same
/// <see cref="PortableVariations"/>.
/// </summary>
public class TorchvisionPortabilityTests
{
    /// <summary>The torchvision names among the presets: exactly these are portable, each through its named builder.</summary>
    private static readonly string[] TorchvisionNames =
    [
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
        "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
    ];

    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    public static TheoryData<string> EveryPreset() => new(Presets.List());

    /// <summary>The options each non-portable preset is refused for, by family (the plain twins add Block.HasShortcut).</summary>
    private static string[] ExpectedNonPortable(string name)
    {
        bool plain = name.StartsWith(ModelRegistry.PlainPrefix, StringComparison.Ordinal);
        string residual = plain ? name[ModelRegistry.PlainPrefix.Length..] : name;
        var expected = new List<string>();
        bool cifarLayout = residual is "resnet20" or "resnet32" or "resnet44" or "resnet56" or "resnet110" or "resnet1202"
            or "preact_resnet110" or "preact_resnet164" or "preact_resnet1001";
        if (cifarLayout)
        {
            expected.Add("StemWidth");
            expected.Add("Stages");
        }

        if (residual.StartsWith("preact_", StringComparison.Ordinal))
        {
            expected.Add(cifarLayout ? "Stages[0,1,2].Kind" : "Stages[0,1,2,3].Kind");
        }

        if (plain)
        {
            expected.Add("Block.HasShortcut");
        }
        else if (cifarLayout && !residual.StartsWith("preact_", StringComparison.Ordinal))
        {
            expected.Add("Block.Shortcut"); // option A
        }

        return expected.ToArray();
    }

    [Theory]
    [MemberData(nameof(EveryPreset))]
    public void Every_preset_gets_the_right_verdict(string name)
    {
        var result = TorchvisionPortability.Check(Presets.GetOptions(name));

        if (TorchvisionNames.Contains(name))
        {
            result.IsPortable.Should().BeTrue(string.Join("; ", result.NonPortableOptions));
            result.Constructor.Should().Be($"torchvision.models.{name}()");
            result.Edits.Should().BeEmpty();
            result.NonPortableOptions.Should().BeEmpty();
            result.PythonCode.Should().Be($"import torch\nimport torchvision\nmodel = torchvision.models.{name}()\n");
            FluentActions.Invoking(result.ThrowIfNotPortable).Should().NotThrow();
        }
        else
        {
            result.IsPortable.Should().BeFalse();
            result.Constructor.Should().BeNull();
            result.PythonCode.Should().BeNull();
            result.Edits.Should().BeEmpty();
            result.NonPortableOptions.Select(o => o.Name).Should().BeEquivalentTo(ExpectedNonPortable(name));
        }
    }

    [Fact]
    public void The_registry_has_ten_portable_presets_of_48()
    {
        Presets.List().Should().HaveCount(48);
        Presets.List().Where(n => TorchvisionPortability.Check(Presets.GetOptions(n)).IsPortable).Should().BeEquivalentTo(TorchvisionNames);
    }

    [Fact]
    public void Cifar_preset_reasons_name_the_values()
    {
        var result = TorchvisionPortability.Check(Presets.GetOptions("resnet20"));

        result.NonPortableOptions.Should().BeEquivalentTo(new[]
        {
            new NonPortableOption("StemWidth", "16", "torchvision's stem has 64 channels"),
            new NonPortableOption("Stages", "3 stage(s) of 16, 32, 64 planes with strides 1, 2, 2",
                "torchvision's ResNet has 4 stages of 64, 128, 256 and 512 planes with strides 1, 2, 2, 2"),
            new NonPortableOption("Block.Shortcut", "ZeroPad",
                "option A (zero padding, CIFAR ResNets): torchvision's shortcuts are 1x1 projections (option B)"),
        });
    }

    private static ResNetOptions R18 => ResNetPresets.ResNet(18);

    private static ResNetOptions R50 => ResNetPresets.ResNet(50);

    private static ResNetOptions Stage(ResNetOptions o, int index, Func<StageOptions, StageOptions> change) =>
        o with { Stages = o.Stages.Select((s, i) => i == index ? change(s) : s).ToArray() };

    /// <summary>One non-portable option at a time, on an otherwise portable network: (case, options, name, value).</summary>
    public static TheoryData<string, string, string> NonPortableCases() => new()
    {
        { "deep stem", "Stem", "Deep" },
        { "stem width 32", "StemWidth", "32" },
        { "no head", "Head", "None" },
        { "three stages", "Stages", "3 stage(s) of 64, 128, 256 planes with strides 1, 2, 2" },
        { "planes 1024 in stage 4", "Stages", "4 stage(s) of 64, 128, 256, 1024 planes with strides 1, 2, 2, 2" },
        { "stride 1 in stage 2", "Stages", "4 stage(s) of 64, 128, 256, 512 planes with strides 1, 1, 2, 2" },
        { "pre-activation blocks", "Stages[0,1,2,3].Kind", "PreActBasic" },
        { "one pre-activation stage", "Stages[3].Kind", "PreActBasic" },
        { "mixed basic and bottleneck", "Stages[3].Kind", "Bottleneck" },
        { "dilated basic stage", "Stages[3].Dilate", "True" },
        { "stage override", "Stages[1].Options", "BlockOptions other than ResNetOptions.Block" },
        { "GELU", "Block.Activation", "GELU" },
        { "custom norm", "Block.Norm", "MyNorm" },
        { "plain twin", "Block.HasShortcut", "False" },
        { "option A shortcut", "Block.Shortcut", "ZeroPad" },
        { "ResNet-D shortcut", "Block.Shortcut", "AvgPoolProjection" },
        { "squeeze-excitation", "Block.SqueezeExcitation", "True" },
        { "drop path", "Block.DropPathRate", "0.1" },
        { "dilation 2", "Block.Dilation", "2" },
        { "stride on the first 1x1", "Block.StrideOnFirstConv", "True" },
        { "wide basic block", "Block.WidthMultiplier", "2" },
        { "bottleneck width 1.3", "Block.WidthMultiplier", "1.3" },
        { "grouped basic block", "Block.Groups", "2" },
        { "basic block base width 32", "Block.BaseWidth", "32" },
    };

    private static ResNetOptions NonPortable(string name) => name switch
    {
        "deep stem" => R18 with { Stem = StemKind.Deep },
        "stem width 32" => R18 with { StemWidth = 32 },
        "no head" => R18 with { Head = HeadKind.None },
        "three stages" => R18 with { Stages = R18.Stages.Take(3).ToArray() },
        "planes 1024 in stage 4" => Stage(R18, 3, s => s with { Planes = 1024 }),
        "stride 1 in stage 2" => Stage(R18, 1, s => s with { Stride = 1 }),
        "pre-activation blocks" => ResNetPresets.PreActResNet(18),
        "one pre-activation stage" => Stage(R18, 3, s => s with { Kind = BlockKind.PreActBasic }),
        "mixed basic and bottleneck" => Stage(R18, 3, s => s with { Kind = BlockKind.Bottleneck }),
        "dilated basic stage" => Stage(R18, 3, s => s with { Dilate = true }),
        "stage override" => Stage(R18, 1, s => s with { Options = BlockOptions.Default with { ZeroInitLastNorm = true } }),
        "GELU" => R18 with { Block = R18.Block with { Activation = ActivationFactory.GELU } },
        "custom norm" => R18 with { Block = R18.Block with { Norm = NormFactory.Custom("MyNorm", c => TorchSharp.torch.nn.BatchNorm2d(c)) } },
        "plain twin" => R18.AsPlain(),
        "option A shortcut" => R18 with { Block = R18.Block with { Shortcut = ShortcutKind.ZeroPad } },
        "ResNet-D shortcut" => R50 with { Block = R50.Block with { Shortcut = ShortcutKind.AvgPoolProjection } },
        "squeeze-excitation" => R50 with { Block = R50.Block with { SqueezeExcitation = true } },
        "drop path" => R50 with { Block = R50.Block with { DropPathRate = 0.1 } },
        "dilation 2" => R50 with { Block = R50.Block with { Dilation = 2 } },
        "stride on the first 1x1" => R50 with { Block = R50.Block with { StrideOnFirstConv = true } },
        "wide basic block" => R18 with { Block = R18.Block with { WidthMultiplier = 2 } },
        "bottleneck width 1.3" => R50 with { Block = R50.Block with { WidthMultiplier = 1.3 } },
        "grouped basic block" => R18 with { Block = R18.Block with { Groups = 2 } },
        "basic block base width 32" => R18 with { Block = R18.Block with { BaseWidth = 32 } },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown case"),
    };

    [Theory]
    [MemberData(nameof(NonPortableCases))]
    public void Each_non_portable_option_is_named_with_its_value(string testCase, string name, string value)
    {
        var result = TorchvisionPortability.Check(NonPortable(testCase));

        result.IsPortable.Should().BeFalse();
        result.Constructor.Should().BeNull();
        result.NonPortableOptions.Should().ContainSingle();
        result.NonPortableOptions[0].Name.Should().Be(name);
        result.NonPortableOptions[0].Value.Should().Be(value);
        result.NonPortableOptions[0].Reason.Should().NotBeNullOrWhiteSpace();
        var error = FluentActions.Invoking(result.ThrowIfNotPortable).Should().Throw<ArgumentException>().Which;
        error.ParamName.Should().Be("options");
        error.Message.Should().Contain($"{name} = {value} (");
    }

    [Fact]
    public void Several_non_portable_options_are_all_listed()
    {
        var options = ResNetPresets.PreActResNet(18).AsPlain() with { Block = BlockOptions.Default with { HasShortcut = false, Activation = ActivationFactory.Tanh } };

        var result = TorchvisionPortability.Check(options);

        result.NonPortableOptions.Select(o => $"{o.Name} = {o.Value}")
            .Should().Equal("Stages[0,1,2,3].Kind = PreActBasic", "Block.Activation = Tanh", "Block.HasShortcut = False");
        result.ToString().Should().Be("not portable: Stages[0,1,2,3].Kind = PreActBasic; Block.Activation = Tanh; Block.HasShortcut = False");
    }

    /// <summary>Portable variations: (case, constructor, edits joined by " | ").</summary>
    public static TheoryData<string, string, string> PortableCases() => new()
    {
        { "one channel, 10 classes", "torchvision.models.resnet18(num_classes=10)",
            "model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False) | torch.nn.init.kaiming_normal_(model.conv1.weight, mode=\"fan_out\", nonlinearity=\"relu\")" },
        { "CIFAR stem", "torchvision.models.resnet18()",
            "model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False) | torch.nn.init.kaiming_normal_(model.conv1.weight, mode=\"fan_out\", nonlinearity=\"relu\") | model.maxpool = torch.nn.Identity()" },
        { "zero init", "torchvision.models.resnet50(zero_init_residual=True)", "" },
        { "zero init, basic blocks", "torchvision.models.resnet18(zero_init_residual=True)", "" },
        { "GroupNorm", "torchvision.models.resnet18(norm_layer=lambda channels: torch.nn.GroupNorm(32, channels))", "" },
        { "no normalisation", "torchvision.models.resnet18(norm_layer=torch.nn.Identity)", "" },
        { "no normalisation, zero init has no effect", "torchvision.models.resnet18(norm_layer=torch.nn.Identity)", "" },
        { "dilated stages 3 and 4", "torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True])", "" },
        { "width multiplier 2 is wide_resnet50_2", "torchvision.models.wide_resnet50_2()", "" },
        { "custom layers", "torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10)", "" },
        { "custom ResNeXt", "torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 2, 1, 1], groups=4, width_per_group=16)", "" },
        { "custom wide, dilated", "torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10, width_per_group=128, replace_stride_with_dilation=[False, True, True])", "" },
        { "stage override equal to Block", "torchvision.models.resnet18()", "" },
        { "dilate on stage 1 changes nothing", "torchvision.models.resnet18()", "" },
        { "stride on first conv of a basic block changes nothing", "torchvision.models.resnet18()", "" },
        { "stride on first conv with every stride dilated away", "torchvision.models.resnet50(replace_stride_with_dilation=[True, True, True])", "" },
    };

    [Theory]
    [MemberData(nameof(PortableCases))]
    public void Portable_variations_get_their_constructor_and_edits(string testCase, string constructor, string edits)
    {
        var result = TorchvisionPortability.Check(PortableVariations.Options(testCase));

        result.IsPortable.Should().BeTrue(string.Join("; ", result.NonPortableOptions));
        result.Constructor.Should().Be(constructor);
        string.Join(" | ", result.Edits).Should().Be(edits);
        result.PythonCode.Should().Be(string.Join("\n", new[] { "import torch", "import torchvision", "model = " + constructor }.Concat(result.Edits)) + "\n");
    }

    [Fact]
    public void Invalid_options_throw_instead_of_getting_a_verdict()
    {
        FluentActions.Invoking(() => TorchvisionPortability.Check(null!)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => TorchvisionPortability.Check(R18 with { InputChannels = 0 }))
            .Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("InputChannels");
    }
}
