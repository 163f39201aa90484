// Produces the tables and plots of docs/why-residual-connections-work.md with the library's own instruments.
// Run from the repository root:  dotnet run -c Release --project samples/GradientFlowExperiments [-- outputFolder]
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Models;
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
torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));

// 1. Gradient norms at initialisation, on ResidualNet's own networks (SeedNetworks: CIFAR layout built with
// ResNetBuilder, or registry presets), seed 0, one batch of 16 random 3x32x32 images, cross-entropy, training mode.
Console.WriteLine("## Gradient flow at initialisation");
Console.WriteLine();
Console.WriteLine("| network | first conv ‖dL/dW‖ | last conv ‖dL/dW‖ | weight ratio first/last | block ratio ‖dL/dx‖ first/last | verdict |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
var none = NormFactory.None;
var bn = NormFactory.BatchNorm;
var configurations = new (string Label, Func<ResNet> Build)[]
{
    ("plain-20 sigmoid, no norm", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, false, none)),
    ("residual-20 sigmoid, no norm (pre-act)", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, true, none)),
    ("residual-20 sigmoid, no norm (post-act)", () => SeedNetworks.Cifar(20, ActivationFactory.Sigmoid, true, none, preActivation: false)),
    ("plain-20 sigmoid, no norm, one stage", () => SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, false, none)),
    ("residual-20 sigmoid, no norm, one stage", () => SeedNetworks.SingleStage(9, ActivationFactory.Sigmoid, true, none)),
    ("plain-20 tanh, no norm", () => SeedNetworks.Cifar(20, ActivationFactory.Tanh, false, none)),
    ("residual-20 tanh, no norm (pre-act)", () => SeedNetworks.Cifar(20, ActivationFactory.Tanh, true, none)),
    ("plain-20 relu, no norm", () => SeedNetworks.Cifar(20, ActivationFactory.ReLU, false, none)),
    ("residual-20 relu, no norm (pre-act)", () => SeedNetworks.Cifar(20, ActivationFactory.ReLU, true, none)),
    ("plain_resnet56 (relu + BN)", () => SeedNetworks.Registry("plain_resnet56")),
    ("resnet56 (relu + BN)", () => SeedNetworks.Registry("resnet56")),
    ("plain-56 sigmoid + BN (post-act)", () => SeedNetworks.Cifar(56, ActivationFactory.Sigmoid, false, bn, preActivation: false)),
    ("residual-56 sigmoid + BN (post-act)", () => SeedNetworks.Cifar(56, ActivationFactory.Sigmoid, true, bn, preActivation: false)),
};
var profiles = new Dictionary<string, GradientFlowStep>();
foreach (var c in configurations)
{
    using var scope = torch.NewDisposeScope();
    using var network = c.Build();
    var m = SeedNetworks.Measure(network);
    profiles[c.Label] = m.Step;
    var diagnosis = GradientFlowAnalysis.Diagnose(m.Step);
    Console.WriteLine($"| {c.Label} | {m.FirstWeight:0.000E+00} | {m.LastWeight:0.000E+00} | {m.WeightRatio:0.000E+00} | {m.BlockRatio:0.000E+00} | {diagnosis.Verdict} |");
}

Console.WriteLine();
GradientFlowPlot.SavePng(
    new[] { "plain-20 sigmoid, no norm", "residual-20 sigmoid, no norm (pre-act)", "residual-20 sigmoid, no norm (post-act)", "plain-20 relu, no norm", "residual-20 relu, no norm (pre-act)", "plain-20 tanh, no norm", "residual-20 tanh, no norm (pre-act)" }
        .Select(label => GradientDepthSeries.FromStep(label, profiles[label])),
    Path.Combine(outputFolder, "gradient-norm-vs-depth-20.png"),
    new GradientFlowPlotOptions { Title = "||dL/dx|| at each block's input, 20 layers, no normalisation, at initialisation", XLabel = "block (0 = next to the input)" });
GradientFlowPlot.SavePng(
    new[] { "plain_resnet56 (relu + BN)", "resnet56 (relu + BN)", "plain-56 sigmoid + BN (post-act)", "residual-56 sigmoid + BN (post-act)" }
        .Select(label => GradientDepthSeries.FromStep(label, profiles[label])),
    Path.Combine(outputFolder, "gradient-norm-vs-depth-56-bn.png"),
    new GradientFlowPlotOptions { Title = "||dL/dx|| at each block's input, 56 layers with BatchNorm, at initialisation", XLabel = "block (0 = next to the input)" });
Console.WriteLine($"plots written to {outputFolder}");
Console.WriteLine();

// 2. The identity term: ||J'v - v|| / ||v|| and ||J'v|| / ||v|| for J = dx_L/dx_l (8 probes, seed 0), on one stage
// of 9 pre-activation basic blocks (16 channels, no normalisation) and its plain twin.
Console.WriteLine("## Identity term, one stage of 9 pre-activation blocks (no normalisation), from block l to the output");
Console.WriteLine();
Console.WriteLine("| network | l = 0: deviation | l = 0: gain | l = 4: deviation | l = 4: gain | l = 8: deviation | l = 8: gain |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
foreach (var activation in new[] { ActivationFactory.Sigmoid, ActivationFactory.Tanh, ActivationFactory.ReLU })
{
    foreach (var residual in new[] { false, true })
    {
        using var network = SeedNetworks.SingleStage(9, activation, residual, none);
        var r = SeedNetworks.IdentityTermAtInit(network).Rows;
        Console.WriteLine($"| {(residual ? "residual" : "plain")} {activation.Name} | {r[0].MeanRelativeDeviation:0.000E+00} | {r[0].MeanGain:0.000E+00} | {r[4].MeanRelativeDeviation:0.000E+00} | {r[4].MeanGain:0.000E+00} | {r[8].MeanRelativeDeviation:0.000E+00} | {r[8].MeanGain:0.000E+00} |");
    }
}

Console.WriteLine();

// 3. A few SGD steps: does the picture hold once training starts? (lr 0.05, momentum 0.9, same batch)
Console.WriteLine("## Block ratio during the first 50 SGD steps (lr 0.05, momentum 0.9, one fixed batch)");
Console.WriteLine();
Console.WriteLine("| network | step 0 | step 10 | step 25 | step 49 | verdict step 49 | last block ‖dL/dx‖ step 49 | loss step 0 | loss step 49 |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
foreach (var c in configurations.Where(c => c.Label.Contains("-20 sigmoid") || c.Label.Contains("-20 relu")))
{
    using var scope = torch.NewDisposeScope();
    using var network = c.Build();
    network.train();
    var (images, labels) = SeedNetworks.Batch();
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
