using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Benchmarks;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.TestSupport;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

/// <summary>The library's own blocks and networks: BatchNorm folding (IBatchNormFoldable) and ResNet checkpointing.</summary>
public class LibraryFoldingAndCheckpointingTests
{
    private static double RelativeDifference(Tensor actual, Tensor expected)
        => (actual - expected).abs().max().to_type(ScalarType.Float64).item<double>() / expected.abs().max().to_type(ScalarType.Float64).item<double>();

    [Theory]
    [InlineData("basic")]
    [InlineData("bottleneck")]
    [InlineData("basic-projection")]
    public void Block_FoldsEveryPairAndMatchesTheUnfoldedBlock(string kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        ResidualBlockBase block = kind switch
        {
            "basic" => new BasicBlock(16, 16),
            "bottleneck" => new Bottleneck(32, 8),
            _ => new BasicBlock(16, 32, stride: 2),
        };
        BatchNormFoldingTests.RandomizeBatchNorms(block);
        block.eval();
        var x = randn(2, block.InChannels, 12, 12);
        var expected = block.call(x).detach();

        int pairs = block.FoldBatchNorm();

        pairs.Should().Be(kind switch { "basic" => 2, "bottleneck" => 3, _ => 3 });
        block.IsBatchNormFolded.Should().BeTrue();
        RelativeDifference(block.call(x), expected).Should().BeLessThan(1e-5);
        block.FoldBatchNorm().Should().Be(0, "folding twice folds nothing more");
        block.state_dict().Keys.Should().Contain(new[] { "conv1.bias", "bn1.running_mean" });
    }

    [Fact]
    public void FoldedBlock_SkipsTheBatchNormCall_AndRefusesToTrain()
    {
        using var scope = NewDisposeScope();
        var block = new BasicBlock(8, 8);
        block.eval();
        block.FoldBatchNorm();
        int bnCalls = 0;
        foreach (var bn in block.modules().OfType<BatchNorm2d>())
        {
            bn.register_forward_hook((_, _, _) =>
            {
                bnCalls++;
                return null!;
            });
        }

        block.call(randn(1, 8, 6, 6));
        bnCalls.Should().Be(0);

        block.train();
        var act = () => block.call(randn(2, 8, 6, 6));
        act.Should().Throw<InvalidOperationException>().WithMessage("*folded*");
    }

    [Fact]
    public void TrainingBlock_CannotBeFolded()
    {
        using var scope = NewDisposeScope();
        var block = new Bottleneck(16, 4);
        var act = () => block.FoldBatchNorm();
        act.Should().Throw<InvalidOperationException>().WithMessage("*training*");
    }

    [Fact]
    public void PreActivationBlock_IsNotFoldedByTheNamingConvention()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var model = new ResidualNet.Models.ResNet(ModelRegistry.Default.GetOptions("preact_resnet18") with { NumClasses = 10 });
        BatchNormFoldingTests.RandomizeBatchNorms(model);
        model.eval();
        var x = randn(1, 3, 32, 32);
        var expected = model.call(x).detach();

        model.FoldBatchNorms();

        RelativeDifference(model.call(x), expected).Should().BeLessThan(1e-5);
    }

    [Theory]
    [InlineData("resnet18", 20)]
    [InlineData("resnet20", 19)]
    [InlineData("resnet50", 53)]
    public void Network_FoldsStemAndBlocks_AndMatchesTheUnfoldedNetwork(string name, int expectedPairs)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var model = ModelRegistry.Default.Create(name);
        BatchNormFoldingTests.RandomizeBatchNorms(model);
        model.eval();
        var x = randn(2, 3, 32, 32);
        var expected = model.call(x).detach();

        BatchNormFolding.FoldAndCountPairs(model).Should().Be(expectedPairs);

        model.IsBatchNormFolded.Should().BeTrue();
        RelativeDifference(model.call(x), expected).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void FoldedNetwork_ExportsToOnnx_AndOnnxRuntimeAgrees()
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        var model = ModelRegistry.Default.Create("resnet20");
        BatchNormFoldingTests.RandomizeBatchNorms(model);
        model.eval();
        model.FoldBatchNorms();

        ResidualNet.UnitTests.Onnx.OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 32, 32 }, null, 1, 3).Should().BeLessThan(1e-4);
    }

    [Theory]
    [InlineData(CheckpointGranularity.Block)]
    [InlineData(CheckpointGranularity.SquareRoot)]
    [InlineData(CheckpointGranularity.Stage)]
    public void CheckpointedNetwork_GivesThePlainGradientsAndRunningStatistics(CheckpointGranularity granularity)
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var plain = ModelRegistry.Default.Create("resnet20").to(ScalarType.Float64);
        var checkpointed = ModelRegistry.Default.Create("resnet20").to(ScalarType.Float64);
        checkpointed.load_state_dict(plain.state_dict());
        checkpointed.Checkpointing = granularity;
        checkpointed.Checkpointing.Should().Be(granularity);
        var x = randn(4, 3, 16, 16, dtype: ScalarType.Float64);
        var y = tensor(new long[] { 1, 2, 3, 4 });

        foreach (var model in new[] { plain, checkpointed })
        {
            model.train();
            nn.functional.cross_entropy(model.call(x), y).backward();
        }

        var plainParameters = plain.named_parameters().ToList();
        var checkpointedParameters = checkpointed.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        checkpointedParameters.Keys.Should().BeEquivalentTo(plainParameters.Select(p => p.name), "checkpointing keeps the parameter names");
        foreach (var (name, parameter) in plainParameters)
        {
            RelativeDifference(checkpointedParameters[name].grad!, parameter.grad!).Should().BeLessThan(1e-10, name);
        }

        var plainBuffers = plain.state_dict();
        foreach (var (name, buffer) in checkpointed.state_dict())
        {
            buffer.equal(plainBuffers[name]).all().item<bool>().Should().BeTrue($"{name} must be updated once, as without checkpointing");
        }
    }

    [Fact]
    public void Checkpointing_RejectsAnUndefinedGranularity()
    {
        using var scope = NewDisposeScope();
        var model = ModelRegistry.Default.Create("resnet20");
        var act = () => model.Checkpointing = (CheckpointGranularity)42;
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("Checkpointing must be a defined CheckpointGranularity; got 42.*").Which.ParamName.Should().Be("value");
    }

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void CheckpointingEveryBlock_LowersThePeakMemoryOfATrainingStep()
    {
        TestEnvironment.RequireProcMemory();
        long? Peak(CheckpointGranularity granularity)
        {
            manual_seed(1);
            using var model = ModelRegistry.Default.Create("resnet56");
            model.Checkpointing = granularity;
            model.train();
            using var x = randn(32, 3, 32, 32);
            using var y = randint(0, 10, 32);
            return ProcessMemory.MeasurePeakIncrease(() =>
            {
                using var scope = NewDisposeScope();
                nn.functional.cross_entropy(model.call(x), y).backward();
            });
        }

        Peak(CheckpointGranularity.Block);   // warm-up: allocator and kernels
        var plain = Peak(CheckpointGranularity.None);
        var block = Peak(CheckpointGranularity.Block);
        plain.Should().NotBeNull("/proc is there, so the peak can be read");
        block.Should().NotBeNull("/proc is there, so the peak can be read");
        // Measured: 220 MB plain, 158 MB checkpointed (resnet56, batch 32, 32x32); the resnet152 figures are in docs/benchmarks.md.
        block.Value.Should().BeLessThan(plain.Value * 8 / 10, $"plain peak {plain} B, checkpointed {block} B");
    }
}
