using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Plotting;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.GradientFlow;

/// <summary>Normalisation choices of the sample (<c>--norm</c>).</summary>
public enum NormChoice
{
    /// <summary>Both: every network with BatchNorm and without.</summary>
    Both = 0,

    /// <summary>BatchNorm after every convolution (the paper's networks).</summary>
    BN = 1,

    /// <summary>No normalisation layers.</summary>
    None = 2,
}

/// <summary>One measured network: its description and the gradient norms at every block's input.</summary>
/// <param name="Depth">Layers with weights (6n + 2).</param>
/// <param name="Residual">Residual (true) or its plain twin.</param>
/// <param name="Activation">Activation name.</param>
/// <param name="BatchNorm">Whether the network has BatchNorm.</param>
/// <param name="Diagnosis">The monitor's step, diagnosed.</param>
/// <param name="Step">The recorded step.</param>
public sealed record GradientFlowRun(int Depth, bool Residual, string Activation, bool BatchNorm, GradientFlowDiagnosis Diagnosis, GradientFlowStep Step)
{
    /// <summary>Plain or residual.</summary>
    public string Kind => Residual ? "residual" : "plain";

    /// <summary>Legend label such as <c>residual-110 sigmoid BN</c>.</summary>
    public string Label => $"{Kind}-{Depth} {Activation.ToLowerInvariant()}{(BatchNorm ? " BN" : string.Empty)}";
}

