using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Plotting;
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
        var catalog = SampleNetworks.Degradation;
        var names = catalog.Select(m => m.Name).ToList();
        var line = new SampleCommandLine("dotnet run --project samples/Degradation --", "Trains plain and residual networks of two depths on Fashion-MNIST and compares their training error (He et al. 2015, Fig. 6).");
        var settings = new SampleSettings(
            line, defaultEpochs: 20, defaultLearningRate: 0.1, LearningRateSchedule.Step, defaultWeightDecay: 1e-4, defaultOut: Path.Combine("out", "degradation"),
            new SampleSettings.QuickDefaults(Epochs: 1, Subset: 256, TestSubset: 200, BatchSize: 64));
        var models = line.List("--models", names, "Comma-separated models to train.", names);
        var plotOnly = line.Text("--plot", null, "Train nothing: draw the PNGs of a degradation.csv written earlier (this sample's or benchmarks/ResidualNet.GpuSweep's) into --out.");
        if (!line.Parse(args, console.Out))
        {
            return SampleRunner.ExitOk;
        }

        if (plotOnly.Value is { } csv)
        {
            WriteResults(settings.OutputDirectory, ReadResults(csv), writeCsv: false);
            console.Out.WriteLine($"Plotted '{csv}' into '{settings.OutputDirectory}'.");
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

    /// <summary>Reads a CSV in <see cref="CsvResults.Header"/>'s layout (empty loss columns allowed), grouped by model in file order.</summary>
    private static List<KeyValuePair<string, IReadOnlyList<EpochResult>>> ReadResults(string path)
    {
        if (!File.Exists(path))
        {
            throw new UsageException($"--plot: file not found: '{path}'.");
        }

        string[] lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0].Trim() != CsvResults.Header)
        {
            throw new UsageException($"--plot: '{path}' does not start with the header '{CsvResults.Header}'.");
        }

        static double Number(string text) => text.Length == 0 ? double.NaN : double.Parse(text, CultureInfo.InvariantCulture);
        var byModel = new List<KeyValuePair<string, IReadOnlyList<EpochResult>>>();
        foreach (string row in lines.Skip(1).Where(l => l.Length > 0))
        {
            string[] f = row.Split(',');
            if (f.Length != 8)
            {
                throw new UsageException($"--plot: '{path}': a row has {f.Length} fields, expected 8: '{row}'.");
            }

            var result = new EpochResult(int.Parse(f[1], CultureInfo.InvariantCulture), Number(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), Number(f[6]), Number(f[7]));
            int index = byModel.FindIndex(h => h.Key == f[0]);
            if (index < 0)
            {
                byModel.Add(new(f[0], new List<EpochResult>()));
                index = byModel.Count - 1;
            }

            ((List<EpochResult>)byModel[index].Value).Add(result);
        }

        return byModel;
    }

    private static void WriteResults(string outDir, List<KeyValuePair<string, IReadOnlyList<EpochResult>>> histories, bool writeCsv = true)
    {
        if (writeCsv)
        {
            CsvResults.Write(Path.Combine(outDir, "degradation.csv"), histories);
        }

        var train = histories.Select(h => new LineSeries(h.Key, h.Value.Select(r => (double)r.Epoch).ToList(), h.Value.Select(r => r.TrainError * 100).ToList()));
        var test = histories.Select(h => new LineSeries(h.Key, h.Value.Select(r => (double)r.Epoch).ToList(), h.Value.Select(r => r.TestError * 100).ToList()));
        LinePlot.SavePng(train, Path.Combine(outDir, "degradation-train-error.png"), new LinePlotOptions { Title = "Training error on Fashion-MNIST", XLabel = "epoch", YLabel = "training error (%)" });
        LinePlot.SavePng(test, Path.Combine(outDir, "degradation-test-error.png"), new LinePlotOptions { Title = "Test error on Fashion-MNIST", XLabel = "epoch", YLabel = "test error (%)" });
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
