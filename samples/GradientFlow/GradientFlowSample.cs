using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using ResidualNet.Diagnostics;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Plotting;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.GradientFlow;

/// <summary>The three networks measured at every depth.</summary>
public enum NetworkKind
{
    /// <summary>The plain twin of the pre-activation network: the same layers, no <c>x +</c>.</summary>
    Plain,

    /// <summary>Pre-activation residual network (He et al. 2016): nothing after the addition, the identity path is clean.</summary>
    Residual,

    /// <summary>Post-activation residual network (He et al. 2015, "v1"): the activation follows the addition, on the identity path.</summary>
    PostActivation,
}

/// <summary>One network at initialisation, one seed: its gradient profile, per-block gains and identity term.</summary>
/// <param name="Kind">Plain, residual or post-activation residual.</param>
/// <param name="Activation">Activation name (lower case).</param>
/// <param name="BatchNorm">Whether every block has BatchNorm.</param>
/// <param name="Depth">Layers with weights, 6n + 2.</param>
/// <param name="Seed">Seed of the batch and of the initial weights.</param>
/// <param name="InputGradientNorms">||dL/dx|| at every block's input, first block first.</param>
/// <param name="Gains">Gains of the shape-keeping blocks (<see cref="GradientFlowAnalysis.BlockGains"/>).</param>
/// <param name="IdentityTerms">One-block Jacobian probes (<see cref="IdentityTerm.MeasureBlocks"/>); empty when not measured.</param>
public sealed record NetworkMeasurement(NetworkKind Kind, string Activation, bool BatchNorm, int Depth, int Seed,
    IReadOnlyList<double> InputGradientNorms, BlockGainProfile Gains, IReadOnlyList<BlockIdentityTerm> IdentityTerms)
{
    /// <summary>Number of blocks (3n).</summary>
    public int Blocks => InputGradientNorms.Count;

    /// <summary>Geometric mean over blocks of ||J'v|| / ||v|| (NaN when not measured).</summary>
    public double IdentityGain => GeometricMean(IdentityTerms.Select(t => t.MeanGain));

    /// <summary>Geometric mean over blocks of ||J'v - v|| / ||v||: the branch's part of a residual block (NaN when not measured).</summary>
    public double Branch => GeometricMean(IdentityTerms.Select(t => t.MeanRelativeDeviation));

    private static double GeometricMean(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? double.NaN : Math.Exp(list.Average(Math.Log));
    }
}

/// <summary>Median and range over seeds of one network's measurements.</summary>
/// <param name="Seeds">The measurements, one per seed.</param>
public sealed record SeedSummary(IReadOnlyList<NetworkMeasurement> Seeds)
{
    /// <summary>Median over seeds of the per-block gain (geometric mean over the network's blocks).</summary>
    public double Gain => Median(Seeds.Select(s => s.Gains.GeometricMean));

    /// <summary>Smallest per-block gain over seeds.</summary>
    public double GainMin => Seeds.Min(s => s.Gains.GeometricMean);

    /// <summary>Largest per-block gain over seeds.</summary>
    public double GainMax => Seeds.Max(s => s.Gains.GeometricMean);

    /// <summary>The verdict from the median gain and the number of blocks (<see cref="GradientFlowAnalysis.JudgeGain"/>).</summary>
    public GradientFlowVerdict Verdict => GradientFlowAnalysis.JudgeGain(Gain, Seeds[0].Blocks);

    /// <summary>Median over seeds of the identity term ||J'v|| / ||v||.</summary>
    public double IdentityGain => Median(Seeds.Select(s => s.IdentityGain));

    /// <summary>Median over seeds of the branch's part ||J'v - v|| / ||v||.</summary>
    public double Branch => Median(Seeds.Select(s => s.Branch));

    /// <summary>Median over seeds of ||dL/dx|| at each block's input.</summary>
    public IReadOnlyList<double> Profile => [.. Enumerable.Range(0, Seeds[0].Blocks).Select(b => Median(Seeds.Select(s => s.InputGradientNorms[b])))];

    /// <summary>The median (mean of the two middle values for an even count); NaN when a value is NaN.</summary>
    /// <param name="values">The values.</param>
    /// <returns>The median.</returns>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Any(double.IsNaN) ? double.NaN : (sorted[sorted.Count / 2] + sorted[(sorted.Count - 1) / 2]) / 2;
    }
}

