using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Plotting;
using ResidualNet.Samples.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;

namespace ResidualNet.Samples.Degradation;

/// <summary>
/// He et al. (2015), Figure 6, on Fashion-MNIST: trains shallower and deeper plain and residual networks with the
/// same recipe and compares their training-error curves (does the deeper plain net train to a higher error?).
/// </summary>
public static class DegradationSample
{
    /// <summary>Runs the sample with one-line error handling; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops training after the current batch (the checkpoint is kept).</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken) =>
        SampleApp.Run<DegradationCommand>(
            "dotnet run --project samples/Degradation --",
            "Trains plain and residual networks of two depths on Fashion-MNIST and compares their training error (He et al. 2015, Fig. 6).",
            args,
            console,
            cancellationToken);
}

/// <summary>The Degradation sample's options: the shared training options, its recipe and its own.</summary>
public sealed class DegradationSettings : TrainingSettings
{
    /// <summary>Comma-separated networks of <see cref="SampleNetworks.Degradation"/> to train.</summary>
    [CommandOption("--models <LIST>")]
    [Description("Comma-separated networks to train: plain-20, plain-56, resnet-20, resnet-56. Default all four.")]
    public string? Models { get; init; }

    /// <summary>A results CSV to draw instead of training.</summary>
    [CommandOption("--plot <CSV>")]
    [Description("Train nothing: draw the PNGs of a degradation.csv written earlier (by this sample or by benchmarks/ResidualNet.GpuSweep) into --out.")]
    public string? Plot { get; init; }

    /// <inheritdoc/>
    [CommandOption("--epochs <N>")]
    [Description("Training epochs. Default 20.")]
    [Between(1, 10_000)]
    public override int? Epochs { get; init; }

    /// <inheritdoc/>
    [CommandOption("--weight-decay <X>")]
    [Description("L2 weight decay.")]
    [DefaultValue(1e-4)]
    [Between(0, 1)]
    public override double WeightDecay { get; init; } = 1e-4;

    /// <inheritdoc/>
    [CommandOption("--schedule <NAME>")]
    [Description("Learning-rate schedule: step (x0.1 at 50% and 75% of the epochs, as in the paper), cosine or constant.")]
    [DefaultValue("step")]
    public override LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Step;

    /// <inheritdoc/>
    [CommandOption("--out <DIR>")]
    [Description("Output folder: degradation.csv, the two PNGs, checkpoints.")]
    [DefaultValue("out/degradation")]
    public override string Out { get; init; } = "out/degradation";

    /// <inheritdoc/>
    [CommandOption("--quick")]
    [Description("Short run: 256 training and 200 test images, 1 epoch, batch 64 (explicit options win).")]
    public override bool Quick { get; init; }

    /// <summary>The networks to train, in catalogue order.</summary>
    public IReadOnlyList<NamedNetwork> Networks => Models is null
        ? SampleNetworks.Degradation
        : [.. SampleNetworks.Degradation.Where(n => Names.Contains(n.Name, StringComparer.OrdinalIgnoreCase))];

    /// <inheritdoc/>
    protected override int DefaultEpochs => 20;

    /// <inheritdoc/>
    protected override QuickRun QuickRun { get; } = new(Epochs: 1, Subset: 256, TestSubset: 200, BatchSize: 64);

    private string[] Names => Models?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        if (Models is not null && Names.Length == 0)
        {
            return ValidationResult.Error($"--models expects a comma-separated list; got '{Models}'.");
        }

        string? unknown = Names.FirstOrDefault(name => !SampleNetworks.Degradation.Any(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase)));
        return unknown is null
            ? ValidationResult.Success()
            : ValidationResult.Error($"--models: unknown item '{unknown}'; choose from {string.Join(", ", SampleNetworks.Degradation.Select(n => n.Name))}.");
    }
}

