using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

using ResNet = ResidualNet.Models.ResNet;

namespace ResidualNet.UnitTests.Models;

public class ResNetTests
{
    [Fact]
    public void ForwardFeaturesReturnsEveryStage()
    {
        using var model = ModelRegistry.Default.Create("resnet18");
        using var x = torch.randn(1, 3, 64, 64);
        var features = model.ForwardFeatures(x);
        try
        {
            features.Select(f => f.shape).Should().BeEquivalentTo(
                new[] { new long[] { 1, 64, 16, 16 }, [1, 128, 8, 8], [1, 256, 4, 4], [1, 512, 2, 2] },
                o => o.WithStrictOrdering());
            model.StageChannels.Should().Equal(64, 128, 256, 512);
        }
        finally
        {
            foreach (var f in features)
            {
                f.Dispose();
            }
        }
    }

    [Fact]
    public void HeadlessNetworkIsAFeatureExtractor()
    {
        using var model = new ResNet(ResNetPresets.ResNet(50) with { Head = HeadKind.None });
        using var x = torch.randn(1, 3, 64, 64);
        using var y = model.call(x);
        y.shape.Should().Equal(1, 2048, 2, 2);
        model.state_dict().Keys.Should().NotContain(k => k.StartsWith("fc."));
        model.FeatureChannels.Should().Be(2048);
    }

    [Fact]
    public void FashionMnistNetworkIsOneArgumentAway()
    {
        using var model = new ResNet(ResNetPresets.ResNet(18) with { NumClasses = 10, InputChannels = 1 });
        using var x = torch.randn(2, 1, 28, 28);
        using var y = model.call(x);
        y.shape.Should().Equal(2, 10);
        model.state_dict()["conv1.weight"].shape.Should().Equal(64, 1, 7, 7);
    }

    [Fact]
    public void DeepStemIsResNetC()
    {
        using var model = new ResNet(ResNetPresets.ResNet(18) with { Stem = StemKind.Deep });
        var keys = model.state_dict().Keys.ToList();
        keys.Take(4).Should().Equal("conv1.0.weight", "conv1.1.weight", "conv1.1.bias", "conv1.1.running_mean");
        model.state_dict()["conv1.0.weight"].shape.Should().Equal(32, 3, 3, 3);
        model.state_dict()["conv1.3.weight"].shape.Should().Equal(32, 32, 3, 3);
        model.state_dict()["conv1.6.weight"].shape.Should().Equal(64, 32, 3, 3);
        keys.Should().Contain("bn1.weight");
        using var x = torch.randn(1, 3, 64, 64);
        using var y = model.call(x);
        y.shape.Should().Equal(1, 1000);
    }

    [Fact]
    public void BuilderProducesTheSameOptionsAsThePreset()
    {
        var built = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 16).WithClasses(10)
            .AddStage(BlockKind.Basic, 3, 16).AddStage(BlockKind.Basic, 3, 32, stride: 2).AddStage(BlockKind.Basic, 3, 64, stride: 2)
            .WithShortcut(ShortcutKind.ZeroPad)
            .Build();
        built.Should().Be(ResNetPresets.CifarResNet(20));

        var plain = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 16).WithClasses(10)
            .AddStage(BlockKind.Basic, 3, 16).AddStage(BlockKind.Basic, 3, 32, stride: 2).AddStage(BlockKind.Basic, 3, 64, stride: 2)
            .WithShortcut(ShortcutKind.ZeroPad).WithoutShortcuts()
            .Build();
        plain.Should().Be(ResNetPresets.CifarResNet(20).AsPlain());

        var resnet18 = ResNetPresets.ResNet(18);
        using var model = new ResNet(resnet18 with { Block = resnet18.Block with { Activation = ActivationFactory.Tanh }, InputChannels = 1, NumClasses = 10 });
        model.named_modules().Count(m => m.module is Tanh).Should().Be(1 + 2 * 8, "the stem and two per basic block");
        model.named_modules().Should().NotContain(m => m.module is ReLU);
    }

    [Fact]
    public void BlocksAreEnumerableWithNamesAndStages()
    {
        using var model = ModelRegistry.Default.Create("resnet50");
        model.Blocks.Should().HaveCount(16);
        model.Blocks.Select(b => b.Name).Should().StartWith(new[] { "layer1.0", "layer1.1", "layer1.2", "layer2.0" });
        model.Blocks[^1].Name.Should().Be("layer4.2");
        model.Blocks.Select(b => b.StageIndex).Distinct().Should().Equal(0, 1, 2, 3);
        model.Blocks.Should().OnlyContain(b => b.Module is Bottleneck && b.HasShortcut);
        model.Stages.Should().HaveCount(4);
        model.StageChannels.Should().Equal(256, 512, 1024, 2048);
        var byName = model.named_modules().ToDictionary(m => m.name, m => m.module);
        model.Blocks.Should().OnlyContain(b => ReferenceEquals(byName[b.Name], b.Module));
    }

    [Fact]
    public void ZeroInitResidualZeroesEveryLastNorm()
    {
        using var model = new ResNet(ResNetPresets.ResNet(18) with { Block = BlockOptions.Default with { ZeroInitLastNorm = true } });
        var sd = model.state_dict();
        foreach (var block in model.Blocks)
        {
            sd[$"{block.Name}.bn2.weight"].abs().sum().item<float>().Should().Be(0);
            sd[$"{block.Name}.bn1.weight"].sum().item<float>().Should().BeGreaterThan(0);
        }
    }

    [Fact]
    public void DropPathRateGrowsLinearlyToTheLastBlock()
    {
        using var model = new ResNet(ResNetPresets.CifarResNet(20) with { Block = BlockOptions.Default with { Shortcut = ShortcutKind.ZeroPad, DropPathRate = 0.4 } });
        var rates = model.Blocks.Select(b => b.Module.modules().OfType<DropPath>().SingleOrDefault()?.Rate ?? 0).ToArray();
        rates.Should().HaveCount(9);
        rates[0].Should().Be(0);
        rates[^1].Should().BeApproximately(0.4, 1e-12);
        rates[4].Should().BeApproximately(0.2, 1e-12);
        using var x = torch.randn(2, 3, 32, 32);
        model.eval();
        using var a = model.call(x);
        using var b = model.call(x);
        torch.equal(a, b).all().item<bool>().Should().BeTrue("drop path is the identity in evaluation mode");
    }

    [Fact]
    public void DilatedStageKeepsTheResolution()
    {
        var options = ResNetPresets.ResNet(50) with
        {
            Head = HeadKind.None,
            Stages = ResNetPresets.ResNet(50).Stages.Select((s, i) => i == 3 ? s with { Dilate = true } : s).ToArray(),
        };
        using var model = new ResNet(options);
        using var x = torch.randn(1, 3, 64, 64);
        using var y = model.call(x);
        y.shape.Should().Equal(1, 2048, 4, 4);
    }

    [Fact]
    public void PreActivationNetworksEndWithANormAndCifarOnesHaveNoStemNorm()
    {
        using var cifar = ModelRegistry.Default.Create("preact_resnet110");
        var keys = cifar.state_dict().Keys.ToList();
        keys[0].Should().Be("conv1.weight");
        keys[1].Should().Be("layer1.0.bn1.weight");
        keys.Should().Contain("final_norm.weight");
        keys[^2].Should().Be("fc.weight");

        using var imagenet = ModelRegistry.Default.Create("preact_resnet18");
        imagenet.state_dict().Keys.Should().Contain(new[] { "bn1.weight", "final_norm.running_var" });
    }
}
