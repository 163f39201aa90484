using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Reports the peak native memory of each benchmark: the benchmark process's resident-set high-water mark
/// (<c>VmHWM</c>) at the end of the measured run, minus its resident size before the global setup (runtime and
/// libtorch loaded, nothing built yet). It therefore covers the model, optimizer state, inputs and the largest
/// step's activations. Linux only (reads /proc/&lt;pid&gt;/status of the benchmark process from the host); the
/// column is empty elsewhere.
/// </summary>
public sealed class PeakNativeMemoryDiagnoser : IDiagnoser
{
    private readonly ConcurrentDictionary<BenchmarkCase, long> _baseline = new();
    private readonly ConcurrentDictionary<BenchmarkCase, long> _peak = new();

    /// <summary>The single instance to add to a config.</summary>
    public static PeakNativeMemoryDiagnoser Default { get; } = new();

    /// <inheritdoc/>
    public IEnumerable<string> Ids => new[] { "PeakNativeMemory" };

    /// <inheritdoc/>
    public IEnumerable<IExporter> Exporters => Enumerable.Empty<IExporter>();

    /// <inheritdoc/>
    public IEnumerable<IAnalyser> Analysers => Enumerable.Empty<IAnalyser>();

    /// <inheritdoc/>
    public RunMode GetRunMode(BenchmarkCase benchmarkCase) => ProcessMemory.IsSupported ? RunMode.NoOverhead : RunMode.None;

    /// <inheritdoc/>
    public void Handle(HostSignal signal, DiagnoserActionParameters parameters)
    {
        // Only these two signals come while the benchmark process runs (at BeforeProcessStart it has no id yet).
        switch (signal)
        {
            case HostSignal.BeforeAnythingElse:
                int pid = parameters.Process.Id;
                ProcessMemory.TryResetPeak(pid);
                if (ProcessMemory.Read(pid) is { } before)
                {
                    _baseline[parameters.BenchmarkCase] = before.ResidentBytes;
                }

                break;
            case HostSignal.AfterActualRun:
                if (ProcessMemory.Read(parameters.Process.Id) is { } after)
                {
                    _peak[parameters.BenchmarkCase] = after.PeakResidentBytes;
                }

                break;
        }
    }

    /// <inheritdoc/>
    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        if (_baseline.TryGetValue(results.BenchmarkCase, out long baseline) && _peak.TryGetValue(results.BenchmarkCase, out long peak))
        {
            yield return new Metric(PeakNativeDescriptor.Instance, peak - baseline);
        }
    }

    /// <inheritdoc/>
    public void DisplayResults(ILogger logger)
    {
    }

    /// <inheritdoc/>
    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => Enumerable.Empty<ValidationError>();

    private sealed class PeakNativeDescriptor : IMetricDescriptor
    {
        public static readonly PeakNativeDescriptor Instance = new();

        public string Id => "PeakNative";

        public string DisplayName => "Peak native";

        public string Legend => "Peak resident memory of the benchmark process during setup and measured run, above its level before setup (VmHWM - VmRSS)";

        public string NumberFormat => "N0";

        public UnitType UnitType => UnitType.Size;

        public string Unit => "B";

        public bool TheGreaterTheBetter => false;

        public int PriorityInCategory => 0;

        public bool GetIsAvailable(Metric metric) => true;
    }
}
