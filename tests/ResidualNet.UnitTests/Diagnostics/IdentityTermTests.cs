using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

public class IdentityTermTests(ITestOutputHelper output)
{
    [Fact]
    public void ScalingBlocksGiveExactDeviationAndGain()
    {
        using var scope = torch.NewDisposeScope();
        var blocks = Enumerable.Range(0, 3).Select(_ =>
        {
            var layer = nn.Linear(5, 5, hasBias: false);
            using (torch.no_grad())
            {
                layer.weight!.copy_(torch.eye(5) * 2);
            }

            return (nn.Module<Tensor, Tensor>)layer;
        }).ToList();
        var report = IdentityTerm.Measure(blocks, torch.randn(4, 5), new IdentityTermOptions { Samples = 3 });

        // J from block l to the end is 2^(3-l) I: deviation 2^(3-l) - 1, gain 2^(3-l).
        report.Rows.Select(r => r.BlocksSpanned).Should().Equal(3, 2, 1);
        report.Rows.Select(r => r.MeanGain).Should().Equal(new[] { 8.0, 4.0, 2.0 }, (a, b) => Math.Abs(a - b) < 1e-5);
        report.Rows.Select(r => r.MeanRelativeDeviation).Should().Equal(new[] { 7.0, 3.0, 1.0 }, (a, b) => Math.Abs(a - b) < 1e-5);
    }

    [Fact]
    public void ResidualStackStaysNearTheIdentityWhereItsPlainTwinDoesNot()
    {
        using var scope = torch.NewDisposeScope();
        var residual = ToyNetworks.IdentityTermAtInit(20, ToyActivation.Sigmoid, residual: true);
        var plain = ToyNetworks.IdentityTermAtInit(20, ToyActivation.Sigmoid, residual: false);
        output.WriteLine("residual-20 sigmoid:\n" + residual.ToText());
        output.WriteLine("plain-20 sigmoid:\n" + plain.ToText());

        // Measured (seed 0, 8 probes): residual from block 0 (9 blocks): deviation 0.1993, gain 1.021
        // (from block 8: 0.0573, 1.0017); plain: deviation 1.0000, gain 3.48e-10 (from block 8: 1.004, 8.65e-2).
        residual.Rows[0].MeanRelativeDeviation.Should().BeInRange(0.1, 0.4, "measured 0.199");
        residual.Rows[0].MeanGain.Should().BeInRange(0.9, 1.2, "measured 1.021");
        plain.Rows[0].MeanRelativeDeviation.Should().BeApproximately(1.0, 1e-3, "Jᵀv is almost 0, so ||Jᵀv - v|| is ||v||");
        plain.Rows[0].MeanGain.Should().BeLessThan(1e-7, "measured 3.48e-10");
        residual.Rows.Should().OnlyContain(r => r.MeanRelativeDeviation < plain.Rows[r.FromBlock].MeanRelativeDeviation);
    }

    [Fact]
    public void ShapeChangingBlockIsRefusedWithBothShapes()
    {
        using var scope = torch.NewDisposeScope();
        var blocks = new nn.Module<Tensor, Tensor>[] { nn.Linear(4, 4), nn.Linear(4, 3) };
        var act = () => IdentityTerm.Measure(blocks, torch.randn(2, 4));
        act.Should().Throw<ArgumentException>().Which.Message.Should().Contain("Block 1").And.Contain("[2, 4]").And.Contain("[2, 3]");
        var none = () => IdentityTerm.Measure(Array.Empty<nn.Module<Tensor, Tensor>>(), torch.randn(2, 4));
        none.Should().Throw<ArgumentException>().Which.Message.Should().Contain("0");
    }
}
