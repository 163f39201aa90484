using BenchmarkDotNet.Attributes;
using ResidualNet.Diagnostics;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Issue 4, acceptance 3: the cost of <see cref="GradientFlowMonitor"/> on a CIFAR training step (library
/// resnet20/resnet56, 32x32, batch 128). Baseline: a monitor attached and then detached (which must cost nothing);
/// measured: a monitor attached with its defaults (every step recorded: per-parameter gradient statistics, per
/// block dL/dx at input and output, activation statistics), <see cref="GradientFlowMonitor.RecordStep"/> called
/// after every backward.
/// </summary>
public class GradientFlowMonitorBenchmarks : TrainingSuiteBase
{
    private GradientFlowMonitor? _monitor;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.MonitorNames))]
    public string Network { get; set; } = "resnet56";

    /// <summary>The batch size.</summary>
    [Params(128)]
    public int BatchSize { get; set; } = 128;

    /// <inheritdoc/>
    public override string NetworkName => Network;

    /// <inheritdoc/>
    public override int Batch => BatchSize;

    /// <summary>Setup of the detached baseline.</summary>
    [GlobalSetup(Target = nameof(MonitorDetached))]
    public void SetupDetached()
    {
        Setup(Networks.Library(Network, Device));
        GradientFlowMonitor.Attach(Model).Detach();
    }

    /// <summary>Setup of the attached monitor.</summary>
    [GlobalSetup(Target = nameof(MonitorAttached))]
    public void SetupAttached()
    {
        Setup(Networks.Library(Network, Device));
        // History is not what is measured: keep a short one so that a long run does not grow the process.
        _monitor = GradientFlowMonitor.Attach(Model, new GradientFlowMonitorOptions { HistoryLimit = 16 });
    }

    /// <summary>Training step, monitor detached (baseline).</summary>
    [Benchmark(Baseline = true)]
    public float MonitorDetached() => Step();

    /// <summary>Training step with every statistic recorded.</summary>
    [Benchmark]
    public float MonitorAttached() => Step(() => _monitor!.RecordStep());

    /// <inheritdoc/>
    public override void Cleanup()
    {
        _monitor?.Dispose();
        base.Cleanup();
    }
}
