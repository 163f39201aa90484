using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.UnitTests.Models;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Blocks;

public class BlockTests
{
    private static readonly string[] BatchNormSuffixes = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"];

    private static IEnumerable<string> Bn(string prefix) => BatchNormSuffixes.Select(s => $"{prefix}.{s}");

    [Fact]
    public void BasicBlockWithProjectionHasTorchvisionKeysInOrder()
    {
        using var block = new BasicBlock(64, 128, 2);
        var expected = new[] { "conv1.weight" }.Concat(Bn("bn1")).Append("conv2.weight").Concat(Bn("bn2"))
            .Append("downsample.0.weight").Concat(Bn("downsample.1"));
        block.state_dict().Keys.Should().Equal(expected);
        block.state_dict()["conv1.weight"].shape.Should().Equal(128, 64, 3, 3);
        block.state_dict()["downsample.0.weight"].shape.Should().Equal(128, 64, 1, 1);
        block.HasShortcut.Should().BeTrue();
        block.HasShortcutLayers.Should().BeTrue();
        ((IResidualBlock)block).HasShortcut.Should().BeTrue();
    }

    [Fact]
    public void BottleneckKeysAndResNeXtWidthFollowTorchvision()
    {
        using var block = new Bottleneck(256, 128, 2, new BlockOptions { Groups = 32, BaseWidth = 4 });
        // torchvision: width = int(128 * 4 / 64) * 32 = 256; conv2 is grouped: 256 / 32 = 8 input channels per group.
        block.Width.Should().Be(256);
        block.OutChannels.Should().Be(512);
        var sd = block.state_dict();
        sd.Keys.Should().Equal(new[] { "conv1.weight" }.Concat(Bn("bn1")).Append("conv2.weight").Concat(Bn("bn2"))
            .Append("conv3.weight").Concat(Bn("bn3")).Append("downsample.0.weight").Concat(Bn("downsample.1")));
        sd["conv2.weight"].shape.Should().Equal(256, 8, 3, 3);
        sd["conv3.weight"].shape.Should().Equal(512, 256, 1, 1);
    }

