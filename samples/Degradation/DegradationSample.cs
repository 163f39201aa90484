using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Samples.Training;
using Spectre.Console;
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
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        return SampleRunner.Run(token => Execute(args, console, token), console.Error, cancellationToken);
    }

    private static int Execute(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        var catalog = Models.Catalog();
        var names = catalog.Select(m => m.Name).ToList();
        var line = new SampleCommandLine("dotnet run --project samples/Degradation --", "Trains plain and residual networks of two depths on Fashion-MNIST and compares their training error (He et al. 2015, Fig. 6).");
        var settings = new SampleSettings(
            line, defaultEpochs: 20, defaultLearningRate: 0.1, LearningRateSchedule.Step, defaultWeightDecay: 1e-4, defaultOut: Path.Combine("out", "degradation"),
            new SampleSettings.QuickDefaults(Epochs: 1, Subset: 256, TestSubset: 200, BatchSize: 64));
        var models = line.List("--models", names, "Comma-separated models to train.", names);
        if (!line.Parse(args, console.Out))
        {
            return SampleRunner.ExitOk;
        }

        var output = console.Out;
        settings.ApplyThreads();
        using var data = SampleData.Load(settings.DataDirectory, settings.Subset, settings.TestSubset, settings.Seed, output, clampSubsets: settings.Quick);
        string outDir = settings.OutputDirectory;
        var options = settings.ToTrainingOptions(Path.Combine(outDir, "checkpoints"));
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{settings.Epochs} epoch(s), batch {settings.BatchSize}, lr {options.LearningRate} ({options.Schedule.ToString().ToLowerInvariant()}), weight decay {options.WeightDecay}, seed {settings.Seed}, {settings.Threads} thread(s)."));

        var histories = new List<KeyValuePair<string, IReadOnlyList<EpochResult>>>();
        var parameterCounts = new Dictionary<string, long>();
        TrainingRun? stopped = null;
        string? stoppedModel = null;
        int batches = data.Train.BatchCount(settings.BatchSize);

        console.Ansi.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                foreach (var entry in catalog.Where(m => models.Value.Contains(m.Name)))
                {
                    var task = context.AddTask(entry.Name, maxValue: (double)settings.Epochs * batches);
                    torch.manual_seed(settings.Seed);
                    using var model = entry.Create();
                    parameterCounts[entry.Name] = model.parameters().Sum(p => p.numel());
                    var trainer = new ClassifierTrainer(entry.Name, model, options);
                    var observer = new SpectreProgressObserver(task, console.Ansi, entry.Name, settings.Epochs);
                    var run = trainer.Train(data.Train, data.Test, settings.Resume, observer, cancellationToken);
                    histories.Add(new(entry.Name, run.History));
                    WriteResults(outDir, histories);
                    if (run.Cancelled)
                    {
                        stopped = run;
                        stoppedModel = entry.Name;
                        task.StopTask();
                        break;
                    }

                    task.Value = task.MaxValue;
                    task.StopTask();
                }
            });

        PrintSummary(console, histories, parameterCounts, data.IsSynthetic);
        output.WriteLine($"Results: '{Path.Combine(outDir, "degradation.csv")}', '{Path.Combine(outDir, "degradation-train-error.png")}', '{Path.Combine(outDir, "degradation-test-error.png")}'.");
        if (stopped is not null)
        {
            output.WriteLine($"Stopped by Ctrl+C while training {stoppedModel} (epoch {stopped.StoppedAt!.Value.Epoch + 1}, batch {stopped.StoppedAt.Value.Batch}); checkpoints kept in '{options.CheckpointDirectory}'. Rerun with the same options and --resume to continue.");
            return SampleRunner.ExitCancelled;
        }

        return SampleRunner.ExitOk;
    }

    private static void WriteResults(string outDir, List<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories)
    {
        CsvResults.Write(Path.Combine(outDir, "degradation.csv"), histories);
        var train = histories.Select(h => new LineSeries(h.Key, h.Value.Select(r => (double)r.Epoch).ToList(), h.Value.Select(r => r.TrainError * 100).ToList())).ToList();
        var test = histories.Select(h => new LineSeries(h.Key, h.Value.Select(r => (double)r.Epoch).ToList(), h.Value.Select(r => r.TestError * 100).ToList())).ToList();
        LinePlot.SavePng(Path.Combine(outDir, "degradation-train-error.png"), "Training error on Fashion-MNIST", "epoch", "training error (%)", train);
        LinePlot.SavePng(Path.Combine(outDir, "degradation-test-error.png"), "Test error on Fashion-MNIST", "epoch", "test error (%)", test);
    }

    private static void PrintSummary(SampleConsole console, List<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories, Dictionary<string, long> parameterCounts, bool synthetic)
    {
        var table = new Table().Title(synthetic ? "Final errors (GENERATED data, not Fashion-MNIST)" : "Final errors");
        table.AddColumns("model", "parameters", "epochs", "train error", "test error", "best test error");
        foreach (var (name, history) in histories)
        {
            if (history.Count == 0)
            {
                table.AddRow(name, parameterCounts[name].ToString("N0", CultureInfo.InvariantCulture), "0", "-", "-", "-");
                continue;
            }

            var last = history[^1];
            table.AddRow(
                name,
                parameterCounts[name].ToString("N0", CultureInfo.InvariantCulture),
                history.Count.ToString(CultureInfo.InvariantCulture),
                Formats.Percent(last.TrainError),
                Formats.Percent(last.TestError),
                Formats.Percent(history.Min(r => r.TestError)));
        }

        console.Ansi.Write(table);
    }
}
