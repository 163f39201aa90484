// Produces the tables and plots of docs/why-residual-connections-work.md with the library's own instruments.
// Run from the repository root:  dotnet run -c Release --project samples/GradientFlowExperiments [-- outputFolder]
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.Diagnostics;
using ResidualNet.Plotting;
using ResidualNet.Tests.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "--micro")
{
    Micro();
    return;
}

if (args.Length > 0 && args[0] == "--overhead")
{
    MeasureOverhead(args);
    return;
}

var outputFolder = args.Length > 0 ? args[0] : Path.Combine("docs", "images");
Directory.CreateDirectory(outputFolder);

// 1. Gradient norms at initialisation (seed 0, one batch of 16 random 3x8x8 images, cross-entropy).
Console.WriteLine("## Gradient flow at initialisation");
Console.WriteLine();
Console.WriteLine("| network | first conv ‖dL/dW‖ | last conv ‖dL/dW‖ | weight ratio first/last | block ratio ‖dL/dx‖ first/last | verdict |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
var configurations = new (string Label, int Depth, ToyActivation Activation, bool Residual, bool BatchNorm)[]
{
    ("plain-20 sigmoid", 20, ToyActivation.Sigmoid, false, false),
    ("residual-20 sigmoid", 20, ToyActivation.Sigmoid, true, false),
    ("plain-20 tanh", 20, ToyActivation.Tanh, false, false),
    ("residual-20 tanh", 20, ToyActivation.Tanh, true, false),
    ("plain-20 relu", 20, ToyActivation.Relu, false, false),
    ("residual-20 relu", 20, ToyActivation.Relu, true, false),
    ("plain-56 relu + BN", 56, ToyActivation.Relu, false, true),
    ("residual-56 relu + BN", 56, ToyActivation.Relu, true, true),
    ("plain-56 sigmoid + BN", 56, ToyActivation.Sigmoid, false, true),
    ("residual-56 sigmoid + BN", 56, ToyActivation.Sigmoid, true, true),
};
var profiles = new Dictionary<string, GradientFlowStep>();
foreach (var c in configurations)
{
    using var scope = torch.NewDisposeScope();
    var step = ToyNetworks.GradientFlowAtInit(c.Depth, c.Activation, c.Residual, c.BatchNorm);
    profiles[c.Label] = step;
    var convs = step.Parameters.Where(p => p.IsWeight && p.Name != "fc.weight").ToList();
    var diagnosis = GradientFlowAnalysis.Diagnose(step);
    Console.WriteLine($"| {c.Label} | {convs[0].L2Norm:0.000E+00} | {convs[^1].L2Norm:0.000E+00} | {convs[0].L2Norm / convs[^1].L2Norm:0.000E+00} | {diagnosis.FirstToLastRatio:0.000E+00} | {diagnosis.Verdict} |");
}

Console.WriteLine();
GradientFlowPlot.SavePng(
    new[] { "plain-20 sigmoid", "residual-20 sigmoid", "plain-20 relu", "residual-20 relu", "plain-20 tanh", "residual-20 tanh" }
        .Select(label => GradientDepthSeries.FromStep(label, profiles[label])),
    Path.Combine(outputFolder, "gradient-norm-vs-depth-20.png"),
    new GradientFlowPlotOptions { Title = "||dL/dx|| at each block's input, 20 layers, at initialisation", XLabel = "block (0 = next to the input)" });
GradientFlowPlot.SavePng(
    new[] { "plain-56 relu + BN", "residual-56 relu + BN", "plain-56 sigmoid + BN", "residual-56 sigmoid + BN" }
        .Select(label => GradientDepthSeries.FromStep(label, profiles[label])),
    Path.Combine(outputFolder, "gradient-norm-vs-depth-56-bn.png"),
    new GradientFlowPlotOptions { Title = "||dL/dx|| at each block's input, 56 layers with BatchNorm, at initialisation", XLabel = "block (0 = next to the input)" });
Console.WriteLine($"plots written to {outputFolder}");
Console.WriteLine();

// 2. The identity term: ||J'v - v|| / ||v|| and ||J'v|| / ||v|| for J = dx_L/dx_l (8 probes, seed 0).
Console.WriteLine("## Identity term, 20 layers (9 blocks), from block l to the output");
Console.WriteLine();
Console.WriteLine("| network | l = 0: deviation | l = 0: gain | l = 4: deviation | l = 4: gain | l = 8: deviation | l = 8: gain |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
foreach (var activation in new[] { ToyActivation.Sigmoid, ToyActivation.Tanh, ToyActivation.Relu })
{
    foreach (var residual in new[] { false, true })
    {
        var r = ToyNetworks.IdentityTermAtInit(20, activation, residual).Rows;
        Console.WriteLine($"| {(residual ? "residual" : "plain")}-20 {activation.ToString().ToLowerInvariant()} | {r[0].MeanRelativeDeviation:0.000E+00} | {r[0].MeanGain:0.000E+00} | {r[4].MeanRelativeDeviation:0.000E+00} | {r[4].MeanGain:0.000E+00} | {r[8].MeanRelativeDeviation:0.000E+00} | {r[8].MeanGain:0.000E+00} |");
    }
}

Console.WriteLine();

// 3. A few SGD steps: does the picture hold once training starts? (lr 0.05, momentum 0.9, same batch)
Console.WriteLine("## Block ratio during the first 50 SGD steps (lr 0.05, momentum 0.9, one fixed batch)");
Console.WriteLine();
Console.WriteLine("| network | step 0 | step 10 | step 25 | step 49 | verdict step 49 | last block ‖dL/dx‖ step 49 | loss step 0 | loss step 49 |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
foreach (var c in configurations.Where(c => c.Depth == 20 && c.Activation != ToyActivation.Tanh))
{
    using var scope = torch.NewDisposeScope();
    var network = ToyNetworks.Build(c.Depth, c.Activation, c.Residual, c.BatchNorm);
    var (images, labels) = ToyNetworks.Batch();
    var optimizer = optim.SGD(network.parameters(), 0.05, momentum: 0.9);
    using var monitor = GradientFlowMonitor.Attach(network, new GradientFlowMonitorOptions { TrackActivations = false });
    var ratios = new Dictionary<int, double>();
    GradientFlowDiagnosis? lastDiagnosis = null;
    float firstLoss = 0, lastLoss = 0;
    for (int step = 0; step < 50; step++)
    {
        using var stepScope = torch.NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(network.call(images), labels);
        loss.backward();
        var record = monitor.RecordStep()!;
        optimizer.step();
        lastDiagnosis = GradientFlowAnalysis.Diagnose(record);
        if (step is 0 or 10 or 25 or 49)
            ratios[step] = lastDiagnosis.FirstToLastRatio;
        if (step == 0)
            firstLoss = loss.item<float>();
        lastLoss = loss.item<float>();
    }

    Console.WriteLine($"| {c.Label} | {ratios[0]:0.000E+00} | {ratios[10]:0.000E+00} | {ratios[25]:0.000E+00} | {ratios[49]:0.000E+00} | {lastDiagnosis!.Verdict} | {lastDiagnosis.Norms[^1]:0.000E+00} | {firstLoss:0.0000} | {lastLoss:0.0000} |");
}

// A rough Stopwatch check (not the planned BenchmarkDotNet benchmark): the 56-layer toy network with BatchNorm,
// 16 channels, batch 32 of 3x32x32, SGD; monitor with every statistic on every step against no monitor,
// interleaved rounds, median step time.
static void MeasureOverhead(string[] args)
{
    var network = ToyNetworks.Build(56, ToyActivation.Relu, residual: true, batchNorm: true);
    var (images, labels) = ToyNetworks.Batch(batch: 32, size: 32);
    var optimizer = optim.SGD(network.parameters(), 0.01, momentum: 0.9);
    // One intra-op thread and process CPU time, not wall time: on a shared machine other jobs' load then hardly
    // changes the figure.
    torch.set_num_threads(1);
    var process = System.Diagnostics.Process.GetCurrentProcess();
    double Step(GradientFlowMonitor? monitor)
    {
        process.Refresh();
        var start = process.TotalProcessorTime;
        using var scope = torch.NewDisposeScope();
        optimizer.zero_grad();
        nn.functional.cross_entropy(network.call(images), labels).backward();
        monitor?.RecordStep();
        optimizer.step();
        process.Refresh();
        return (process.TotalProcessorTime - start).TotalMilliseconds;
    }

    for (int i = 0; i < 3; i++)
        Step(null);
    var variants = new (string Label, GradientFlowMonitorOptions? Options)[]
    {
        ("no monitor", null),
        ("monitor, every statistic", new GradientFlowMonitorOptions()),
        ("parameters only", new GradientFlowMonitorOptions { TrackBlockGradients = false, TrackActivations = false }),
        ("block gradients only", new GradientFlowMonitorOptions { TrackParameters = false, TrackActivations = false }),
        ("activations only", new GradientFlowMonitorOptions { TrackParameters = false, TrackBlockGradients = false }),
    };
    var times = variants.Select(_ => new List<double>()).ToList();
    int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
    for (int round = 0; round < rounds; round++)
    {
        for (int v = 0; v < variants.Length; v++)
        {
            using var monitor = variants[v].Options is { } options ? GradientFlowMonitor.Attach(network, options) : null;
            for (int i = 0; i < 3; i++)
                times[v].Add(Step(monitor));
        }
    }

    static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return (sorted[sorted.Count / 2] + sorted[(sorted.Count - 1) / 2]) / 2;
    }

    Console.WriteLine($"threads {torch.get_num_threads()}, {times[0].Count} steps each");
    for (int v = 0; v < variants.Length; v++)
        Console.WriteLine($"{variants[v].Label,-28} median CPU time per step {Median(times[v]),8:0.0} ms  ratio {Median(times[v]) / Median(times[0]):0.000}");
}

static void Micro()
{
    var x = torch.randn(32, 16, 32, 32);
    var w = torch.randn(16, 16, 3, 3);
    void Time(string label, Action action)
    {
        for (int i = 0; i < 3; i++) action();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
        {
            using var scope = torch.NewDisposeScope();
            action();
        }

        Console.WriteLine($"{label,-30} {watch.Elapsed.TotalMilliseconds / 20:0.000} ms");
    }

    for (int rep = 0; rep < 2; rep++)
    {
        Time("conv2d forward", () => nn.functional.conv2d(x, w, padding: new long[] { 1, 1 }));
        Time("std_mean", () => torch.std_mean(x));
        Time("count_nonzero", () => torch.count_nonzero(x));
        Time("vector_norm", () => torch.linalg.vector_norm(x));
        Time("mean", () => x.mean());
        Time("relu", () => x.relu());
        Time("empty_like", () => torch.empty_like(x));
        var y = x.detach().requires_grad_(true);
        Time("tap apply + backward", () =>
        {
            var (t, h) = ResidualNet.Hooks.GradientHooks.RegisterGradientHook(y, g => null);
            t.sum().backward();
        });
        Time("plain sum backward", () => y.sum().backward());
    }
}
