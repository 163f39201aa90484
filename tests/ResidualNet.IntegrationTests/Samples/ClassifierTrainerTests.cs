using System;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.IntegrationTests.Samples;

public sealed class ClassifierTrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-trainer-" + Guid.NewGuid().ToString("N"));
    private readonly ImageDataSet _train = SyntheticImages.CreateDataSet(384, seed: 1);
    private readonly ImageDataSet _test = SyntheticImages.CreateDataSet(200, seed: 2);

    public void Dispose()
    {
        _train.Dispose();
        _test.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, true);
        }
    }

    private TrainingOptions Options(string sub) => new()
    {
        Epochs = 3,
        BatchSize = 16,
        LearningRate = 0.1,
        Schedule = LearningRateSchedule.Cosine,
        Seed = 3,
        CheckpointDirectory = Path.Combine(_dir, sub),
    };

    /// <summary>A small plain convnet (any Module&lt;Tensor, Tensor&gt; classifier will do): 3x3 conv-BN-ReLU layers of
    /// 8, 8, 16 and 32 channels, the last two with stride 2, global average pooling and a linear layer.</summary>
    private static nn.Module<Tensor, Tensor> NewModel()
    {
        torch.manual_seed(7);
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding: 1, bias: false), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding: 1, bias: false), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride: 2, padding: 1, bias: false), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride: 2, padding: 1, bias: false), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10));
    }

    [Fact]
    public void TrainingLowersTheErrorOfAnyModuleClassifier()
    {
        using var model = NewModel();
        var before = ClassifierTrainer.Evaluate(model, _test, 100);
        var run = new ClassifierTrainer("m", model, Options("a")).Train(_train, _test, resume: false, null, CancellationToken.None);

        run.Cancelled.Should().BeFalse();
        run.History.Select(h => h.Epoch).Should().Equal(1, 2, 3);
        before.Error.Should().BeGreaterThan(0.6);
        run.History[^1].TestError.Should().BeLessThan(0.35, "the synthetic classes are easy to tell apart");
        run.History[^1].TestError.Should().Be(ClassifierTrainer.Evaluate(model, _test).Error);
        File.Exists(Path.Combine(_dir, "a", "m.weights")).Should().BeTrue();
        File.ReadAllText(Path.Combine(_dir, "a", "m.state.json")).Should().Contain("\"CompletedEpochs\": 3");
    }

    [Fact]
    public void CancelledRunResumesToExactlyTheUninterruptedResult()
    {
        using var straight = NewModel();
        var full = new ClassifierTrainer("m", straight, Options("straight")).Train(_train, _test, false, null, CancellationToken.None);

        // Stop after batch 4 of epoch 1 (0-based epoch 0), as Ctrl+C would, then resume in a fresh process-like setup.
        using var cts = new CancellationTokenSource();
        using (var first = NewModel())
        {
            var observer = new CancelAt(cts, epoch: 0, batch: 4);
            var stopped = new ClassifierTrainer("m", first, Options("resumed")).Train(_train, _test, false, observer, cts.Token);
            stopped.Cancelled.Should().BeTrue();
            stopped.StoppedAt.Should().Be((0, 5));
            stopped.CheckpointKept.Should().BeTrue();
            stopped.History.Should().BeEmpty();
        }

        using var second = NewModel();
        var resumed = new ClassifierTrainer("m", second, Options("resumed")).Train(_train, _test, true, null, CancellationToken.None);

        resumed.ResumedFrom.Should().Be((0, 5));
        resumed.Cancelled.Should().BeFalse();
        resumed.History.Select(r => r with { Seconds = 0 }).Should().Equal(full.History.Select(r => r with { Seconds = 0 }));
        var a = straight.parameters().ToArray();
        var b = second.parameters().ToArray();
        a.Length.Should().Be(b.Length);
        for (int i = 0; i < a.Length; i++)
        {
            torch.allclose(a[i], b[i], rtol: 0, atol: 0).Should().BeTrue($"parameter {i} must match bit for bit");
        }
    }

    [Fact]
    public void ResumeWithDifferentSettingsIsRefusedWithOneLine()
    {
        using (var model = NewModel())
        {
            new ClassifierTrainer("m", model, Options("x") with { Epochs = 1 }).Train(_train, _test, false, null, CancellationToken.None);
        }

        using var other = NewModel();
        var act = () => new ClassifierTrainer("m", other, Options("x") with { Epochs = 1, BatchSize = 64 }).Train(_train, _test, true, null, CancellationToken.None);
        act.Should().Throw<SampleException>().Which.Message.Should().Contain("batch size 16, this run uses 64").And.NotContain("\n");
    }

    [Fact]
    public void CorruptStateFileIsAOneLineError()
    {
        using (var model = NewModel())
        {
            new ClassifierTrainer("m", model, Options("c") with { Epochs = 1 }).Train(_train, _test, false, null, CancellationToken.None);
        }

        File.WriteAllText(Path.Combine(_dir, "c", "m.state.json"), "{ not json");
        using var again = NewModel();
        var act = () => new ClassifierTrainer("m", again, Options("c") with { Epochs = 1 }).Train(_train, _test, true, null, CancellationToken.None);
        act.Should().Throw<SampleException>().WithMessage("*m.state.json' is not valid JSON*");
    }

    [Fact]
    public void TrainingLeaksNoTensors()
    {
        using var model = NewModel();
        var trainer = new ClassifierTrainer("m", model, Options("leak") with { Epochs = 1, CheckpointDirectory = null });
        trainer.Train(_train, _test, false, null, CancellationToken.None);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.Train(_train, _test, false, null, CancellationToken.None);
        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before);
    }

    [Fact]
    public void Bf16TrainingUsesTheSameLoopKeepsNoCheckpointAndLeavesAnFp32Model()
    {
        using var model = NewModel();
        var options = Options("bf16") with { Precision = TrainingPrecision.BF16 };
        var run = new ClassifierTrainer("m", model, options).Train(_train, _test, resume: false, null, CancellationToken.None);

        run.Cancelled.Should().BeFalse();
        run.CheckpointKept.Should().BeFalse();
        run.History.Select(h => h.Epoch).Should().Equal(1, 2, 3);
        run.History[^1].TestError.Should().BeLessThan(0.35, "bf16 mixed precision learns the synthetic classes too");
        model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float32 && p.device_type == DeviceType.CPU);
        Directory.Exists(Path.Combine(_dir, "bf16")).Should().BeFalse("bf16 training writes no checkpoint");

        // Nothing per batch or epoch: a run of 1 epoch and one of 3 leave the same count behind. (Each bf16 run leaves
        // a constant in TorchSharp's statistics, measured at one or two per parameter; it comes with the Parameter
        // objects that MixedPrecisionTrainer and the bf16/fp32 conversions create, not with the steps.)
        long Growth(int epochs)
        {
            long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            new ClassifierTrainer("m", model, options with { Epochs = epochs }).Train(_train, _test, false, null, CancellationToken.None);
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
        }

        long one = Growth(1);
        Growth(3).Should().Be(one, "the bf16 path leaks nothing per batch");
    }

    [Fact]
    public void ResumingInBf16IsRefusedWithOneLine()
    {
        using (var model = NewModel())
        {
            new ClassifierTrainer("m", model, Options("r") with { Epochs = 1 }).Train(_train, _test, false, null, CancellationToken.None);
        }

        using var other = NewModel();
        var act = () => new ClassifierTrainer("m", other, Options("r") with { Epochs = 1, Precision = TrainingPrecision.BF16 }).Train(_train, _test, true, null, CancellationToken.None);
        act.Should().Throw<SampleException>().WithMessage("--resume works with fp32 training only*");
    }

    /// <summary>Where CUDA is absent (TorchSharp-cpu, no GPU), asking for it is one clear error before anything runs.</summary>
    [SkippableFact]
    public void CudaWithoutCudaIsAClearError()
    {
        Skip.If(torch.cuda.is_available(), "CUDA is available here: the error cannot happen.");
        using var model = NewModel();
        var act = () => new ClassifierTrainer("m", model, Options("cuda") with { Device = TrainingDevice.Cuda });
        act.Should().Throw<SampleException>().WithMessage("device cuda was asked for, but torch.cuda.is_available() is false*use --device cpu.");
    }

    private sealed class CancelAt(CancellationTokenSource source, int epoch, int batch) : ITrainingObserver
    {
        public void BatchCompleted(int e, int b, int batchCount, double loss)
        {
            if (e == epoch && b == batch)
            {
                source.Cancel();
            }
        }
    }
}
