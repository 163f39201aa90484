using BenchmarkDotNet.Attributes;
using ResidualNet.Models;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// What the training suites share: one step = forward, cross-entropy, backward, SGD with momentum, on a fixed batch.
/// </summary>
public abstract class TrainingSuiteBase : BenchmarkBase
{
    private const double LearningRate = 0.01;
    private nn.Module<Tensor, Tensor> _model = null!;
    private optim.Optimizer? _optimizer;
    private MixedPrecisionTrainer? _mixed;
    private Tensor _input = null!;
    private Tensor _labels = null!;

    /// <summary>The network (a name of <see cref="Networks"/>).</summary>
    public abstract string NetworkName { get; }

    /// <summary>The batch size.</summary>
    public abstract int Batch { get; }

    /// <summary>Builds the model, data and an SGD optimizer (fp32).</summary>
    protected void Setup(nn.Module<Tensor, Tensor> model, bool channelsLast = false)
    {
        _model = model;
        _model.train();
        _input = RandomImages(Batch, 3, Networks.InputSize(NetworkName));
        _labels = RandomLabels(Batch, Networks.Classes(NetworkName));
        if (channelsLast)
        {
            _model.ToChannelsLast();
            var converted = _input.ToChannelsLast().DetachFromDisposeScope();
            _input.Dispose();
            _input = converted;
        }

        _optimizer = optim.SGD(_model.parameters(), LearningRate, momentum: 0.9);
    }

    /// <summary>Builds the model and data for mixed precision (bf16 on CPU, fp16 with loss scaling on CUDA), channels_last.</summary>
    protected void SetupMixed(nn.Module<Tensor, Tensor> model)
    {
        Setup(model, channelsLast: true);
        _optimizer!.Dispose();
        _optimizer = null;
        var options = Device.type == DeviceType.CUDA ? MixedPrecisionOptions.Float16 : MixedPrecisionOptions.BFloat16;
        _mixed = new MixedPrecisionTrainer(_model, ps => optim.SGD(ps, LearningRate, momentum: 0.9), options);
        // The dtype conversion made new (contiguous) parameters: lay them out channels_last again.
        _model.ToChannelsLast();
    }

    /// <summary>The model being measured.</summary>
    protected nn.Module<Tensor, Tensor> Model => _model;

    /// <summary>One fp32 training step.</summary>
    protected float Step()
    {
        float loss = TrainingStep(_model, _optimizer!, _input, _labels);
        Synchronize();
        return loss;
    }

    /// <summary>One fp32 training step with <paramref name="afterBackward"/> run between backward and the optimizer step.</summary>
    protected float Step(System.Action afterBackward)
    {
        using var scope = NewDisposeScope();
        _optimizer!.zero_grad();
        var loss = nn.functional.cross_entropy(_model.call(_input), _labels);
        loss.backward();
        afterBackward();
        _optimizer.step();
        Synchronize();
        return loss.item<float>();
    }

    /// <summary>One mixed-precision training step.</summary>
    protected float MixedStep()
    {
        using var scope = NewDisposeScope();
        var result = _mixed!.Step(_input, o => nn.functional.cross_entropy(o, _labels));
        Synchronize();
        return (float)result.Loss;
    }

    /// <summary>Releases the model, optimizer and data.</summary>
    [GlobalCleanup]
    public virtual void Cleanup()
    {
        _mixed?.Dispose();
        _optimizer?.Dispose();
        _model?.Dispose();
        _input?.Dispose();
        _labels?.Dispose();
    }
}

/// <summary>
/// Whole-network training step of resnet18/resnet50 at 224x224: TorchVision baseline, the library's default path,
/// channels_last, and mixed precision (bf16 on CPU, fp16 with loss scaling on CUDA) with channels_last.
/// </summary>
public class NetworkTrainingBenchmarks : TrainingSuiteBase
{
    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.Names))]
    public string Network { get; set; } = "resnet50";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    /// <inheritdoc/>
    public override string NetworkName => Network;

    /// <inheritdoc/>
    public override int Batch => BatchSize;

    /// <summary>Setup of the baseline.</summary>
    [GlobalSetup(Target = nameof(TorchVisionBaseline))]
    public void SetupBaseline() => Setup(Networks.TorchVision(Network, Device));

    /// <summary>Setup of the library's default path.</summary>
    [GlobalSetup(Target = nameof(LibraryDefault))]
    public void SetupDefault() => Setup(Networks.Library(Network, Device));

    /// <summary>Setup of channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryChannelsLast))]
    public void SetupChannelsLast() => Setup(Networks.Library(Network, Device), channelsLast: true);

    /// <summary>Setup of mixed precision with channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryMixedPrecisionChannelsLast))]
    public void SetupMixedPrecision() => SetupMixed(Networks.Library(Network, Device));

    /// <summary>TorchVision, fp32.</summary>
    [Benchmark(Baseline = true)]
    public float TorchVisionBaseline() => Step();

    /// <summary>The library's default configuration.</summary>
    [Benchmark]
    public float LibraryDefault() => Step();

    /// <summary>channels_last, fp32.</summary>
    [Benchmark]
    public float LibraryChannelsLast() => Step();

    /// <summary>fp32 master weights, bf16 (CPU) / fp16 (CUDA) compute, channels_last.</summary>
    [Benchmark]
    public float LibraryMixedPrecisionChannelsLast() => MixedStep();
}

