using System;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using TorchSharp;
using Xunit;

namespace ResidualNet.UnitTests.Models;

/// <summary>Bad input throws an ArgumentException naming the parameter and the value received.</summary>
public class BadInputTests
{
    [Theory]
    [InlineData(21)]
    [InlineData(2)]
    [InlineData(0)]
    [InlineData(-4)]
    public void CifarDepthMustBe6nPlus2(int depth)
    {
        var act = () => ResNetPresets.CifarResNet(depth);
        act.Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "depth" && e.Message.Contains($"got {depth}") && e.Message.Contains("6n + 2"));
    }

    [Fact]
    public void CifarPreActBottleneckDepthMustBe9nPlus2()
    {
        var act = () => ResNetPresets.CifarPreActResNet(165, bottleneck: true);
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "depth" && e.Message.Contains("got 165") && e.Message.Contains("9n + 2"));
    }

    [Fact]
    public void ImageNetDepthMustBeOneOfTheFive()
    {
        var act = () => ResNetPresets.ResNet(19);
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "depth" && e.Message.Contains("got 19"));
    }

    [Fact]
    public void GroupNormGroupsMustDivideTheWidth()
    {
        // CIFAR stages have 16 channels; 32 groups cannot divide them.
        var options = ResNetPresets.CifarResNet(20) with { Block = BlockOptions.Default with { Norm = NormFactory.GroupNorm(32), Shortcut = ShortcutKind.ZeroPad } };
        var act = () => new ResNet(options);
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "groups" && e.Message.Contains("groups = 32") && e.Message.Contains("16"));
    }

    [Fact]
    public void BasicBlocksRejectGroups()
    {
        var act = () => new BasicBlock(64, 64, options: new BlockOptions { Groups = 32 });
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "options" && e.Message.Contains("Groups = 1; got 32"));
    }

    [Fact]
    public void ZeroOrNegativeSizesAreRejected()
    {
        FluentActions.Invoking(() => new BasicBlock(0, 64)).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "inChannels" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new Bottleneck(64, -1)).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "planes" && e.Message.Contains("got -1"));
        FluentActions.Invoking(() => new PreActBasicBlock(64, 64, 0)).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "stride" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new Bottleneck(64, 64, options: new BlockOptions { BaseWidth = 0 })).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "BaseWidth" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new Bottleneck(64, 64, options: new BlockOptions { Groups = -2 })).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "Groups" && e.Message.Contains("got -2"));
        FluentActions.Invoking(() => new ResNet(ResNetPresets.ResNet(18) with { InputChannels = 0 })).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "InputChannels" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new ResNet(ResNetPresets.ResNet(18) with { NumClasses = -3 })).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "NumClasses" && e.Message.Contains("got -3"));
        FluentActions.Invoking(() => new ResNet(ResNetPresets.ResNet(18) with { StemWidth = 0 })).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "StemWidth" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new ResNetBuilder().AddStage(BlockKind.Basic, 0, 16).Build()).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "Blocks" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new ResNetBuilder().AddStage(BlockKind.Basic, 2, 0).Build()).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "Planes" && e.Message.Contains("got 0"));
        FluentActions.Invoking(() => new ResNetBuilder().Build()).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "Stages");
        FluentActions.Invoking(() => new DropPath(1.0)).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "rate" && e.Message.Contains("got 1"));
        FluentActions.Invoking(() => new ResNetBuilder().AddStage(BlockKind.Basic, 1, 8).WithoutShortcuts().WithDropPath(0.2).Build())
            .Should().Throw<ArgumentException>().Where(e => e.ParamName == "DropPathRate" && e.Message.Contains("0.2"));
    }

    [Fact]
    public void WrongChannelCountAtForwardIsRejectedBeforeTheNativeCall()
    {
        using var model = ModelRegistry.Default.Create("resnet20");
        using var x = torch.randn(2, 1, 32, 32);
        var act = () => model.call(x);
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "input" && e.Message.Contains("expects 3 input channels; got 1") && e.Message.Contains("[2, 1, 32, 32]"));

        using var block = new Bottleneck(256, 64);
        using var y = torch.randn(1, 64, 8, 8);
        FluentActions.Invoking(() => block.call(y)).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "input" && e.Message.Contains("expects 256 input channels; got 64"));
    }

    [Fact]
    public void WrongRankAtForwardIsRejectedBeforeTheNativeCall()
    {
        using var model = ModelRegistry.Default.Create("resnet20");
        using var x = torch.randn(3, 32, 32);
        FluentActions.Invoking(() => model.call(x)).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "input" && e.Message.Contains("got rank 3") && e.Message.Contains("[3, 32, 32]"));
        FluentActions.Invoking(() => model.ForwardFeatures(x)).Should().Throw<ArgumentException>().Where(e => e.ParamName == "input");

        using var block = new BasicBlock(16, 16);
        using var flat = torch.randn(2, 16);
        FluentActions.Invoking(() => block.call(flat)).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "input" && e.Message.Contains("got rank 2"));
    }

    [Fact]
    public void ZeroPadShortcutCannotReduceChannels()
    {
        FluentActions.Invoking(() => new ZeroPadShortcut(64, 32, 2)).Should().Throw<ArgumentOutOfRangeException>()
            .Where(e => e.ParamName == "outChannels" && e.Message.Contains("32") && e.Message.Contains("64"));
    }

    [Fact]
    public void IdentityShortcutCannotChangeTheShape()
    {
        FluentActions.Invoking(() => new BasicBlock(16, 32, 2, new BlockOptions { Shortcut = ShortcutKind.Identity }))
            .Should().Throw<ArgumentException>().Where(e => e.ParamName == "options" && e.Message.Contains("Identity"));
    }
}
