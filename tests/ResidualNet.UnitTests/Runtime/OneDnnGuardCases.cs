using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.Runtime;
using ResidualNet.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Runtime;

/// <summary>
/// The canary cases of the oneDNN guard, each meant to run in a child process (<see cref="ChildProcess"/>), since on a
/// CPU that hides its caches they crash libtorch with SIGFPE. Each reports what the parent checks.
/// </summary>
internal static class OneDnnGuardCases
{
    /// <summary>The five cases: channels_last eval of resnet18 and resnet50, resnext50_32x4d backward, resnet50 training in both layouts.</summary>
    public static readonly string[] Names =
    [
        "resnet18-channels-last-eval",
        "resnet50-channels-last-eval",
        "resnext50-backward",
        "resnet50-training-nchw",
        "resnet50-training-channels-last",
    ];

    /// <summary>
    /// Child entry: <c>args[0]</c> is a case name (or <c>canary</c>: the guard's own 1x1 convolution, without any
    /// ResidualNet call); <c>args[1]</c> is <c>natural</c> or <c>simulated</c> (1-byte caches written into oneDNN's CPU
    /// object first, as read on the affected machines).
    /// </summary>
    public static int Run(string[] args)
    {
        string name = args[0];
        if (args.Length > 1 && args[1] == "simulated")
        {
            var simulated = OneDnnGuard.SimulateHiddenCachesForTesting();
            ChildProcess.Report("simulated", string.Join(",", simulated.DataCacheSizes));
        }

        if (name == "canary")
        {
            // The guard's canary alone, with the guard not run: what libtorch computes in the current state.
            ChildProcess.Report("canary", OneDnnCanary.Run().ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            return 0;
        }

        manual_seed(0);
        switch (name)
        {
            case "resnet18-channels-last-eval":
                ChannelsLastEval("resnet18");
                break;
            case "resnet50-channels-last-eval":
                ChannelsLastEval("resnet50");
                break;
            case "resnext50-backward":
                TrainingStep("resnext50_32x4d", batch: 2, size: 32, channelsLast: false);
                break;
            case "resnet50-training-nchw":
                TrainingStep("resnet50", batch: 2, size: 32, channelsLast: false);
                break;
            case "resnet50-training-channels-last":
                TrainingStep("resnet50", batch: 2, size: 32, channelsLast: true);
                break;
            default:
                throw new ArgumentException($"Unknown case '{name}'.", nameof(args));
        }

        return 0;
    }

    /// <summary>Child entry: runs the guard, counting live tensors and the random generator's state around it.</summary>
    public static void GuardLeavesNoTrace()
    {
        using (var warm = ones(1))
        {
        }

        manual_seed(7);
        using var before = get_rng_state();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var status = OneDnnGuard.Ensure();
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using var after = get_rng_state();
        ChildProcess.Report("decision", status.Decision);
        ChildProcess.Report("liveTensorsAdded", liveAfter - live);
        ChildProcess.Report("rngUnchanged", before.equal(after).all().item<bool>());
    }

    /// <summary>Child entry: many threads ask for the guard at once (after a simulated hidden-cache state, so that it acts).</summary>
    public static void ConcurrentEnsure()
    {
        OneDnnGuard.SimulateHiddenCachesForTesting();
        var statuses = new OneDnnGuardStatus[8];
        var threads = Enumerable.Range(0, statuses.Length)
            .Select(i => new System.Threading.Thread(() => statuses[i] = OneDnnGuard.Ensure()))
            .ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        ChildProcess.Report("distinctStatuses", statuses.Distinct(ReferenceEqualityComparer.Instance).Count());
        ChildProcess.Report("decision", statuses[0].Decision);
    }

    /// <summary>Child entry: with an invalid override, a ResidualNet entry point throws a clear exception.</summary>
    public static void InvalidOverride()
    {
        try
        {
            using var model = ModelRegistry.Default.Create("resnet20");
            ChildProcess.Report("threw", false);
        }
        catch (InvalidOperationException e)
        {
            ChildProcess.Report("threw", true);
            ChildProcess.Report("message", e.Message);
        }
    }

    private static void ReportGuard()
    {
        var status = OneDnnGuard.Status ?? throw new InvalidOperationException("The guard did not run on a ResidualNet call.");
        ChildProcess.Report("decision", status.Decision);
        ChildProcess.Report("oneDnnEnabled", status.OneDnnEnabled);
        ChildProcess.Report("guardCanary", status.CanaryRelativeError?.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        ChildProcess.Report("guardMilliseconds", (long)status.Elapsed.TotalMilliseconds);
    }

    /// <summary>Eval forward in NCHW, then the same model and input in channels_last; reports the relative difference.</summary>
    private static void ChannelsLastEval(string model)
    {
        using var net = ModelRegistry.Default.Create(model);
        ReportGuard();
        net.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = randn(2, 3, 64, 64);
        var expected = net.call(x);
        net.ToChannelsLast();
        var actual = net.call(x.ToChannelsLast());
        ChildProcess.Report("relative", Relative(actual, expected));
    }

    /// <summary>
    /// A training step (train mode: forward, cross-entropy loss, backward, SGD step) with oneDNN as the guard left it:
    /// reports whether loss, gradients and updated weights are finite. Then the correctness check: the same step with
    /// BatchNorm frozen (eval mode) on a fresh copy of the weights, with oneDNN as left and again with oneDNN off in ATen
    /// (its own kernels) as the reference; reports the relative differences of the loss and of all convolution gradients.
    /// (Train-mode BatchNorm over batch 2 of small images normalises over 2-8 values per channel, which turns rounding
    /// differences between two right kernels into percent-level differences, so it cannot serve for the comparison.)
    /// </summary>
    private static void TrainingStep(string model, int batch, int size, bool channelsLast)
    {
        using var net = ModelRegistry.Default.Create(model);
        ReportGuard();
        var x = randn(batch, 3, size, size);
        var target = randint(0, 1000, batch);
        var (loss, gradients) = Step(net, x, target, channelsLast, train: true);
        ChildProcess.Report("finite", double.IsFinite(loss) && gradients.All(g => g.isfinite().all().item<bool>())
            && net.parameters().All(p => p.isfinite().all().item<bool>()));

        manual_seed(0);
        using var frozen = ModelRegistry.Default.Create(model);
        var (frozenLoss, frozenGradients) = Step(frozen, x, target, channelsLast, train: false);
        if (OneDnnGuard.SetOneDnnEnabledForTesting(false) != false)
        {
            ChildProcess.Report("reference", "unavailable");
            return;
        }

        manual_seed(0);
        using var twin = ModelRegistry.Default.Create(model);
        var (referenceLoss, referenceGradients) = Step(twin, x, target, channelsLast, train: false);
        ChildProcess.Report("lossRelative", Math.Abs(frozenLoss - referenceLoss) / Math.Max(1e-12, Math.Abs(referenceLoss)));
        using var all = cat(frozenGradients.Select(g => g.flatten()).ToList());
        using var allReference = cat(referenceGradients.Select(g => g.flatten()).ToList());
        ChildProcess.Report("gradientRelative", Relative(all, allReference));
        ChildProcess.Report("worstLayerGradientRelative", frozenGradients.Zip(referenceGradients, Relative).Max());
    }

    private static (double Loss, List<Tensor> Gradients) Step(ResNet net, Tensor x, Tensor target, bool channelsLast, bool train)
    {
        net.train(train);
        using var optimizer = optim.SGD(net.parameters(), 0.01);
        using var scope = NewDisposeScope();
        if (channelsLast)
        {
            net.ToChannelsLast();
            x = x.ToChannelsLast();
        }

        optimizer.zero_grad();
        var output = net.call(x);
        var loss = nn.functional.cross_entropy(output, target);
        loss.backward();
        var gradients = net.parameters().Where(p => p.dim() == 4).Select(p => p.grad!.detach().clone().MoveToOuterDisposeScope()).ToList();
        optimizer.step();
        return (loss.item<float>(), gradients);
    }

    private static double Relative(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        double norm = expected.to(ScalarType.Float64).norm().item<double>();
        return (actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).norm().item<double>() / Math.Max(norm, 1e-30);
    }
}