/// <summary>
/// CIFAR networks (resnet20/56/110 and plain twins, 32x32) training step: the library's default configuration is
/// the baseline of channels_last and mixed precision.
/// </summary>
public class CifarTrainingBenchmarks : TrainingSuiteBase
{
    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.CifarNames))]
    public string Network { get; set; } = "resnet56";

    /// <summary>The batch size.</summary>
    [Params(128)]
    public int BatchSize { get; set; } = 128;

    /// <inheritdoc/>
    public override string NetworkName => Network;

    /// <inheritdoc/>
    public override int Batch => BatchSize;

    /// <summary>Setup of the default path.</summary>
    [GlobalSetup(Target = nameof(LibraryDefault))]
    public void SetupDefault() => Setup(Networks.Library(Network, Device));

    /// <summary>Setup of channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryChannelsLast))]
    public void SetupChannelsLast() => Setup(Networks.Library(Network, Device), channelsLast: true);

    /// <summary>Setup of mixed precision with channels_last.</summary>
    [GlobalSetup(Target = nameof(LibraryMixedPrecisionChannelsLast))]
    public void SetupMixedPrecision() => SetupMixed(Networks.Library(Network, Device));

    /// <summary>The library's default configuration (baseline).</summary>
    [Benchmark(Baseline = true)]
    public float LibraryDefault() => Step();

    /// <summary>channels_last, fp32.</summary>
    [Benchmark]
    public float LibraryChannelsLast() => Step();

    /// <summary>bf16 (CPU) / fp16 (CUDA) mixed precision, channels_last.</summary>
    [Benchmark]
    public float LibraryMixedPrecisionChannelsLast() => MixedStep();
}

/// <summary>
/// Activation checkpointing of a deep network (resnet152 at 224x224, CIFAR resnet1202 at 32x32; batch 8): the plain training step (baseline)
/// against <see cref="CheckpointGranularity.Block"/> and <see cref="CheckpointGranularity.SquareRoot"/>. Read the
/// "Peak native" column for the memory saved and the time ratio for the compute cost.
/// </summary>
public class CheckpointBenchmarks : TrainingSuiteBase
{
    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.CheckpointNames))]
    public string Network { get; set; } = "resnet152";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    /// <inheritdoc/>
    public override string NetworkName => Network;

    /// <inheritdoc/>
    public override int Batch => BatchSize;

    /// <summary>Setup of the plain step.</summary>
    [GlobalSetup(Target = nameof(NoCheckpointing))]
    public void SetupPlain() => Setup(Networks.Library(Network, Device));

    /// <summary>Setup of per-block checkpointing.</summary>
    [GlobalSetup(Target = nameof(CheckpointEveryBlock))]
    public void SetupBlock() => Setup(Networks.CheckpointedLibrary(Network, Device, CheckpointGranularity.Block));

    /// <summary>Setup of square-root segments.</summary>
    [GlobalSetup(Target = nameof(CheckpointSquareRootSegments))]
    public void SetupSquareRoot() => Setup(Networks.CheckpointedLibrary(Network, Device, CheckpointGranularity.SquareRoot));

    /// <summary>The library's default configuration (no checkpointing, baseline).</summary>
    [Benchmark(Baseline = true)]
    public float NoCheckpointing() => Step();

    /// <summary>Every residual block checkpointed.</summary>
    [Benchmark]
    public float CheckpointEveryBlock() => Step();

    /// <summary>About sqrt(blocks) consecutive blocks per checkpointed segment.</summary>
    [Benchmark]
    public float CheckpointSquareRootSegments() => Step();
}