/// <summary>
/// The README's main job: builds plain and residual CIFAR-style networks of several depths with ReLU and sigmoid,
/// runs one backward pass on a real Fashion-MNIST batch, and compares the gradient norm at the first and last block.
/// </summary>
public static class GradientFlowSample
{
    /// <summary>Runs the sample with one-line error handling; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops between networks.</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        return SampleRunner.Run(token => Execute(args, console, token), console.Error, cancellationToken);
    }

    /// <summary>The activations the sample can use, by name.</summary>
    public static IReadOnlyDictionary<string, ActivationFactory> Activations { get; } = new Dictionary<string, ActivationFactory>(StringComparer.OrdinalIgnoreCase)
    {
        ["relu"] = ActivationFactory.ReLU,
        ["sigmoid"] = ActivationFactory.Sigmoid,
        ["tanh"] = ActivationFactory.Tanh,
    };

    /// <summary>
    /// The network measured: <see cref="ResNetPresets.CifarResNet"/> of <paramref name="depth"/> with one input
    /// channel, the given activation (in the stem and every block) and normalisation, or its plain twin.
    /// </summary>
    /// <param name="depth">6n + 2.</param>
    /// <param name="residual">False for the plain twin (<see cref="ResNetOptions.AsPlain"/>).</param>
    /// <param name="activation">Activation.</param>
    /// <param name="batchNorm">BatchNorm after every convolution, or no normalisation.</param>
    /// <returns>The options.</returns>
    public static ResNetOptions Options(int depth, bool residual, ActivationFactory activation, bool batchNorm)
    {
        var options = ResNetPresets.CifarResNet(depth) with { InputChannels = 1 };
        options = options with { Block = options.Block with { Activation = activation, Norm = batchNorm ? NormFactory.BatchNorm : NormFactory.None } };
        return residual ? options : options.AsPlain();
    }

    /// <summary>
    /// Builds the network (after seeding), runs one forward and backward pass in training mode on the batch with a
    /// <see cref="GradientFlowMonitor"/> attached, and diagnoses the recorded step.
    /// </summary>
    /// <param name="options">The network.</param>
    /// <param name="images">Input batch (N x 1 x 28 x 28).</param>
    /// <param name="labels">Labels.</param>
    /// <param name="seed">Seed of the initial weights.</param>
    /// <returns>The recorded step and its diagnosis.</returns>
    public static (GradientFlowStep Step, GradientFlowDiagnosis Diagnosis) Measure(ResNetOptions options, Tensor images, Tensor labels, long seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        torch.manual_seed(seed);
        using var model = new ResNet(options);
        model.train();
        using var monitor = GradientFlowMonitor.Attach(model, new GradientFlowMonitorOptions { TrackActivations = false, TrackParameters = false });
        using (var scope = NewDisposeScope())
        {
            var loss = nn.functional.cross_entropy(model.call(images), labels);
            loss.backward();
        }

        var step = monitor.RecordStep() ?? throw new InvalidOperationException("The monitor recorded no step.");
        if (monitor.LastError is { } error)
        {
            throw new InvalidOperationException("The gradient monitor failed during backward: " + error.Message, error);
        }

        return (step, GradientFlowAnalysis.Diagnose(step));
    }

    private static int Execute(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        var line = new SampleCommandLine(
            "dotnet run -c Release --project samples/GradientFlow --",
            "Plain against residual networks: gradient norm at the first and the last block after one backward pass on Fashion-MNIST.");
        var depthsOption = line.Text("--depths", "20,56,110", "Comma-separated depths, each 6n + 2 between 8 and 1202.");
        var activationsOption = line.List("--activations", ["relu", "sigmoid"], "Comma-separated activations: relu, sigmoid, tanh.", [.. Activations.Keys]);
        var normOption = line.Choice("--norm", NormChoice.Both, "Normalisation: both (with and without BatchNorm), bn, or none.");
        var batchSize = line.WholeNumber("--batch-size", 16, "Images in the batch.", 2, 4096);
        var seed = line.WholeNumber("--seed", 1, "Seed of the batch choice and of every network's initial weights.", 0, int.MaxValue);
        var threads = line.WholeNumber("--threads", Math.Max(1, Environment.ProcessorCount), "CPU threads for TorchSharp.", 1, 1024);
        var data = line.Text("--data", null, $"Fashion-MNIST folder (default {ResidualNet.Data.FashionMnist.DefaultDirectory}; generated data if that is missing too).");
        var outOption = line.Text("--out", "out/gradient-flow", "Output folder for gradient-flow.png and gradient-flow.csv.");
        var quick = line.Flag("--quick", "Short run: depths 20 and 56, batch 8 (explicit options win).");
        if (!line.Parse(args, console.Out))
        {
            return SampleRunner.ExitOk;
        }

        var output = console.Out;
        var clock = Stopwatch.StartNew();
        torch.set_num_threads(threads.Value);
        int[] depths = ParseDepths(quick.Value && !depthsOption.IsSet ? "20,56" : depthsOption.Value!);
        int batch = quick.Value && !batchSize.IsSet ? 8 : batchSize.Value;
        bool[] norms = normOption.Value switch
        {
            NormChoice.BN => [true],
            NormChoice.None => [false],
            _ => [true, false],
        };

        using var splits = SampleData.Load(data.Value, batch, 2, seed.Value, output, clampSubsets: false);
        var images = splits.Train.Images;
        var labels = splits.Train.Labels;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"One backward pass per network on {batch} training images (seed {seed.Value}), training mode, cross-entropy loss, {threads.Value} thread(s)."));
        output.WriteLine("Networks: He et al.'s CIFAR ResNets (3x3 stem, three stages of 16/32/64 filters, option A shortcuts) for 1 input channel, and their plain twins (same layers, no shortcut additions); "
            + $"normalisation: {(norms.Length == 2 ? "each with BatchNorm after every convolution and without any normalisation" : norms[0] ? "BatchNorm after every convolution" : "none")}.");
        output.WriteLine("Norm = ||dL/dx|| at the input of the first and of the last residual block; ratio = first / last (below 0.01: vanishing, above 100: exploding).");
        output.WriteLine();

        var runs = new List<GradientFlowRun>();
        foreach (bool batchNorm in norms)
        {
            foreach (string activation in activationsOption.Value)
            {
                foreach (int depth in depths)
                {
                    foreach (bool residual in new[] { false, true })
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var (step, diagnosis) = Measure(Options(depth, residual, Activations[activation], batchNorm), images, labels, seed.Value);
                        runs.Add(new GradientFlowRun(depth, residual, Activations[activation].Name, batchNorm, diagnosis, step));
                    }
                }
            }
        }

        output.Write(Table(runs));
        output.WriteLine();

        string outDir = outOption.Value!;
        Directory.CreateDirectory(outDir);
        string png = Path.Combine(outDir, "gradient-flow.png");
        int deepest = depths[^1];
        GradientFlowPlot.SavePng(
            runs.Where(r => r.Depth == deepest).Select(r => new GradientDepthSeries(r.Label, r.Diagnosis.Norms)),
            png,
            new GradientFlowPlotOptions
            {
                Title = $"||dL/dx|| at each block's input, {deepest} layers, one Fashion-MNIST batch at initialisation",
                XLabel = "block (0 = next to the input)",
            });
        string csv = Path.Combine(outDir, "gradient-flow.csv");
        File.WriteAllLines(csv, ["label,depth,kind,activation,batchnorm,block,input_gradient_norm",
            .. runs.SelectMany(r => r.Diagnosis.Norms.Select((n, i) => string.Create(CultureInfo.InvariantCulture, $"{r.Label},{r.Depth},{r.Kind},{r.Activation},{r.BatchNorm},{i},{n:R}")))]);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Wrote '{png}' ({deepest}-layer networks overlaid) and '{csv}' (every block of every network) in {clock.Elapsed.TotalSeconds:F1} s{(splits.IsSynthetic ? " (GENERATED data)" : string.Empty)}."));
        return SampleRunner.ExitOk;
    }

    /// <summary>Parses <c>--depths</c>: comma-separated whole numbers 6n + 2 between 8 and 1202, sorted, duplicates removed.</summary>
    /// <param name="text">The option's value.</param>
    /// <returns>The depths.</returns>
    /// <exception cref="UsageException">An item is not such a depth.</exception>
    public static int[] ParseDepths(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var depths = new SortedSet<int>();
        foreach (string item in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int depth) || depth < 8 || depth > 1202 || (depth - 2) % 6 != 0)
            {
                throw new UsageException($"--depths: '{item}' is not a CIFAR ResNet depth (6n + 2 between 8 and 1202, such as 20, 32, 44, 56, 110).");
            }

            depths.Add(depth);
        }

        return depths.Count > 0 ? [.. depths] : throw new UsageException($"--depths expects a comma-separated list of depths; got '{text}'.");
    }

    /// <summary>The results as a Markdown table.</summary>
    /// <param name="runs">The measured networks.</param>
    /// <returns>The table, one line per network.</returns>
    public static string Table(IEnumerable<GradientFlowRun> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var text = new System.Text.StringBuilder();
        text.AppendLine("| depth | kind | activation | norm | first-block norm | last-block norm | ratio first/last | verdict |");
        text.AppendLine("| ---: | --- | --- | --- | ---: | ---: | ---: | --- |");
        foreach (var r in runs)
        {
            var n = r.Diagnosis.Norms;
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Depth} | {r.Kind} | {r.Activation} | {(r.BatchNorm ? "BN" : "none")} | {n[0]:0.000E+00} | {n[^1]:0.000E+00} | {r.Diagnosis.FirstToLastRatio:0.000E+00} | {r.Diagnosis.Verdict} |"));
        }

        return text.ToString();
    }
}