    [Fact]
    public void WidthMultiplierTwoEqualsBaseWidth128()
    {
        using var wide = new Bottleneck(256, 64, options: new BlockOptions { WidthMultiplier = 2 });
        using var baseWidth = new Bottleneck(256, 64, options: new BlockOptions { BaseWidth = 128 });
        wide.Width.Should().Be(128);
        ModelTestUtil.StateDictLines(wide).Should().Equal(ModelTestUtil.StateDictLines(baseWidth));

        using var wideBasic = new BasicBlock(16, 16, options: new BlockOptions { WidthMultiplier = 4 });
        wideBasic.Width.Should().Be(64);
        wideBasic.OutChannels.Should().Be(16);
    }

    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 4)]
    public void BottleneckStrideSitsOnThe3x3ByDefaultAndOnTheFirst1x1OnRequest(bool strideOnFirstConv, long conv1OutputSize)
    {
        using var block = new Bottleneck(64, 32, 2, new BlockOptions { StrideOnFirstConv = strideOnFirstConv });
        var conv1 = (Conv2d)block.named_modules().Single(m => m.name == "conv1").module;
        long[]? seen = null;
        var hook = conv1.register_forward_hook((_, _, output) =>
        {
            seen = output.shape;
            return null!;
        });
        using var x = torch.randn(1, 64, 8, 8);
        using var y = block.call(x);
        hook.remove();

        seen.Should().Equal(1, 32, conv1OutputSize, conv1OutputSize);
        y.shape.Should().Equal(1, 128, 4, 4);
    }

    [Fact]
    public void ZeroPadShortcutSubsamplesAndAppendsZeroChannels()
    {
        using var shortcut = new ZeroPadShortcut(2, 5, 2);
        using var x = torch.arange(2 * 4 * 4, dtype: ScalarType.Float32).reshape(1, 2, 4, 4);
        using var y = shortcut.call(x);
        using var expectedKept = x[.., .., TensorIndex.Slice(0, 4, 2), TensorIndex.Slice(0, 4, 2)];
        using var kept = y[.., ..2];
        using var padded = y[.., 2..];

        y.shape.Should().Equal(1, 5, 2, 2);
        torch.equal(kept, expectedKept).all().item<bool>().Should().BeTrue();
        padded.abs().sum().item<float>().Should().Be(0);
        shortcut.parameters().Should().BeEmpty();
    }

    [Fact]
    public void OptionABlockHasNoShortcutParametersAndPlainBlocksNoShortcutAtAll()
    {
        using var optionA = new BasicBlock(16, 32, 2, new BlockOptions { Shortcut = ShortcutKind.ZeroPad });
        using var plain = new BasicBlock(16, 32, 2, new BlockOptions { HasShortcut = false });
        using var optionB = new BasicBlock(16, 32, 2);

        ModelTestUtil.ParameterCount(optionA).Should().Be(ModelTestUtil.ParameterCount(plain));
        (ModelTestUtil.ParameterCount(optionB) - ModelTestUtil.ParameterCount(plain)).Should().Be(16 * 32 + 2 * 32);
        optionA.HasShortcutLayers.Should().BeTrue();
        plain.HasShortcutLayers.Should().BeFalse();
        plain.named_modules().Select(m => m.name).Should().NotContain(n => n.StartsWith("downsample"));
        plain.HasShortcut.Should().BeFalse();
    }

    [Fact]
    public void AvgPoolProjectionShortcutIsResNetD()
    {
        using var block = new Bottleneck(64, 32, 2, new BlockOptions { Shortcut = ShortcutKind.AvgPoolProjection });
        var sd = block.state_dict();
        sd["downsample.1.weight"].shape.Should().Equal(128, 64, 1, 1);
        sd.Keys.Should().Contain("downsample.2.running_mean");
        sd.Keys.Should().NotContain(k => k.StartsWith("downsample.0."));
        using var x = torch.randn(2, 64, 7, 7);
        using var y = block.call(x);
        y.shape.Should().Equal(2, 128, 4, 4);
    }

    [Fact]
    public void PreActivationBlocksNormaliseBeforeConvolvingAndProjectWithoutNorm()
    {
        using var basic = new PreActBasicBlock(16, 32, 2);
        basic.state_dict().Keys.Should().Equal(Bn("bn1").Append("conv1.weight").Concat(Bn("bn2")).Append("conv2.weight").Append("downsample.0.weight"));
        basic.state_dict()["bn1.weight"].shape.Should().Equal(16);

        using var bottleneck = new PreActBottleneck(64, 32, 2);
        bottleneck.state_dict().Keys.Should().Equal(Bn("bn1").Append("conv1.weight").Concat(Bn("bn2")).Append("conv2.weight")
            .Concat(Bn("bn3")).Append("conv3.weight").Append("downsample.0.weight"));
        using var x = torch.randn(2, 64, 8, 8);
        using var y = bottleneck.call(x);
        y.shape.Should().Equal(2, 128, 4, 4);
    }

    [Fact]
    public void ZeroInitLastNormMakesAResidualBlockStartAsTheIdentity()
    {
        using var block = new BasicBlock(8, 8, options: new BlockOptions { ZeroInitLastNorm = true });
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, 8, 6, 6).clamp_min(0);
        var y = block.call(x);
        torch.allclose(y, x).Should().BeTrue("relu(0 + x) = x for a non-negative x");

        var bottleneck = new Bottleneck(32, 8, options: new BlockOptions { ZeroInitLastNorm = true });
        var bn3 = (BatchNorm2d)bottleneck.named_modules().Single(m => m.name == "bn3").module;
        bn3.weight!.abs().sum().item<float>().Should().Be(0);
        var bn2 = (BatchNorm2d)bottleneck.named_modules().Single(m => m.name == "bn2").module;
        bn2.weight!.sum().item<float>().Should().Be(8);
    }

    [Fact]
    public void ConvolutionsAreKaimingNormalFanOut()
    {
        torch.manual_seed(11);
        using var block = new BasicBlock(256, 256);
        var conv1 = block.state_dict()["conv1.weight"];
        double std = conv1.std().item<float>();
        // kaiming_normal_(fan_out, relu): std = sqrt(2 / (256 * 3 * 3)) = 0.0295
        std.Should().BeApproximately(System.Math.Sqrt(2.0 / (256 * 9)), 0.001);
        conv1.mean().item<float>().Should().BeApproximately(0, 0.001f);
    }

    public static TheoryData<string> ActivationNames() => new("ReLU", "Sigmoid", "Tanh", "GELU", "SiLU", "LeakyReLU(0.01)", "LeakyReLU(0.2)");

    [Theory]
    [MemberData(nameof(ActivationNames))]
    public void EveryActivationFactoryWorksInEveryBlock(string name)
    {
        var factory = name switch
        {
            "ReLU" => ActivationFactory.ReLU,
            "Sigmoid" => ActivationFactory.Sigmoid,
            "Tanh" => ActivationFactory.Tanh,
            "GELU" => ActivationFactory.GELU,
            "SiLU" => ActivationFactory.SiLU,
            "LeakyReLU(0.01)" => ActivationFactory.LeakyReLU,
            _ => ActivationFactory.LeakyReLUWithSlope(0.2),
        };
        factory.Name.Should().Be(name);
        factory.Create().Should().NotBeSameAs(factory.Create());

        var options = new BlockOptions { Activation = factory };
        foreach (var kind in new[] { BlockKind.Basic, BlockKind.Bottleneck, BlockKind.PreActBasic, BlockKind.PreActBottleneck })
        {
            using var block = ResidualBlocks.Create(kind, 16, 8, 2, options);
            using var scope = torch.NewDisposeScope();
            var x = torch.randn(2, 16, 6, 6, requires_grad: true);
            var y = block.call(x);
            y.shape.Should().Equal(2, 8 * kind.Expansion(), 3, 3);
            torch.isfinite(y).all().item<bool>().Should().BeTrue();
            y.sum().backward();
            torch.isfinite(x.grad!).all().item<bool>().Should().BeTrue();
        }
    }

    [Fact]
    public void SigmoidActivationReallyChangesTheOutput()
    {
        torch.manual_seed(5);
        using var relu = new BasicBlock(8, 8);
        torch.manual_seed(5);
        using var sigmoid = new BasicBlock(8, 8, options: new BlockOptions { Activation = ActivationFactory.Sigmoid });
        using var x = torch.randn(2, 8, 4, 4);
        using var a = relu.call(x);
        using var b = sigmoid.call(x);
        a.min().item<float>().Should().Be(0);
        b.min().item<float>().Should().BeGreaterThan(0).And.BeLessThan(1);
        b.max().item<float>().Should().BeLessThan(1);
    }

    [Fact]
    public void NormFactoriesBuildBatchNormGroupNormOrNothing()
    {
        using var none = new BasicBlock(16, 16, options: new BlockOptions { Norm = NormFactory.None });
        none.state_dict().Keys.Should().Equal("conv1.weight", "conv2.weight");
        ModelTestUtil.ParameterCount(none).Should().Be(2 * 16 * 16 * 9);

        using var group = new BasicBlock(16, 16, options: new BlockOptions { Norm = NormFactory.GroupNorm(4) });
        group.state_dict().Keys.Should().Equal("conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias");
        using var x = torch.randn(1, 16, 4, 4);
        using var y = group.call(x);
        y.shape.Should().Equal(1, 16, 4, 4);
    }

    [Fact]
    public void CustomNormWithoutAffineParametersBuildsAndZeroInitLeavesItAlone()
    {
        var norm = NormFactory.Custom("BatchNorm(no affine)", c => nn.BatchNorm2d(c, affine: false));
        using var block = new Bottleneck(32, 8, options: new BlockOptions { Norm = norm, ZeroInitLastNorm = true });
        ModelTestUtil.ParameterCount(block).Should().Be(32 * 8 + 8 * 8 * 9 + 8 * 32);
        norm.Name.Should().Be("BatchNorm(no affine)");
        using var x = torch.randn(2, 32, 4, 4);
        using var y = block.call(x);
        y.shape.Should().Equal(2, 32, 4, 4);
    }

    [Fact]
    public void SqueezeExcitationAddsItsLayersAfterTheLastNorm()
    {
        using var plainBlock = new Bottleneck(64, 16);
        using var se = new Bottleneck(64, 16, options: new BlockOptions { SqueezeExcitation = true, SqueezeExcitationReduction = 16 });
        // fc1: 64 -> 4 with bias, fc2: 4 -> 64 with bias.
        (ModelTestUtil.ParameterCount(se) - ModelTestUtil.ParameterCount(plainBlock)).Should().Be(64 * 4 + 4 + 4 * 64 + 64);
        var keys = se.state_dict().Keys.ToList();
        keys.IndexOf("se.fc1.weight").Should().Be(keys.IndexOf("bn3.num_batches_tracked") + 1);
        using var x = torch.randn(2, 64, 4, 4);
        using var y = se.call(x);
        y.shape.Should().Equal(2, 64, 4, 4);
    }

    [Fact]
    public void DropPathIsIdentityInEvalAndDropsWholeSamplesInTraining()
    {
        using var drop = new DropPath(0.5);
        using var x = torch.ones(4000, 2, 2, 2);
        drop.eval();
        using (var y = drop.call(x))
        {
            torch.equal(y, x).all().item<bool>().Should().BeTrue();
        }

        drop.train();
        torch.manual_seed(1);
        using var z = drop.call(x);
        using var perSample = z.sum(new long[] { 1, 2, 3 });
        var values = perSample.data<float>().ToArray();
        values.Should().OnlyContain(v => v == 0 || v == 16, "a sample is either dropped or kept and scaled by 1 / (1 - 0.5)");
        values.Count(v => v == 0).Should().BeInRange(1800, 2200);
    }

    [Fact]
    public void DilationKeepsTheSpatialSize()
    {
        using var block = new Bottleneck(64, 16, options: new BlockOptions { Dilation = 2 });
        using var x = torch.randn(1, 64, 9, 9);
        using var y = block.call(x);
        y.shape.Should().Equal(1, 64, 9, 9);
        var conv2 = (Conv2d)block.named_modules().Single(m => m.name == "conv2").module;
        conv2.weight!.shape.Should().Equal(16, 16, 3, 3);
    }
}
