using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Performance;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

public class MixedPrecisionTests(ITestOutputHelper output)
{
    private static nn.Module<Tensor, Tensor> SmallConvNet() => nn.Sequential(
        nn.Conv2d(1, 8, 3, padding: 1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding: 1, stride: 2), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4));

    /// <summary>A learnable 4-class problem: the class is the quadrant with the brightest blob.</summary>
    private static (Tensor X, Tensor Y) Data()
    {
        manual_seed(41);
        var y = randint(0, 4, 64);
        var x = randn(64, 1, 8, 8) * 0.3;
        for (int i = 0; i < 64; i++)
        {
            long c = y[i].item<long>();
            long r = c / 2 * 4, q = c % 2 * 4;
            x[i, 0, TensorIndex.Slice(r, r + 4), TensorIndex.Slice(q, q + 4)].add_(1.0);
        }

        return (x, y);
    }

    [Fact]
    public void BFloat16Training_ReachesAboutTheFp32Loss()
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        manual_seed(42);
        var reference = SmallConvNet();
        manual_seed(42);
        var model = SmallConvNet();
        var optimizer = optim.SGD(reference.parameters(), 0.1, momentum: 0.9);
        using var trainer = new MixedPrecisionTrainer(model, ps => optim.SGD(ps, 0.1, momentum: 0.9));

        model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.BFloat16);
        trainer.MasterParameters.Should().OnlyContain(p => p.dtype == ScalarType.Float32);
        double firstLoss = 0, fp32Loss = 0, mixedLoss = 0;
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(reference.call(x), y);
            loss.backward();
            optimizer.step();
            fp32Loss = loss.item<float>();
            var result = trainer.Step(x, o => nn.functional.cross_entropy(o, y));
            result.Skipped.Should().BeFalse();
            result.LossScale.Should().Be(1.0);
            mixedLoss = result.Loss;
            if (step == 0)
            {
                firstLoss = result.Loss;
            }
        }

        output.WriteLine($"first {firstLoss:F4}, fp32 {fp32Loss:F4}, bf16 mixed {mixedLoss:F4}");
        mixedLoss.Should().BeLessThan(firstLoss / 4);
        Math.Abs(mixedLoss - fp32Loss).Should().BeLessThan(0.1 + 0.25 * fp32Loss);

        var master = trainer.MasterParameters[0].detach().clone();
        var full = trainer.ToFullPrecision();
        full.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float32);
        full.parameters().First().allclose(master, rtol: 0, atol: 0).Should().BeTrue();
        var act = () => trainer.Step(x, o => o.sum());
        act.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void Float16DynamicScaling_SkipsOverflowingSteps_HalvesTheScale_AndStillTrains()
    {
        using var scope = NewDisposeScope();
        manual_seed(43);
        var model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1));
        var x = randn(128, 10);
        var y = x.sum(1, keepdim: true);
        var options = MixedPrecisionOptions.Float16 with { InitialScale = Math.Pow(2, 40), GrowthInterval = 5 };
        using var trainer = new MixedPrecisionTrainer(model, ps => optim.Adam(ps, 0.01), options);

        var results = Enumerable.Range(0, 150).Select(_ =>
        {
            using var stepScope = NewDisposeScope();
            return trainer.Step(x, o => nn.functional.mse_loss(o, y));
        }).ToList();

        int skipped = results.Count(r => r.Skipped);
        output.WriteLine($"skipped {skipped}, final scale {trainer.LossScale}, loss {results[0].Loss:F3} -> {results[^1].Loss:F3}");
        skipped.Should().BeGreaterThan(0, "2^40 overflows fp16 gradients");
        results[0].Skipped.Should().BeTrue();
        results[1].LossScale.Should().Be(Math.Pow(2, 39));
        results.Where(r => r.Skipped).Should().OnlyContain(r => r.LossScale > 1e4, "small scales do not overflow here");
        results[^1].Loss.Should().BeLessThan(results[0].Loss / 10);
    }

    [Fact]
    public void Steps_LeaveNoTensorBehind()
    {
        manual_seed(3);
        using var model = SmallConvNet();
        using var x = randn(4, 1, 8, 8);
        using var y = tensor(new long[] { 0, 1, 2, 3 });
        var trainer = new MixedPrecisionTrainer(model, ps => optim.SGD(ps, 0.1, momentum: 0.9), MixedPrecisionOptions.BFloat16);
        trainer.Step(x, logits => nn.functional.cross_entropy(logits, y));
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            trainer.Step(x, logits => nn.functional.cross_entropy(logits, y));
        }

        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "a step keeps only the masters' gradients, which it replaces");
        foreach (var master in trainer.MasterParameters)
        {
            using var grad = master.grad;
            grad.Should().NotBeNull("the optimizer still sees every gradient");
            grad!.dtype.Should().Be(ScalarType.Float32);
        }

        trainer.ToFullPrecision();
        trainer.MasterParameters.Should().OnlyContain(m => m.IsInvalid, "ToFullPrecision disposes the masters");
    }

    [Fact]
    public void BadOptions_AreRejectedWithTheirValue()
    {
        using var model = nn.Linear(2, 2);
        var act = () => new MixedPrecisionTrainer(model, ps => optim.SGD(ps, 0.1), MixedPrecisionOptions.Float16 with { BackoffFactor = 1.5 });
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("BackoffFactor").WithMessage("*BackoffFactor*1.5*");
        var act2 = () => new MixedPrecisionTrainer(model, ps => optim.SGD(ps, 0.1), new MixedPrecisionOptions { ComputeType = ScalarType.Float32 });
        act2.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Float32*");
    }
}
