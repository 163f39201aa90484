using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>Per-block gains (<see cref="GradientFlowAnalysis.BlockGains"/>), the gain verdict, and per-block identity terms.</summary>
public class BlockGainTests
{
    /// <summary>Linear layers whose weights are a * I: each multiplies the backward gradient by exactly a.</summary>
    private static nn.Module<Tensor, Tensor> Scaled(long features, double a)
    {
        var layer = nn.Linear(features, features, hasBias: false);
        using (torch.no_grad())
        {
            layer.weight!.copy_(torch.eye(features) * a);
        }

        return layer;
    }

    [Fact]
    public void GainsOfScalingBlocksAreExactAndShapeChangingBlocksDoNotCount()
    {
        using var scope = torch.NewDisposeScope();
        var model = nn.Sequential(("a", Scaled(5, 2)), ("b", Scaled(5, 0.5)), ("c", Scaled(5, 3)), ("head", nn.Linear(5, 3)));
        using var monitor = GradientFlowMonitor.Attach(model, new GradientFlowMonitorOptions { TrackParameters = false, TrackActivations = false });
        var x = torch.randn(4, 5).requires_grad_(true);
        nn.functional.cross_entropy(model.call(x), torch.tensor(new long[] { 0, 1, 2, 0 })).backward();
        var step = monitor.RecordStep()!;

        step.Blocks.Select(b => b.KeepsShape).Should().Equal(true, true, true, false);
        var gains = GradientFlowAnalysis.BlockGains(step);
        gains.Gains.Select(g => g.Name).Should().Equal("a", "b", "c");
        gains.Gains.Select(g => g.Gain).Should().Equal(new[] { 2.0, 0.5, 3.0 }, (actual, expected) => Math.Abs(actual - expected) < 1e-5);
        gains.GeometricMean.Should().BeApproximately(Math.Cbrt(3.0), 1e-5);
        gains.Min.Should().BeApproximately(0.5, 1e-6);
        gains.Max.Should().BeApproximately(3.0, 1e-5);
        gains.Skipped.Should().Be(0);
    }

    [Fact]
    public void MissingOrZeroNormsAreSkippedAndNonFiniteOnesPoisonTheMean()
    {
        static BlockGradientStats Block(int depth, double? input, double? output, bool? keepsShape = true) =>
            new($"b{depth}", depth, input, output, null) { KeepsShape = keepsShape };
        var underflow = new GradientFlowStep(0, [], [Block(0, null, 1.0), Block(1, 0.0, 1e-40), Block(2, 0.5, 1.0), Block(3, 4.0, 2.0), Block(4, 9.0, 1.0, keepsShape: false), Block(5, 1.0, 1.0, keepsShape: null)]);
        var profile = GradientFlowAnalysis.BlockGains(underflow);
        profile.Gains.Select(g => g.Depth).Should().Equal(2, 3);
        profile.Skipped.Should().Be(2, "block 0 has no input gradient and block 1's underflowed to 0");
        profile.GeometricMean.Should().BeApproximately(1.0, 1e-12);

        var nonFinite = new GradientFlowStep(0, [], [Block(0, double.NaN, 1.0), Block(1, 1.0, 1.0)]);
        GradientFlowAnalysis.BlockGains(nonFinite).GeometricMean.Should().Be(double.NaN);
        new BlockGainProfile([], 0).GeometricMean.Should().Be(double.NaN);
    }

    [Theory]
    [InlineData(0.9, 20, GradientFlowVerdict.Healthy)]      // 0.9^20 = 0.12
    [InlineData(0.9, 50, GradientFlowVerdict.Vanishing)]    // 0.9^50 = 0.005
    [InlineData(1.1, 50, GradientFlowVerdict.Exploding)]    // 1.1^50 = 117
    [InlineData(1.0, 1000, GradientFlowVerdict.Healthy)]
    [InlineData(0.0, 3, GradientFlowVerdict.Vanishing)]
    [InlineData(double.NaN, 3, GradientFlowVerdict.NonFinite)]
    [InlineData(double.PositiveInfinity, 3, GradientFlowVerdict.NonFinite)]
    public void TheVerdictFollowsFromGainAndDepth(double gain, int blocks, GradientFlowVerdict expected)
        => GradientFlowAnalysis.JudgeGain(gain, blocks).Should().Be(expected);

    [Fact]
    public void BadGainArgumentsNameTheParameterAndValue()
    {
        var negative = () => GradientFlowAnalysis.JudgeGain(-0.5, 10);
        negative.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("gainPerBlock");
        negative.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("-0.5");
        var noBlocks = () => GradientFlowAnalysis.JudgeGain(1, 0);
        noBlocks.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("blocks");
        var nullStep = () => GradientFlowAnalysis.BlockGains(null!);
        nullStep.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void PerBlockIdentityTermOfScalingBlocksIsExact()
    {
        using var scope = torch.NewDisposeScope();
        var model = nn.Sequential(("a", Scaled(6, 2)), ("b", Scaled(6, 0.25)), ("head", nn.Linear(6, 3)));
        var rows = IdentityTerm.MeasureBlocks(model, torch.randn(3, 6), new IdentityTermOptions { Samples = 3 });

        // J = a I: ||J'v|| / ||v|| = a and ||J'v - v|| / ||v|| = |a - 1|; the head changes the shape and is left out.
        rows.Select(r => r.Name).Should().Equal("a", "b");
        rows.Select(r => r.MeanGain).Should().Equal(new[] { 2.0, 0.25 }, (actual, expected) => Math.Abs(actual - expected) < 1e-5);
        rows.Select(r => r.MeanRelativeDeviation).Should().Equal(new[] { 1.0, 0.75 }, (actual, expected) => Math.Abs(actual - expected) < 1e-5);
        var bad = () => IdentityTerm.MeasureBlocks(model, torch.randn(3, 6), new IdentityTermOptions { Samples = 0 });
        bad.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("got 0");
    }

    [Fact]
    public void ResidualBlocksOfALibraryNetworkAreNearTheIdentityAndLeakNothing()
    {
        var options = ResNetPresets.CifarPreActResNet(20, bottleneck: false) with { InputChannels = 1 };
        options = options with { Block = options.Block with { Activation = ActivationFactory.Sigmoid, Norm = NormFactory.None } };
        var images = torch.randn(new long[] { 4, 1, 16, 16 }, generator: new Generator(3));
        torch.manual_seed(0);
        using var residual = new ResNet(options);
        torch.manual_seed(0);
        using var plain = new ResNet(options.AsPlain());

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var residualRows = IdentityTerm.MeasureBlocks(residual, images);
        var plainRows = IdentityTerm.MeasureBlocks(plain, images);
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "MeasureBlocks frees the inputs it captured");

        // 9 blocks, of which layer2.0 and layer3.0 downsample.
        residualRows.Select(r => r.Name).Should().NotContain(["layer2.0", "layer3.0"]).And.HaveCount(7);
        residualRows.Should().OnlyContain(r => r.MeanGain > 0.9 && r.MeanGain < 1.1, "J = I + dF/dx with a small sigmoid branch");
        residualRows.Should().OnlyContain(r => r.MeanRelativeDeviation < 0.5);
        plainRows.Should().OnlyContain(r => r.MeanGain < 0.5, "a plain sigmoid block has only dF/dx");
        images.Dispose();
    }
}
