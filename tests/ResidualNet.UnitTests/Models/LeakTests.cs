using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Models;

/// <summary>Forward and backward passes leave no tensor alive (TorchSharp's per-thread live-tensor count).</summary>
public class LeakTests
{
    [Fact]
    public void TwoHundredTrainingStepsLeaveTheLiveTensorCountFlat() => TrainAndCount(BlockKind.Basic, ShortcutKind.ZeroPad);

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(BlockKind.Bottleneck, ShortcutKind.Projection)]
    [InlineData(BlockKind.PreActBasic, ShortcutKind.AvgPoolProjection)]
    [InlineData(BlockKind.PreActBottleneck, ShortcutKind.ZeroPad)]
    public void TwoHundredTrainingStepsLeaveTheLiveTensorCountFlat_OtherBlocks(BlockKind kind, ShortcutKind shortcut)
        => TrainAndCount(kind, shortcut);

    private static void TrainAndCount(BlockKind kind, ShortcutKind shortcut)
    {
        torch.manual_seed(0);
        var options = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 8).WithClasses(10)
            .AddStage(kind, 1, 8).AddStage(kind, 1, 16, stride: 2)
            .WithShortcut(shortcut).WithDropPath(0.1).WithSqueezeExcitation(4)
            .Build();
        using var model = new ResNet(options);
        using var x = torch.randn(2, 3, 8, 8);
        using var optimizer = torch.optim.SGD(model.parameters(), 0.01);

        Step(model, optimizer, x); // first step allocates the optimizer's and autograd's lasting state
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 200; i++)
        {
            Step(model, optimizer, x);
        }

        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        after.Should().Be(before);
    }

    [Fact]
    public void ForwardFeaturesReturnsOnlyTheTensorsTheCallerOwns()
    {
        using var model = ModelRegistry.Default.Create("resnet20");
        using var x = torch.randn(2, 3, 16, 16);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++)
        {
            var features = model.ForwardFeatures(x);
            foreach (var feature in features)
            {
                feature.Dispose();
            }
        }

        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before);
    }

    private static void Step(ResNet model, torch.optim.Optimizer optimizer, Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var loss = model.call(x).square().mean();
        loss.backward();
        optimizer.step();
    }
}
