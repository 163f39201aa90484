using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Models;
using ResidualNet.Performance;
using TorchSharp;
using ResidualNet.TestSupport;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Performance;

/// <summary>
/// Issue 14's soak: 10,000 training steps of resnet20 at batch 8 with the gradient-flow monitor, bf16 mixed
/// precision and block checkpointing all on. Live tensors and resident memory must stay flat. Slow set:
/// <c>dotnet test tests/ResidualNet.UnitTests -c Release --filter "FullyQualifiedName~SoakTests"</c>
/// (<c>RESIDUALNET_SOAK_STEPS</c> changes the step count).
/// </summary>
public class SoakTests(ITestOutputHelper output)
{
    /// <summary>Steps before the first sample (allocator and caches warm up).</summary>
    private const int WarmUpSteps = 500;

    /// <summary>Tolerance on the live-tensor count between samples after warm-up: none may appear per step.</summary>
    private const long LiveTensorTolerance = 0;

    /// <summary>Tolerance on resident-memory growth from the first sample after warm-up to the last: 64 MiB.</summary>
    private const long ResidentToleranceBytes = 64L << 20;

    [SkippableFact]
    [Trait("Category", "Slow")]
    public void TenThousandSteps_MonitorMixedPrecisionCheckpointing_LiveTensorsAndResidentMemoryFlat()
    {
        TestEnvironment.RequireProcMemory();
        int steps = int.TryParse(Environment.GetEnvironmentVariable("RESIDUALNET_SOAK_STEPS"), out int s) ? s : 10_000;
        int sampleEvery = Math.Max(1, (steps - WarmUpSteps) / 20);
        manual_seed(14);
        using var net = ModelRegistry.Default.Create("resnet20");
        net.Checkpointing = CheckpointGranularity.Block;
        net.train();
        using var trainer = new MixedPrecisionTrainer(net, ps => optim.SGD(ps, 0.01, momentum: 0.9), MixedPrecisionOptions.BFloat16);
        // After the trainer converted the model to bf16. The monitor keeps its last HistoryLimit steps (10,000 by default,
        // several KiB each): a short history, so that what grows is a leak, not the history it is asked to keep.
        using var monitor = GradientFlowMonitor.Attach(net, new GradientFlowMonitorOptions { HistoryLimit = 100 });
        var inputs = new List<Tensor>();
        var labels = new List<Tensor>();
        for (int i = 0; i < 16; i++)
        {
            inputs.Add(randn(8, 3, 32, 32).DetachFromDisposeScope());
            labels.Add(randint(0, 10, 8).DetachFromDisposeScope());
        }

        var samples = new List<(int Step, long Live, long Resident)>();
        string? report = Environment.GetEnvironmentVariable("RESIDUALNET_SOAK_REPORT") is { Length: > 0 } path ? path : null;
        if (report is not null)
        {
            File.WriteAllText(report, "step,live,resident,seconds\n");
        }

        var clock = Stopwatch.StartNew();
        for (int step = 0; step < steps; step++)
        {
            var result = trainer.Step(inputs[step % 16], o => nn.functional.cross_entropy(o, labels[step % 16]));
            double.IsFinite(result.Loss).Should().BeTrue();
            var recorded = monitor.RecordStep();
            recorded?.Errors.Should().BeEmpty();
            if (step + 1 >= WarmUpSteps && (step + 1 - WarmUpSteps) % sampleEvery == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                samples.Add((step + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount, Resident()));
                if (report is not null)
                {
                    // Progress, sample by sample, so that a long soak shows where it is (the summary replaces it at the end).
                    var (at, live, resident) = samples[^1];
                    File.AppendAllText(report, string.Create(CultureInfo.InvariantCulture, $"{at},{live},{resident},{clock.Elapsed.TotalSeconds:F0}\n"));
                }
            }
        }

        inputs.Concat(labels).ToList().ForEach(t => t.Dispose());
        var first = samples[0];
        var last = samples[^1];
        long liveRange = samples.Max(x => x.Live) - samples.Min(x => x.Live);
        long residentDrift = last.Resident - first.Resident;
        long residentRange = samples.Max(x => x.Resident) - samples.Min(x => x.Resident);
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"soak: {steps} steps in {clock.Elapsed.TotalSeconds:F0} s ({clock.Elapsed.TotalMilliseconds / steps:F1} ms/step); " +
            $"live tensors {first.Live} at step {first.Step}, {last.Live} at step {last.Step}, range {liveRange} over {samples.Count} samples; " +
            $"resident {first.Resident / 1048576.0:F1} MiB -> {last.Resident / 1048576.0:F1} MiB (drift {residentDrift / 1048576.0:F1} MiB, range {residentRange / 1048576.0:F1} MiB); final loss scale {trainer.LossScale}");
        output.WriteLine(summary);
        foreach (var sample in samples)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  step {sample.Step,6}: live {sample.Live}, resident {sample.Resident / 1048576.0:F1} MiB"));
        }

        if (report is not null)
        {
            File.WriteAllLines(report, samples.Select(x => $"{x.Step},{x.Live},{x.Resident}").Prepend(summary));
        }

        liveRange.Should().BeLessThanOrEqualTo(LiveTensorTolerance, summary);
        residentDrift.Should().BeLessThanOrEqualTo(ResidentToleranceBytes, summary);
    }

    private static long Resident()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
