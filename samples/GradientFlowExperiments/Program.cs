// Produces the tables and plots of docs/why-residual-connections-work.md with the library's own networks (its presets)
// and instruments. Run from the repository root:  dotnet run -c Release --project samples/GradientFlowExperiments [-- outputFolder]
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Diagnostics;
using ResidualNet.Hooks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Plotting;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var outputFolder = args.Length > 0 ? args[0] : Path.Combine("docs", "images");
Directory.CreateDirectory(outputFolder);
torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));

// 1. Gradient norms at initialisation, on ResidualNet's own networks (the CIFAR presets with another activation or
// normalisation, or registry presets), seed 0, one batch of 16 random 3x32x32 images, cross-entropy, training mode.
Console.WriteLine("## Gradient flow at initialisation");
Console.WriteLine();
Console.WriteLine("| network | first conv ‖dL/dW‖ | last conv ‖dL/dW‖ | weight ratio first/last | block ratio ‖dL/dx‖ first/last | verdict |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
var none = NormFactory.None;
var bn = NormFactory.BatchNorm;
var configurations = new (string Label, Func<ResNet> Build)[]
{
    ("plain-20 sigmoid, no norm", () => Cifar(20, ActivationFactory.Sigmoid, false, none)),
    ("residual-20 sigmoid, no norm (pre-act)", () => Cifar(20, ActivationFactory.Sigmoid, true, none)),
    ("residual-20 sigmoid, no norm (post-act)", () => Cifar(20, ActivationFactory.Sigmoid, true, none, preActivation: false)),
    ("plain-20 sigmoid, no norm, one stage", () => SingleStage(9, ActivationFactory.Sigmoid, false, none)),
    ("residual-20 sigmoid, no norm, one stage", () => SingleStage(9, ActivationFactory.Sigmoid, true, none)),
    ("plain-20 tanh, no norm", () => Cifar(20, ActivationFactory.Tanh, false, none)),
    ("residual-20 tanh, no norm (pre-act)", () => Cifar(20, ActivationFactory.Tanh, true, none)),
    ("plain-20 relu, no norm", () => Cifar(20, ActivationFactory.ReLU, false, none)),
    ("residual-20 relu, no norm (pre-act)", () => Cifar(20, ActivationFactory.ReLU, true, none)),
    ("plain_resnet56 (relu + BN)", () => Registry("plain_resnet56")),
    ("resnet56 (relu + BN)", () => Registry("resnet56")),
    ("plain-56 sigmoid + BN (post-act)", () => Cifar(56, ActivationFactory.Sigmoid, false, bn, preActivation: false)),
    ("residual-56 sigmoid + BN (post-act)", () => Cifar(56, ActivationFactory.Sigmoid, true, bn, preActivation: false)),
};
var profiles = new Dictionary<string, GradientFlowStep>();
foreach (var c in configurations)
{
    using var scope = torch.NewDisposeScope();
    using var network = c.Build();
    var m = Measure(network);
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
        using var network = SingleStage(9, activation, residual, none);
        var r = IdentityTermAtInit(network).Rows;
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
    var (images, labels) = Batch();
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
        {
            ratios[step] = lastDiagnosis.FirstToLastRatio;
        }

        if (step == 0)
        {
            firstLoss = loss.item<float>();
        }

        lastLoss = loss.item<float>();
    }

    Console.WriteLine($"| {c.Label} | {ratios[0]:0.000E+00} | {ratios[10]:0.000E+00} | {ratios[25]:0.000E+00} | {ratios[49]:0.000E+00} | {lastDiagnosis!.Verdict} | {lastDiagnosis.Norms[^1]:0.000E+00} | {firstLoss:0.0000} | {lastLoss:0.0000} |");
}

// The CIFAR layout of He et al. (3x3 stem, three stages of n blocks with 16/32/64 filters, option A shortcuts):
// pre-activation blocks (x + F(x), the seed's formula) or the original post-activation ones (act(x + F(x))),
// with any activation and normalisation, or its plain twin; initial weights from seed 0.
static ResNet Cifar(int depth, ActivationFactory activation, bool residual, NormFactory norm, bool preActivation = true)
{
    var options = preActivation ? ResNetPresets.CifarPreActResNet(depth, bottleneck: false) : ResNetPresets.CifarResNet(depth);
    options = options with { Block = options.Block with { Activation = activation, Norm = norm, Shortcut = ShortcutKind.ZeroPad } };
    torch.manual_seed(0);
    return new ResNet(residual ? options : options.AsPlain());
}

// One stage of pre-activation basic blocks of 16 channels: shape-preserving, for the identity term from block l to the end.
static ResNet SingleStage(int blocks, ActivationFactory activation, bool residual, NormFactory norm)
{
    var options = ResNetPresets.CifarPreActResNet(8, bottleneck: false);
    options = options with
    {
        Stages = [new StageOptions(BlockKind.PreActBasic, blocks, 16)],
        Block = options.Block with { Activation = activation, Norm = norm },
    };
    torch.manual_seed(0);
    return new ResNet(residual ? options : options.AsPlain());
}

static ResNet Registry(string name)
{
    torch.manual_seed(0);
    return ModelRegistry.Default.Create(name);
}

// The fixed batch: 16 random 3x32x32 images and labels in 0..9 (seed 1).
static (Tensor Images, Tensor Labels) Batch()
{
    var generator = new torch.Generator(1);
    return (torch.randn(new long[] { 16, 3, 32, 32 }, generator: generator), torch.randint(0, 10, new long[] { 16 }, generator: generator));
}

// One monitored step at initialisation, and the numbers of the first table: the stem's and the last block's last
// convolution weight gradients (shortcut layers excluded), and ||dL/dx|| at the first and the last block's input.
static Measurement Measure(ResNet network)
{
    using var scope = torch.NewDisposeScope();
    network.train();
    var (images, labels) = Batch();
    using var monitor = GradientFlowMonitor.Attach(network);
    nn.functional.cross_entropy(network.call(images), labels).backward();
    var step = monitor.RecordStep()!;
    var convs = step.Parameters.Where(p => p.IsWeight && p.Name != "fc.weight" && !p.Name.Contains("downsample", StringComparison.Ordinal)).ToList();
    return new Measurement(convs[0].L2Norm, convs[^1].L2Norm, step.Blocks[0].InputGradientNorm!.Value / step.Blocks[^1].InputGradientNorm!.Value, step);
}

// The identity term from each block to the end of a single-stage network, from the stem's output for the fixed batch (8 probes, seed 0).
static IdentityTermReport IdentityTermAtInit(ResNet network)
{
    using var scope = torch.NewDisposeScope();
    var (images, _) = Batch();
    Tensor? stemOutput = null;
    using (network.Blocks[0].Module.RegisterForwardPreHook((_, input) =>
    {
        // The network's forward disposes its intermediates: keep a copy outside its dispose scope.
        stemOutput = input.detach().clone();
        stemOutput.DetachFromDisposeScope();
        return null;
    }))
    using (torch.no_grad())
    {
        network.call(images);
    }

    using var x0 = stemOutput!;
    return IdentityTerm.Measure(network.Blocks.Select(b => b.Module).ToList(), x0);
}

internal sealed record Measurement(double FirstWeight, double LastWeight, double BlockRatio, GradientFlowStep Step)
{
    public double WeightRatio => FirstWeight / LastWeight;
}
