using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Performance;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

/// <summary>
/// Issue 16 item 3 and issue 14 defect 11: the trainer's flat master/gradient buffers against the earlier
/// per-parameter copies (same results, bitwise), the operations and host reads per step before and after, the static
/// loss scale, and no tensor left behind per step.
/// </summary>
public class MixedPrecisionFlatBufferTests(ITestOutputHelper output)
{
    private static nn.Module<Tensor, Tensor> ConvNet(int seed)
    {
        manual_seed(seed);
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding: 1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding: 1, stride: 2), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4));
    }

    private static nn.Module<Tensor, Tensor> Mlp(int seed)
    {
        manual_seed(seed);
        return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1));
    }

    private static (Tensor X, Tensor Y) ImageData()
    {
        manual_seed(7);
        return (randn(16, 1, 8, 8), randint(0, 4, 16));
    }

    private static MixedPrecisionTrainer Trainer(nn.Module<Tensor, Tensor> model, MixedPrecisionOptions options, bool flat) =>
        new(model, ps => optim.SGD(ps, 0.05, momentum: 0.9, weight_decay: 1e-4), options with { FlatBuffers = flat });

    private static List<double> Train(MixedPrecisionTrainer trainer, Tensor x, Func<Tensor, Tensor> loss, int steps, Action<int>? between = null)
    {
        var losses = new List<double>();
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            between?.Invoke(step);
            losses.Add(trainer.Step(x, loss).Loss);
        }

        return losses;
    }

    private static void ShouldBeBitwiseEqual(IReadOnlyList<Tensor> actual, IReadOnlyList<Tensor> expected)
    {
        actual.Should().HaveCount(expected.Count);
        for (int i = 0; i < actual.Count; i++)
        {
            using var same = actual[i].eq(expected[i]).all();
            same.item<bool>().Should().BeTrue($"master {i} must be bit-identical");
        }
    }

    [Fact]
    public void BFloat16_FlatBuffersTrainBitIdenticallyToPerParameterCopies()
    {
        using var scope = NewDisposeScope();
        var (x, y) = ImageData();
        using var flat = Trainer(ConvNet(3), MixedPrecisionOptions.BFloat16, flat: true);
        using var perParameter = Trainer(ConvNet(3), MixedPrecisionOptions.BFloat16, flat: false);

        var flatLosses = Train(flat, x, o => nn.functional.cross_entropy(o, y), 12);
        var perParameterLosses = Train(perParameter, x, o => nn.functional.cross_entropy(o, y), 12);

        output.WriteLine($"loss {flatLosses[0]:F5} -> {flatLosses[^1]:F5}");
        flatLosses.Should().Equal(perParameterLosses);
        flatLosses[^1].Should().BeLessThan(flatLosses[0]);
        flat.Relayouts.Should().Be(0, "nothing replaced a parameter or gradient: the views held through every step");
        ShouldBeBitwiseEqual(flat.MasterParameters, perParameter.MasterParameters);
    }

    [Fact]
    public void Float16DynamicScaling_FlatBuffersSkipTheSameStepsAndTrainBitIdentically()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var x = randn(64, 10);
        var y = x.sum(1, keepdim: true);
        var options = MixedPrecisionOptions.Float16 with { InitialScale = Math.Pow(2, 30), GrowthInterval = 4 };
        using var flat = Trainer(Mlp(5), options, flat: true);
        using var perParameter = Trainer(Mlp(5), options, flat: false);

        var flatResults = Enumerable.Range(0, 30).Select(_ => { using var s = NewDisposeScope(); return flat.Step(x, o => nn.functional.mse_loss(o, y)); }).ToList();
        var perParameterResults = Enumerable.Range(0, 30).Select(_ => { using var s = NewDisposeScope(); return perParameter.Step(x, o => nn.functional.mse_loss(o, y)); }).ToList();

        output.WriteLine($"skipped {flat.SkippedSteps}, scale {flat.LossScale}");
        flatResults.Should().Equal(perParameterResults);
        flat.SkippedSteps.Should().BeGreaterThan(0, "2^30 overflows fp16 gradients").And.Be(flatResults.Count(r => r.Skipped));
        ShouldBeBitwiseEqual(flat.MasterParameters, perParameter.MasterParameters);
    }

    [Fact]
    public void OperationsAndHostReadsPerStep_AreConstantWithFlatBuffers_AndGrowWithTheParameterCountPerParameter()
    {
        using var scope = NewDisposeScope();
        var (x, y) = ImageData();
        var options = MixedPrecisionOptions.BFloat16 with { InitialScale = 1024 };   // a static scale: no check, no read
        using var flat = Trainer(ConvNet(3), options, flat: true);
        using var perParameter = Trainer(ConvNet(3), options, flat: false);
        int parameters = flat.MasterParameters.Count;
        Train(flat, x, o => nn.functional.cross_entropy(o, y), 1);
        Train(perParameter, x, o => nn.functional.cross_entropy(o, y), 1);

        (long Operations, long Reads) Measure(MixedPrecisionTrainer trainer)
        {
            long operations = trainer.BookkeepingOperations, reads = trainer.HostReads;
            using var s = NewDisposeScope();
            trainer.StepDeferred(x, o => nn.functional.cross_entropy(o, y));
            return (trainer.BookkeepingOperations - operations, trainer.HostReads - reads);
        }

        var flatStep = Measure(flat);
        var perParameterStep = Measure(perParameter);
        output.WriteLine($"{parameters} parameters; per step: flat {flatStep.Operations} operations, {flatStep.Reads} host reads; per-parameter {perParameterStep.Operations} operations, {perParameterStep.Reads} host reads");

        flatStep.Should().Be((4L, 0L), "one copy in, one zeroing, one copy out, one unscale; a static scale reads nothing");
        perParameterStep.Should().Be((7L * parameters - 1, 1L), "per parameter: copy in, zeroing of the master gradient, copy out, unscale, isfinite, all, and (after the first) logical_and; one read");

        var dynamic = Trainer(ConvNet(3), MixedPrecisionOptions.BFloat16 with { DynamicLossScaling = true, InitialScale = 1024 }, flat: true);
        Measure(dynamic).Should().Be((6L, 1L), "dynamic scaling adds one isfinite, one all and the read of that one flag");
        dynamic.Dispose();
    }

    [Fact]
    public void StaticLossScale_StaysTheInitialScale_AndIsApplied()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var x = randn(64, 10);
        var y = x.sum(1, keepdim: true);
        // A loss so small that its fp16 gradients underflow to zero unless it is scaled up.
        Func<Tensor, Tensor> tiny = o => nn.functional.mse_loss(o, y) * 1e-7;
        var unscaled = MixedPrecisionOptions.Float16 with { DynamicLossScaling = false, InitialScale = 1 };
        var scaled = MixedPrecisionOptions.Float16 with { DynamicLossScaling = false, InitialScale = 4096 };
        using var plain = Trainer(Mlp(6), unscaled, flat: true);
        using var trainer = Trainer(Mlp(6), scaled, flat: true);

        trainer.LossScale.Should().Be(4096);
        var results = Enumerable.Range(0, 3).Select(_ => { using var s = NewDisposeScope(); return trainer.Step(x, tiny); }).ToList();
        using (NewDisposeScope())
        {
            plain.Step(x, tiny);
        }

        results.Should().OnlyContain(r => r.LossScale == 4096 && !r.Skipped);
        trainer.LossScale.Should().Be(4096, "a static scale never changes (issue 14, defect 11)");
        double GradientNorm(MixedPrecisionTrainer t)
        {
            using var g = t.MasterParameters[0].grad!;
            return linalg.vector_norm(g).item<float>();
        }

        output.WriteLine($"first-layer gradient norm: scale 1 {GradientNorm(plain):E3}, static scale 4096 {GradientNorm(trainer):E3}");
        GradientNorm(plain).Should().Be(0, "without scaling these fp16 gradients underflow");
        GradientNorm(trainer).Should().BeGreaterThan(0, "the static scale is applied before backward and removed after");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainingSteps_LeaveNoTensorBehind(bool flatBuffers)
    {
        var (x, y) = ImageData();
        using var trainer = Trainer(ConvNet(4), MixedPrecisionOptions.BFloat16, flatBuffers);
        Train(trainer, x, o => nn.functional.cross_entropy(o, y), 3);
        long afterWarmUp = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Train(trainer, x, o => nn.functional.cross_entropy(o, y), 20);
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(afterWarmUp, "each step frees every tensor it made, the gradient wrappers included");
        x.Dispose();
        y.Dispose();
    }

    [Fact]
    public void ParametersReplacedAfterConstruction_AreLaidOutAgain_AndTrainingMatchesThePerParameterPath()
    {
        using var scope = NewDisposeScope();
        var (x, y) = ImageData();
        var flatModel = ConvNet(5);
        var perParameterModel = ConvNet(5);
        using var flat = Trainer(flatModel, MixedPrecisionOptions.BFloat16, flat: true);
        using var perParameter = Trainer(perParameterModel, MixedPrecisionOptions.BFloat16, flat: false);

        // Between steps: gradients set to none (step 2), the model converted to channels_last (step 4).
        void Disturb(nn.Module<Tensor, Tensor> model, int step)
        {
            if (step == 2)
            {
                model.zero_grad();
            }

            if (step == 4)
            {
                model.ToChannelsLast();
            }
        }

        var flatLosses = Train(flat, x, o => nn.functional.cross_entropy(o, y), 8, s => Disturb(flatModel, s));
        var perParameterLosses = Train(perParameter, x, o => nn.functional.cross_entropy(o, y), 8, s => Disturb(perParameterModel, s));

        flatLosses.Should().Equal(perParameterLosses);
        ShouldBeBitwiseEqual(flat.MasterParameters, perParameter.MasterParameters);
        flatModel.parameters().First().IsChannelsLast().Should().BeTrue("the new layout keeps the parameters' strides");
        flat.Relayouts.Should().Be(2, "once after zero_grad() dropped the gradients, once after the channels_last conversion");
    }
}