/// <summary>The sample, top to bottom: train each network with the same seed and recipe (a progress bar each), write
/// the CSV and the two plots after every network, print the summary table.</summary>
public sealed class DegradationCommand : Command<DegradationSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, DegradationSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        var console = (SampleConsole)context.Data!;
        var output = console.Out;
        if (settings.Plot is { } csv)
        {
            WriteResults(settings.Out, CsvResults.Read(csv), writeCsv: false);
            output.WriteLine($"Plotted '{csv}' into '{settings.Out}'.");
            return SampleRunner.ExitOk;
        }

        using var data = settings.LoadData(output);
        var options = settings.ToTrainingOptions(Path.Combine(settings.Out, "checkpoints"));
        output.WriteLine(settings.Recipe() + ".");

        var histories = new List<KeyValuePair<string, IReadOnlyList<EpochResult>>>();
        var parameterCounts = new Dictionary<string, long>();
        (string Name, TrainingRun Run)? stopped = null;
        int batches = data.Train.BatchCount(settings.Batch);
        console.Ansi.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(progress =>
            {
                foreach (var network in settings.Networks)
                {
                    var task = progress.AddTask(network.Name, maxValue: (double)settings.EpochCount * batches);
                    torch.manual_seed(settings.Seed);
                    using var model = network.Create();
                    parameterCounts[network.Name] = model.parameters().Sum(p => p.numel());
                    var observer = new SpectreProgressObserver(task, console.Ansi, network.Name, settings.EpochCount);
                    var run = new ClassifierTrainer(network.Name, model, options).Train(data.Train, data.Test, settings.Resume, observer, cancellationToken);
                    histories.Add(new(network.Name, run.History));
                    WriteResults(settings.Out, histories);
                    if (run.Cancelled)
                    {
                        task.StopTask();
                        stopped = (network.Name, run);
                        break;
                    }

                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });

        PrintSummary(console, histories, parameterCounts, data.IsSynthetic);
        output.WriteLine($"Results: '{Path.Combine(settings.Out, "degradation.csv")}', '{Path.Combine(settings.Out, "degradation-train-error.png")}', '{Path.Combine(settings.Out, "degradation-test-error.png")}'.");
        if (stopped is { } s)
        {
            var (epoch, batch) = s.Run.StoppedAt!.Value;
            output.WriteLine(s.Run.CheckpointKept
                ? $"Stopped by Ctrl+C while training {s.Name} (epoch {epoch + 1}, batch {batch}); checkpoints kept in '{options.CheckpointDirectory}'. Rerun with the same options and --resume to continue."
                : $"Stopped by Ctrl+C while training {s.Name} (epoch {epoch + 1}, batch {batch}); {settings.Precision.ToString().ToLowerInvariant()} training keeps no checkpoint.");
            return SampleRunner.ExitCancelled;
        }

        return SampleRunner.ExitOk;
    }

    private static void WriteResults(string outDir, List<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories, bool writeCsv = true)
    {
        if (writeCsv)
        {
            CsvResults.Write(Path.Combine(outDir, "degradation.csv"), histories);
        }

        static LineSeries Curve(string name, IReadOnlyList<EpochResult> history, Func<EpochResult, double> error) =>
            new(name, [.. history.Select(r => (double)r.Epoch)], [.. history.Select(r => error(r) * 100)]);
        LinePlot.SavePng(histories.Select(h => Curve(h.Key, h.Value, r => r.TrainError)), Path.Combine(outDir, "degradation-train-error.png"),
            new LinePlotOptions { Title = "Training error on Fashion-MNIST", XLabel = "epoch", YLabel = "training error (%)" });
        LinePlot.SavePng(histories.Select(h => Curve(h.Key, h.Value, r => r.TestError)), Path.Combine(outDir, "degradation-test-error.png"),
            new LinePlotOptions { Title = "Test error on Fashion-MNIST", XLabel = "epoch", YLabel = "test error (%)" });
    }

    private static void PrintSummary(SampleConsole console, List<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories, Dictionary<string, long> parameterCounts, bool synthetic)
    {
        var table = new Table().Title(synthetic ? "Final errors (GENERATED data, not Fashion-MNIST)" : "Final errors");
        table.AddColumns("model", "parameters", "epochs", "train error", "test error", "best test error");
        foreach (var (name, history) in histories)
        {
            string parameters = parameterCounts[name].ToString("N0", CultureInfo.InvariantCulture);
            if (history.Count == 0)
            {
                table.AddRow(name, parameters, "0", "-", "-", "-");
                continue;
            }

            var last = history[^1];
            table.AddRow(name, parameters, history.Count.ToString(CultureInfo.InvariantCulture), Formats.Percent(last.TrainError), Formats.Percent(last.TestError), Formats.Percent(history.Min(r => r.TestError)));
        }

        console.Ansi.Write(table);
    }
}
