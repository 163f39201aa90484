using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Layers;
using ResidualNet.Performance;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

public class BatchNormFoldingTests
{
    /// <summary>Gives every BatchNorm non-trivial statistics and affine parameters (fresh ones are identities).</summary>
    internal static void RandomizeBatchNorms(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var bn in model.modules().OfType<BatchNorm2d>())
        {
            bn.running_mean!.copy_(randn_like(bn.running_mean) * 0.5);
            bn.running_var!.copy_(rand_like(bn.running_var) + 0.5);
            bn.weight!.copy_(rand_like(bn.weight) + 0.5);
            bn.bias!.copy_(randn_like(bn.bias) * 0.2);
        }
    }

    [Fact]
    public void ConvBatchNormRelu_FoldsWithinOneInAHundredThousand()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var conv = nn.Conv2d(3, 8, 3, padding: 1, bias: false);
        var bn = nn.BatchNorm2d(8);
        var model = nn.Sequential(("conv", conv), ("bn", bn), ("relu", nn.ReLU()));
        RandomizeBatchNorms(model);
        model.eval();
        var x = randn(4, 3, 16, 16);
        var expected = model.call(x).detach();

        BatchNormFolding.FoldAndCountPairs(model).Should().Be(1);

        conv.bias.Should().NotBeNull("a convolution without bias gets the folded bias");
        bn.running_mean!.abs().max().item<float>().Should().Be(0);
        TensorAssert.RelativeDifference(model.call(x), expected).Should().BeLessThan(1e-5);
        // Without the BatchNorm at all, the folded convolution gives the same result.
        TensorAssert.RelativeDifference(nn.functional.relu(conv.call(x)), expected).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void TorchVisionResNet18_FoldsAllTwentyPairs_AndKeepsItsOutputs()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        using var model = torchvision.models.resnet18(num_classes: 10);
        RandomizeBatchNorms(model);
        model.eval();
        var x = randn(2, 3, 64, 64);
        Tensor expected;
        using (no_grad())
        {
            expected = model.call(x);
        }

        BatchNormFolding.FoldAndCountPairs(model).Should().Be(20);

        using (no_grad())
        {
            TensorAssert.RelativeDifference(model.call(x), expected).Should().BeLessThan(1e-5);
        }
    }

    [Fact]
    public void TrainingModel_IsRejected()
    {
        using var model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8));
        model.train();
        var act = () => model.FoldBatchNorms();
        act.Should().Throw<ArgumentException>().WithParameterName("model").WithMessage("*training*");
    }

    [Fact]
    public void MismatchedChannels_AreRejected()
    {
        using var conv = nn.Conv2d(3, 8, 3);
        using var bn = nn.BatchNorm2d(4);
        bn.eval();
        var act = () => ConvBatchNorm.Fold(conv, bn);
        act.Should().Throw<ArgumentException>().WithParameterName("batchNorm").WithMessage("*num_features = 4*out_channels = 8*");
    }

    [Fact]
    public void FoldableModule_IsAskedInsteadOfGuessed()
    {
        var foldable = new CountingFoldable();
        using var model = nn.Sequential(("block", foldable));
        model.eval();
        BatchNormFolding.FoldAndCountPairs(model).Should().Be(3);
        foldable.Calls.Should().Be(1);
    }

    private sealed class CountingFoldable : nn.Module<Tensor, Tensor>, IBatchNormFoldable
    {
        private readonly Conv2d conv1 = nn.Conv2d(2, 2, 1);
        private readonly BatchNorm2d bn1 = nn.BatchNorm2d(2);

        public CountingFoldable() : base("CountingFoldable") => RegisterComponents();

        public int Calls { get; private set; }

        public int FoldBatchNorm()
        {
            Calls++;
            return 3;
        }

        public override Tensor forward(Tensor input) => bn1.call(conv1.call(input));
    }
}
