using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Models;

/// <summary>A plain twin has the residual network's layers minus the projection shortcuts, and the same initial weights.</summary>
public class PlainTwinTests
{
    public static TheoryData<string> ResidualNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in ModelTestUtil.Presets.List().Where(n => !n.StartsWith(ModelRegistry.PlainPrefix, System.StringComparison.Ordinal)))
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ResidualNames))]
    public void PlainTwinHasTheResidualParametersMinusTheProjections(string name)
    {
        using var residual = ModelTestUtil.Presets.Create(name);
        using var plain = ModelTestUtil.Presets.Create(ModelRegistry.PlainPrefix + name);

        long projection = residual.named_parameters()
            .Where(p => p.name.Split('.').Contains("downsample"))
            .Sum(p => p.parameter.numel());
        ModelTestUtil.ParameterCount(plain).Should().Be(ModelTestUtil.ParameterCount(residual) - projection);
        plain.named_parameters().Select(p => p.name)
            .Should().Equal(residual.named_parameters().Select(p => p.name).Where(n => !n.Split('.').Contains("downsample")));
        plain.Blocks.Should().OnlyContain(b => !b.HasShortcut);
        residual.Blocks.Should().OnlyContain(b => b.HasShortcut);
    }

    [Fact]
    public void ProjectionNetworksReallyLoseParametersAndOptionANetworksDoNot()
    {
        using var resnet18 = ModelTestUtil.Presets.Create("resnet18");
        using var plain18 = ModelTestUtil.Presets.Create("plain_resnet18");
        // layer2..4 projections: (64*128 + 256) + (128*256 + 512) + (256*512 + 1024)
        (ModelTestUtil.ParameterCount(resnet18) - ModelTestUtil.ParameterCount(plain18)).Should().Be(8_448 + 33_280 + 132_096);

        using var resnet20 = ModelTestUtil.Presets.Create("resnet20");
        using var plain20 = ModelTestUtil.Presets.Create("plain_resnet20");
        ModelTestUtil.ParameterCount(plain20).Should().Be(ModelTestUtil.ParameterCount(resnet20));
    }

    [Fact]
    public void SameSeedGivesTheSameResidualBranchWeights()
    {
        torch.manual_seed(42);
        using var residual = ModelTestUtil.Presets.Create("resnet18");
        torch.manual_seed(42);
        using var plain = ModelTestUtil.Presets.Create("plain_resnet18");

        var residualState = residual.state_dict();
        foreach (var (key, value) in plain.state_dict())
        {
            value.shape.Should().Equal(residualState[key].shape);
            value.equal(residualState[key]).all().item<bool>().Should().BeTrue("{0} must start equal in both twins", key);
        }
    }

    [Fact]
    public void PreActivationTwinsDifferByExactlyTheIdentity()
    {
        using var x = torch.randn(2, 16, 8, 8);
        torch.manual_seed(3);
        using var residual = new PreActBasicBlock(16, 16);
        torch.manual_seed(3);
        using var plain = new PreActBasicBlock(16, 16, options: new BlockOptions { HasShortcut = false });
        residual.eval();
        plain.eval();

        using var scope = torch.NewDisposeScope();
        var difference = residual.call(x) - plain.call(x);
        torch.allclose(difference, x, rtol: 0, atol: 1e-5).Should().BeTrue("x_{l+1} = x_l + F(x_l) against F(x_l)");
    }
}
