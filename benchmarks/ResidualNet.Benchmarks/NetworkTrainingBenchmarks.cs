using BenchmarkDotNet.Attributes;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Whole-network training step (forward, cross-entropy, backward, SGD with momentum): TorchVision baseline, the
/// library's default path, channels_last, mixed precision (bf16 on CPU, fp16 with loss scaling on CUDA) and
/// activation checkpointing. The PeakNative column shows what checkpointing saves.
/// </summary>
public class NetworkTrainingBenchmarks : BenchmarkBase
{
    private const double LearningRate = 0.01;
    private nn.Module<Tensor, Tensor> _model = null!;
    private optim.Optimizer _optimizer = null!;
    private MixedPrecisionTrainer? _mixed;
    private Tensor _input = null!;
    private Tensor _labels = null!;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.Names))]
    public string Network { get; set; } = "resnet50";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    private void Setup(nn.Module<Tensor, Tensor> model, bool channelsLast = false)
    {
        _model = model;
        _model.train();
        _input = RandomImages(BatchSize, 3, Networks.InputSize(Network));
        _labels = RandomLabels(BatchSize, 1000);
        if (channelsLast)
        {
            _model.ToChannelsLast();
            var converted = _input.ToChannelsLast().DetachFromDisposeScope();
            _input.Dispose();
            _input = converted;
        }

        _optimizer = optim.SGD(_model.parameters(), LearningRate, momentum: 0.9);
    }

    /// <summary>Setup of the baseline.</summary>
    [GlobalSetup(Target = nameof(TorchVisionBaseline))]
    public void SetupBaseline() => Setup(Networks.TorchVision(Network, Device));

    /// <summary>Setup of the library's default path.</summary>
    [GlobalSetup(Target = nameof(LibraryDefault))]
    public void SetupDefault() => Setup(Networks.Library(Network, Device));

    /// <summary>Setup of channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryChannelsLast))]
    public void SetupChannelsLast() => Setup(Networks.Library(Network, Device), channelsLast: true);

    /// <summary>Setup of checkpointing (every block).</summary>
    [GlobalSetup(Target = nameof(LibraryCheckpointed))]
    public void SetupCheckpointed() => Setup(Networks.CheckpointedLibrary(Network, Device));

    /// <summary>Setup of mixed precision with channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryMixedPrecisionChannelsLast))]
    public void SetupMixed()
    {
        Setup(Networks.Library(Network, Device), channelsLast: true);
        _optimizer.Dispose();
        var options = Device.type == DeviceType.CUDA ? MixedPrecisionOptions.Float16 : MixedPrecisionOptions.BFloat16;
        _mixed = new MixedPrecisionTrainer(_model, ps => optim.SGD(ps, LearningRate, momentum: 0.9), options);
        // The dtype conversion made new (contiguous) parameters: lay them out channels_last again.
        _model.ToChannelsLast();
    }

    /// <summary>TorchVision, fp32.</summary>
    [Benchmark(Baseline = true)]
    public float TorchVisionBaseline() => Step();

    /// <summary>The library's default configuration.</summary>
    [Benchmark]
    public float LibraryDefault() => Step();

    /// <summary>channels_last, fp32.</summary>
    [Benchmark]
    public float LibraryChannelsLast() => Step();

    /// <summary>Activation checkpointing of every residual block, fp32.</summary>
    [Benchmark]
    public float LibraryCheckpointed() => Step();

    /// <summary>fp32 master weights, bf16 (CPU) / fp16 (CUDA) compute, channels_last.</summary>
    [Benchmark]
    public float LibraryMixedPrecisionChannelsLast()
    {
        using var scope = NewDisposeScope();
        var result = _mixed!.Step(_input, o => nn.functional.cross_entropy(o, _labels));
        Synchronize();
        return (float)result.Loss;
    }

    private float Step()
    {
        float loss = TrainingStep(_model, _optimizer, _input, _labels);
        Synchronize();
        return loss;
    }

    /// <summary>Releases the model, optimizer and data.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _mixed?.Dispose();
        _optimizer?.Dispose();
        _model?.Dispose();
        _input?.Dispose();
        _labels?.Dispose();
    }
}
