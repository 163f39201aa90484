using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

/// <summary>The monitor's parts on their own: the statistics builder (numbers only) and the step buffer.</summary>
public class GradientFlowStatisticsTests
{
    private static readonly string[] TwoBlocks = { "a", "b" };

    [Fact]
    public void GradientNormsOfSeveralCallsCombineAsTheRootOfTheSumOfSquares()
    {
        BlockSample[] samples =
        {
            new(0, BlockSampleKind.InputGradient, 8),
            new(0, BlockSampleKind.InputGradient, 8),
            new(1, BlockSampleKind.OutputGradient, 8),
        };

        var blocks = GradientFlowStatistics.Blocks(TwoBlocks, samples, new float[] { 3, 4, 2 }, new bool?[2]);

        blocks[0].InputGradientNorm.Should().Be(5);
        blocks[0].OutputGradientNorm.Should().BeNull("no output gradient of block a was gathered");
        blocks[1].InputGradientNorm.Should().BeNull();
        blocks[1].OutputGradientNorm.Should().Be(2);
        blocks.Select(b => b.Name).Should().Equal("a", "b");
        blocks.Select(b => b.Depth).Should().Equal(0, 1);
    }

    [Fact]
    public void ActivationStatisticsComeFromMeanNormAndNonZeroCount()
    {
        // The output [0, 2, 3, 7]: mean 3, ||x|| = sqrt(62), 3 non-zero elements of 4.
        BlockSample[] samples =
        {
            new(1, BlockSampleKind.ActivationMean, 4),
            new(1, BlockSampleKind.ActivationNorm, 4),
            new(1, BlockSampleKind.ActivationNonZero, 4),
        };

        var blocks = GradientFlowStatistics.Blocks(TwoBlocks, samples, new[] { 3f, MathF.Sqrt(62), 3f }, new bool?[] { null, true });

        blocks[0].Activation.Should().BeNull("block a has no activation values");
        var activation = blocks[1].Activation!;
        activation.Mean.Should().Be(3);
        // Unbiased: sum((x - 3)^2) / 3 = (9 + 1 + 0 + 16) / 3.
        activation.Std.Should().BeApproximately(Math.Sqrt(26.0 / 3), 1e-6);
        activation.ZeroFraction.Should().Be(0.25);
        blocks[0].KeepsShape.Should().BeNull();
        blocks[1].KeepsShape.Should().BeTrue();
    }

    [Fact]
    public void ASingleElementHasNoStandardDeviation_AndValuesAfterTheSamplesAreIgnored()
    {
        BlockSample[] samples =
        {
            new(0, BlockSampleKind.ActivationMean, 1),
            new(0, BlockSampleKind.ActivationNorm, 1),
            new(0, BlockSampleKind.ActivationNonZero, 1),
        };

        // The monitor appends the parameters' values after the blocks' ones: the builder reads only its own.
        var blocks = GradientFlowStatistics.Blocks(new[] { "only" }, samples, new float[] { -2, 2, 1, 99, 99, 99 }, new bool?[1]);

        blocks.Should().ContainSingle();
        blocks[0].Activation!.Mean.Should().Be(-2);
        double.IsNaN(blocks[0].Activation!.Std).Should().BeTrue();
        blocks[0].Activation!.ZeroFraction.Should().Be(0);
        blocks[0].InputGradientNorm.Should().BeNull();
    }

    [Fact]
    public void TheBufferKeepsValuesAndSamplesAligned_AndFreesWhatItKept()
    {
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var buffer = new GradientFlowStepBuffer();
        using (var scope = NewDisposeScope())
        {
            var kept = buffer.Keep(new BlockSample(0, BlockSampleKind.OutputGradient, 6), tensor(2.0, ScalarType.Float64));
            kept.dtype.Should().Be(ScalarType.Float32, "values are read back as one float32 stack");
            buffer.KeepAgain(kept, new BlockSample(1, BlockSampleKind.InputGradient, 6));
            buffer.Keep(new BlockSample(1, BlockSampleKind.ActivationMean, 6), tensor(5f));
            buffer.Keep(new BlockSample(1, BlockSampleKind.ActivationNorm, 6), tensor(7f));
        }

        buffer.Remove(1, BlockSampleKind.ActivationMean, BlockSampleKind.ActivationNorm);

        buffer.Count.Should().Be(2);
        buffer.Samples.Should().Equal(new BlockSample(0, BlockSampleKind.OutputGradient, 6), new BlockSample(1, BlockSampleKind.InputGradient, 6));
        buffer.Values.Select(v => v.item<float>()).Should().Equal(2f, 2f);
        buffer.Clear();
        buffer.Count.Should().Be(0);
        buffer.Samples.Should().BeEmpty();
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "the kept scalars outlive their scope and are freed by Clear");
    }

    [Fact]
    public void AnErrorInsideBackwardIsReportedInTheStep_AndOnlyInThatStep()
    {
        using var scope = NewDisposeScope();
        var network = ToyNetworks.Build(4, ToyActivation.Tanh, residual: true, seed: 2);
        var (images, labels) = ToyNetworks.Batch(seed: 3);
        using var monitor = GradientFlowMonitor.Attach(network);

        nn.functional.cross_entropy(network.call(images), labels).backward();
        var error = new InvalidOperationException("norm failed");
        new GradientFlowMonitor.NormTap(monitor, 0, BlockSampleKind.OutputGradient).OnError(error);
        var failed = monitor.RecordStep()!;

        nn.functional.cross_entropy(network.call(images), labels).backward();
        var next = monitor.RecordStep()!;

        failed.Errors.Should().ContainSingle().Which.Should().BeSameAs(error);
        next.Errors.Should().BeEmpty("an error belongs to the step whose backward raised it");
        GradientFlowReport.FromJson(GradientFlowReport.ToJson(new[] { failed })).Single().Errors.Should().BeEmpty("errors are not written to JSON");
    }
}