/// <summary>
/// The README's main job. The claim of the founding document: in a plain network the gradient that reaches the first
/// blocks is a product of one Jacobian per block and vanishes with a saturating activation; a residual unit
/// x_{l+1} = x_l + F(x_l) gives dx_L/dx_l = I + d(F_l + ... + F_{L-1})/dx_l, an identity term that carries the gradient
/// back. This sample measures it at initialisation on pre-activation residual networks, their plain twins and, as a
/// contrast, post-activation residual networks, over several seeds, and prints the claim and then the numbers.
/// </summary>
public static class GradientFlowSample
{
    /// <summary>Parses <paramref name="args"/> with Spectre.Console.Cli and runs the sample; errors are one line.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops between networks.</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        var app = new CommandApp<GradientFlowCommand>().WithData(console);
        app.Configure(config => config
            .SetApplicationName("dotnet run -c Release --project samples/GradientFlow --")
            .ConfigureConsole(console.Ansi)
            .UseStrictParsing()
            .PropagateExceptions());
        return SampleRunner.Run(
            token =>
            {
                try
                {
                    return app.Run(args, token);
                }
                catch (CommandAppException e)
                {
                    throw new UsageException(e.Message, e);
                }
            },
            console.Error,
            cancellationToken);
    }

    /// <summary>The activations, by name.</summary>
    public static ActivationFactory Activation(string name) => name switch
    {
        "sigmoid" => ActivationFactory.Sigmoid,
        "tanh" => ActivationFactory.Tanh,
        _ => ActivationFactory.ReLU,
    };

    /// <summary>
    /// The network: <see cref="ResNetPresets.CifarPreActResNet"/> (or <see cref="ResNetPresets.CifarResNet"/> for
    /// <see cref="NetworkKind.PostActivation"/>) of <paramref name="depth"/> for one input channel, with the activation
    /// and normalisation given; the plain twin is <see cref="ResNetOptions.AsPlain"/>.
    /// </summary>
    /// <param name="kind">Which network.</param>
    /// <param name="depth">6n + 2.</param>
    /// <param name="activation">Activation of the stem and every block.</param>
    /// <param name="batchNorm">BatchNorm in every block, or no normalisation.</param>
    /// <returns>The options.</returns>
    public static ResNetOptions Options(NetworkKind kind, int depth, ActivationFactory activation, bool batchNorm)
    {
        var options = kind == NetworkKind.PostActivation ? ResNetPresets.CifarResNet(depth) : ResNetPresets.CifarPreActResNet(depth, bottleneck: false);
        options = options with
        {
            InputChannels = 1,
            Block = options.Block with { Activation = activation, Norm = batchNorm ? NormFactory.BatchNorm : NormFactory.None },
        };
        return kind == NetworkKind.Plain ? options.AsPlain() : options;
    }

    /// <summary>
    /// Builds the network from <paramref name="seed"/>, runs one forward and backward pass in training mode on the batch
    /// with a <see cref="GradientFlowMonitor"/> attached, and probes every block's Jacobian with <paramref name="probes"/>
    /// random vectors (<see cref="IdentityTerm.MeasureBlocks"/>).
    /// </summary>
    /// <param name="kind">Which network.</param>
    /// <param name="activation">Activation name: sigmoid, relu or tanh.</param>
    /// <param name="batchNorm">BatchNorm or none.</param>
    /// <param name="depth">6n + 2.</param>
    /// <param name="images">The batch (N x 1 x H x W).</param>
    /// <param name="labels">Its labels.</param>
    /// <param name="seed">Seed of the initial weights and of the probes.</param>
    /// <param name="probes">Probes per block; 0 skips the identity term.</param>
    /// <returns>The measurement.</returns>
    public static NetworkMeasurement Measure(NetworkKind kind, string activation, bool batchNorm, int depth, Tensor images, Tensor labels, int seed, int probes)
    {
        ArgumentNullException.ThrowIfNull(activation);
        torch.manual_seed(seed);
        using var model = new ResNet(Options(kind, depth, Activation(activation), batchNorm));
        model.train();
        GradientFlowStep step;
        using (var monitor = GradientFlowMonitor.Attach(model, new GradientFlowMonitorOptions { TrackActivations = false, TrackParameters = false }))
        {
            using (var scope = NewDisposeScope())
            {
                nn.functional.cross_entropy(model.call(images), labels).backward();
            }

            step = monitor.RecordStep()!;
            if (step.Errors.Count > 0)
            {
                throw new InvalidOperationException("The gradient monitor failed during backward: " + step.Errors[0].Message, step.Errors[0]);
            }
        }

        var identity = probes > 0 ? IdentityTerm.MeasureBlocks(model, images, new IdentityTermOptions { Samples = probes, Seed = (ulong)seed }) : [];
        return new NetworkMeasurement(kind, activation, batchNorm, depth, seed,
            [.. step.Blocks.Select(b => b.InputGradientNorm ?? double.NaN)], GradientFlowAnalysis.BlockGains(step), identity);
    }

    /// <summary>The Spectre.Console.Cli command: the whole run, top to bottom.</summary>
    public sealed class GradientFlowCommand : Command<GradientFlowSettings>
    {
        /// <inheritdoc />
        public override int Execute(CommandContext context, GradientFlowSettings settings, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(context);
            ArgumentNullException.ThrowIfNull(settings);
            var console = (SampleConsole)context.Data!;
            var output = console.Out;
            var clock = Stopwatch.StartNew();
            torch.set_num_threads(settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount);
            bool[] norms = settings.Norm switch { NormChoice.BN => [true], NormChoice.None => [false], _ => [false, true] };
            int[] seeds = settings.SeedValues;

            using var data = SampleData.Load(settings.Data, null, null, seeds[0], output); // gradients are measured on training images
            string dataName = data.IsSynthetic ? "GENERATED images (Fashion-MNIST not found)" : "Fashion-MNIST";
            output.WriteLine();
            output.Write(Claim(settings, dataName));
            output.WriteLine();

            var measurements = new List<NetworkMeasurement>();
            var plan = (from activation in settings.Activations from batchNorm in norms from depth in settings.Depths from kind in Enum.GetValues<NetworkKind>() select (activation, batchNorm, depth, kind)).ToList();
            void MeasureAll(Action<string> progress)
            {
                foreach (int seed in seeds)
                {
                    using var batch = data.Train.RandomSubset(settings.Batch, seed);
                    foreach (var (activation, batchNorm, depth, kind) in plan)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        progress(string.Create(CultureInfo.InvariantCulture, $"seed {seed}: {kind} {depth} {activation}{(batchNorm ? " BN" : string.Empty)}"));
                        int probes = kind == NetworkKind.PostActivation ? 0 : settings.Probes;
                        measurements.Add(Measure(kind, activation, batchNorm, depth, batch.Images, batch.Labels, seed, probes));
                    }
                }
            }

            // A progress bar on a terminal; none when the output is redirected (a log file, a test).
            if (console.Ansi.Profile.Capabilities.Interactive)
            {
                console.Ansi.Progress().AutoClear(true).Start(context =>
                {
                    var task = context.AddTask("networks", maxValue: plan.Count * seeds.Length);
                    MeasureAll(description =>
                    {
                        task.Description = description;
                        task.Increment(1);
                    });
                });
            }
            else
            {
                MeasureAll(_ => { });
            }

            var summaries = measurements.GroupBy(m => (m.Activation, m.BatchNorm, m.Depth, m.Kind)).ToDictionary(g => g.Key, g => new SeedSummary([.. g]));
            output.Write(Table(settings.Activations, norms, settings.Depths, summaries));

            Directory.CreateDirectory(settings.Out);
            string csv = Path.Combine(settings.Out, "gradient-flow.csv");
            string blocksCsv = Path.Combine(settings.Out, "gradient-flow-blocks.csv");
            string png = Path.Combine(settings.Out, "gradient-flow.png");
            WriteCsv(measurements, csv, blocksCsv);
            GradientFlowPlot.SavePanelsPng(Panels(settings.Activations, norms, settings.Depths, summaries), png, new GradientFlowPanelOptions
            {
                Title = string.Create(CultureInfo.InvariantCulture, $"||dL/dx|| at each block's input at initialisation: {dataName}, batches of {settings.Batch}, {(seeds.Length == 1 ? $"seed {seeds[0]}" : $"median of seeds {seeds[0]}-{seeds[^1]}")}"),
                Caption = "Colour: network; line style: depth. Norms that underflow to 0 in fp32 (below about 1e-20) are not drawn. Numbers: the table and CSV of samples/GradientFlow.",
                XLabel = "block (0 = next to the input)",
                YLabel = "||dL/dx|| (log scale)",
            });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Wrote '{png}', '{csv}' (one row per network and seed) and '{blocksCsv}' (every block). Wall time {clock.Elapsed.TotalSeconds:F1} s, {torch.get_num_threads()} thread(s), {measurements.Count} networks."));
            return SampleRunner.ExitOk;
        }
    }

    /// <summary>The claim, the set-up and the rules, printed before the numbers.</summary>
    /// <param name="settings">The options.</param>
    /// <param name="dataName">What the data are.</param>
    /// <returns>The text.</returns>
    public static string Claim(GradientFlowSettings settings, string dataName)
    {
        ArgumentNullException.ThrowIfNull(settings);
        int[] seeds = settings.SeedValues;
        return string.Create(CultureInfo.InvariantCulture, $"""
            The claim: in a plain network the gradient that reaches the first blocks is a product of one Jacobian per block,
            and with a saturating activation (sigmoid) it vanishes. A residual unit x_(l+1) = x_l + F(x_l) gives
            dx_L/dx_l = I + d(F_l + ... + F_(L-1))/dx_l: an identity term that carries the gradient back through every block.

            Data: {dataName}, {seeds.Length} seed(s) ({string.Join(", ", seeds)}); each seed draws its own batch of {settings.Batch} training images and every network's initial weights.
            Networks, at initialisation, training mode: pre-activation CIFAR ResNets of He et al. 2016 (nothing after the addition),
            their plain twins (the same layers without x +), and as a contrast post-activation ResNets of He et al. 2015 ("v1": the
            activation follows the addition, so it sits on the identity path and scales the gradient there too).
            gain/block: how much one block multiplies ||dL/dx|| on its way back (input over output, blocks inside a stage;
              geometric mean over the network's blocks); median over seeds [min-max].
            J'v: the identity term, ||J'v|| / ||v|| for one block's Jacobian J = dx_(l+1)/dx_l and random v ({settings.Probes} per block and seed);
              a residual block has J = I + dF/dx, and in brackets its branch's part ||(dF/dx)'v|| / ||v||, which is all a plain block has.
            Verdict: the first block gets about gain^blocks of the last block's gradient: below 1e-2 'vanishes', above 1e2 'explodes', else 'flows'.

            """);
    }

    /// <summary>One block of rows per activation and normalisation: plain twin, residual and post-activation residual by depth.</summary>
    /// <param name="activations">Activations in order.</param>
    /// <param name="norms">Without (false) and with (true) BatchNorm.</param>
    /// <param name="depths">Depths.</param>
    /// <param name="summaries">The summaries.</param>
    /// <returns>The table.</returns>
    public static string Table(IReadOnlyList<string> activations, IReadOnlyList<bool> norms, IReadOnlyList<int> depths,
        IReadOnlyDictionary<(string Activation, bool BatchNorm, int Depth, NetworkKind Kind), SeedSummary> summaries)
    {
        ArgumentNullException.ThrowIfNull(activations);
        ArgumentNullException.ThrowIfNull(norms);
        ArgumentNullException.ThrowIfNull(depths);
        ArgumentNullException.ThrowIfNull(summaries);
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        foreach (string activation in activations)
        {
            foreach (bool batchNorm in norms)
            {
                text.AppendLine(PanelTitle(activation, batchNorm));
                text.AppendLine(c, $"{"depth",5} {"blocks",6} | {"plain twin",-38} | {"residual, pre-activation",-46} | v1 residual (contrast)");
                text.AppendLine(c, $"{string.Empty,12} | {"gain/block [min-max]",-22} {"verdict",-9} {"J'v",-5} | {"gain/block [min-max]",-22} {"verdict",-9} {"J'v (branch)",-13} | gain/block verdict");
                foreach (int depth in depths)
                {
                    var plain = summaries[(activation, batchNorm, depth, NetworkKind.Plain)];
                    var residual = summaries[(activation, batchNorm, depth, NetworkKind.Residual)];
                    var v1 = summaries[(activation, batchNorm, depth, NetworkKind.PostActivation)];
                    string identity = $"{Number(residual.IdentityGain)} ({Number(residual.Branch)})";
                    text.AppendLine(c,
                        $"{depth,5} {plain.Seeds[0].Blocks,6} | {GainRange(plain),-22} {Verdict(plain),-9} {Number(plain.IdentityGain),-5} | {GainRange(residual),-22} {Verdict(residual),-9} {identity,-13} | {Number(v1.Gain),-10} {Verdict(v1)}");
                }

                text.AppendLine();
            }
        }

        return text.ToString();
    }

    private static string PanelTitle(string activation, bool batchNorm) => $"{activation}, {(batchNorm ? "BatchNorm" : "no normalisation")}";

    private static string Number(double value) => double.IsNaN(value) ? "-" : value switch
    {
        0 => "0",
        < 0.001 => value.ToString("0.0E+0", CultureInfo.InvariantCulture),
        < 10 => value.ToString("0.000", CultureInfo.InvariantCulture),
        _ => value.ToString("0.0", CultureInfo.InvariantCulture),
    };

    private static string GainRange(SeedSummary s) => $"{Number(s.Gain)} [{Number(s.GainMin)}-{Number(s.GainMax)}]";

    private static string Verdict(SeedSummary s) => s.Verdict switch
    {
        GradientFlowVerdict.Healthy => "flows",
        GradientFlowVerdict.Vanishing => "vanishes",
        GradientFlowVerdict.Exploding => "explodes",
        GradientFlowVerdict.NonFinite => "NaN/Inf",
        _ => "?",
    };

    private static IEnumerable<GradientFlowPanel> Panels(IReadOnlyList<string> activations, IReadOnlyList<bool> norms, IReadOnlyList<int> depths,
        IReadOnlyDictionary<(string Activation, bool BatchNorm, int Depth, NetworkKind Kind), SeedSummary> summaries)
    {
        string[] kindNames = ["plain twin", "residual (pre-activation)", "v1 residual (post-activation)"];
        foreach (string activation in activations)
        {
            foreach (bool batchNorm in norms)
            {
                var series = from kind in Enum.GetValues<NetworkKind>()
                             from depth in depths
                             let profile = summaries[(activation, batchNorm, depth, kind)].Profile
                             where profile.Any(n => n > 0 && double.IsFinite(n))
                             select new GradientDepthSeries($"{kindNames[(int)kind]} {depth}", profile)
                             {
                                 ColorGroup = kindNames[(int)kind],
                                 PatternGroup = $"depth {depth}",
                             };
                yield return new GradientFlowPanel(PanelTitle(activation, batchNorm), [.. series]);
            }
        }
    }

    /// <summary>Writes one row per network and seed, and one row per block of every network.</summary>
    /// <param name="measurements">The measurements.</param>
    /// <param name="networksPath">CSV of the networks.</param>
    /// <param name="blocksPath">CSV of the blocks.</param>
    public static void WriteCsv(IReadOnlyList<NetworkMeasurement> measurements, string networksPath, string blocksPath)
    {
        ArgumentNullException.ThrowIfNull(measurements);
        var c = CultureInfo.InvariantCulture;
        File.WriteAllLines(networksPath, [
            "activation,norm,depth,blocks,kind,seed,gain_per_block,gain_min,gain_max,gain_blocks,skipped_blocks,verdict,first_block_grad,last_block_grad,identity_gain,identity_branch",
            .. measurements.Select(m => string.Create(c,
                $"{m.Activation},{(m.BatchNorm ? "bn" : "none")},{m.Depth},{m.Blocks},{m.Kind},{m.Seed},{m.Gains.GeometricMean:R},{m.Gains.Min:R},{m.Gains.Max:R},{m.Gains.Gains.Count},{m.Gains.Skipped},{GradientFlowAnalysis.JudgeGain(m.Gains.GeometricMean, m.Blocks)},{m.InputGradientNorms[0]:R},{m.InputGradientNorms[^1]:R},{m.IdentityGain:R},{m.Branch:R}")),
        ]);
        File.WriteAllLines(blocksPath, [
            "activation,norm,depth,kind,seed,block,input_gradient_norm",
            .. measurements.SelectMany(m => m.InputGradientNorms.Select((n, b) => string.Create(c,
                $"{m.Activation},{(m.BatchNorm ? "bn" : "none")},{m.Depth},{m.Kind},{m.Seed},{b},{n:R}"))),
        ]);
    }
}
