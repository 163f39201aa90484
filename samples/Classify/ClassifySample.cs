using System;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.Samples.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.Classify;

/// <summary>
/// Trains a classifier on Fashion-MNIST, saves it, loads it back into a fresh network and classifies test images.
/// </summary>
public static class ClassifySample
{
    /// <summary>Runs the sample with one-line error handling; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops training after the current batch (the checkpoint is kept).</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken) =>
        SampleApp.Run<ClassifyCommand>(
            "dotnet run --project samples/Classify --",
            "Trains a classifier on Fashion-MNIST, saves it, loads it back into a fresh network and classifies test images.",
            args,
            console,
            cancellationToken);
}

/// <summary>The Classify sample's options: the shared training options, its recipe and its own.</summary>
public sealed class ClassifySettings : TrainingSettings
{
    /// <summary>The network, a name of <see cref="SampleNetworks.Classify"/>.</summary>
    [CommandOption("--model <NAME>")]
    [Description("The network: resnet-20 (He et al.'s CIFAR ResNet-20), wide-resnet-6 or wide-resnet-10 (samples/Shared/SampleNetworks.cs).")]
    [DefaultValue("resnet-20")]
    public string Model { get; init; } = "resnet-20";

    /// <inheritdoc/>
    [CommandOption("--epochs <N>")]
    [Description("Training epochs. Default 15.")]
    [Between(1, 10_000)]
    public override int? Epochs { get; init; }

    /// <inheritdoc/>
    [CommandOption("--weight-decay <X>")]
    [Description("L2 weight decay.")]
    [DefaultValue(5e-4)]
    [Between(0, 1)]
    public override double WeightDecay { get; init; } = 5e-4;

    /// <inheritdoc/>
    [CommandOption("--schedule <NAME>")]
    [Description("Learning-rate schedule: cosine (every batch, down to 0), step (x0.1 at 50% and 75% of the epochs) or constant.")]
    [DefaultValue("cosine")]
    public override LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Cosine;

    /// <inheritdoc/>
    [CommandOption("--out <DIR>")]
    [Description("Output folder: OUT/<model>.weights, classify.csv, checkpoints.")]
    [DefaultValue("out/classify")]
    public override string Out { get; init; } = "out/classify";

    /// <inheritdoc/>
    [CommandOption("--quick")]
    [Description("Short run: 2000 training and 1000 test images, 1 epoch, batch 64 (explicit options win).")]
    public override bool Quick { get; init; }

    /// <summary>Test images to print.</summary>
    [CommandOption("--show <N>")]
    [Description("Test images to classify with the reloaded model and print.")]
    [DefaultValue(8)]
    [Between(0, 100)]
    public int Show { get; init; } = 8;

    /// <summary>Compare with the fast inference path.</summary>
    [CommandOption("--check-fast-inference")]
    [Description("Also compare the fp32 model's test predictions with the folded + channels_last + bf16 inference path on every test image.")]
    public bool CheckFastInference { get; init; }

    /// <summary>Skip training.</summary>
    [CommandOption("--evaluate-only")]
    [Description("Skip training: load OUT/<model>.weights (written by an earlier run) and evaluate it.")]
    public bool EvaluateOnly { get; init; }

    /// <inheritdoc/>
    protected override int DefaultEpochs => 15;

    /// <inheritdoc/>
    protected override QuickRun QuickRun { get; } = new(Epochs: 1, Subset: 2000, TestSubset: 1000, BatchSize: 64);

    /// <inheritdoc/>
    public override ValidationResult Validate() =>
        SampleNetworks.Classify.Any(n => string.Equals(n.Name, Model, StringComparison.OrdinalIgnoreCase))
            ? ValidationResult.Success()
            : ValidationResult.Error($"--model: unknown item '{Model}'; choose from {string.Join(", ", SampleNetworks.Classify.Select(n => n.Name))}.");
}

/// <summary>The sample, top to bottom: train and save (unless <c>--evaluate-only</c>), load the file into a fresh
/// network, classify the test set.</summary>
public sealed class ClassifyCommand : Command<ClassifySettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, ClassifySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        var output = ((SampleConsole)context.Data!).Out;
        var network = SampleNetworks.Classify.Find(settings.Model);
        string modelPath = Path.Combine(settings.Out, network.Name + ".weights");
        if (settings.EvaluateOnly && !File.Exists(modelPath))
        {
            throw new SampleException($"--evaluate-only: no saved model '{modelPath}'; train first with the same --model and --out.");
        }

        using var data = settings.LoadData(output);
        (Evaluation Score, double Seconds)? trained = null;
        if (!settings.EvaluateOnly)
        {
            trained = Train(network, settings, data, modelPath, output, cancellationToken);
            if (trained is null)
            {
                return SampleRunner.ExitCancelled;
            }
        }

        // What a user of the saved file does: build a fresh network (other random weights) and load the file into it.
        torch.manual_seed(settings.Seed + 1);
        using var model = Load(network, modelPath);
        var evaluation = ClassifierTrainer.Evaluate(model, data.Test);
        if (trained is { } t && evaluation.Error != t.Score.Error)
        {
            throw new SampleException($"the reloaded model from '{modelPath}' scores {Formats.Percent(evaluation.Accuracy)}, the trained one {Formats.Percent(t.Score.Accuracy)}.");
        }

        output.WriteLine(trained is null ? $"Loaded the model from '{modelPath}'." : $"Saved the model to '{modelPath}' and loaded it back into a fresh network.");
        PrintPredictions(model, data.Test, settings.Show, output);
        int correct = (int)Math.Round(evaluation.Accuracy * evaluation.Count);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Test accuracy: {Formats.Percent(evaluation.Accuracy)} ({correct}/{evaluation.Count}){(trained is { } run ? $" after {settings.EpochCount} epoch(s), {run.Seconds:F1} s of training" : string.Empty)}{(data.IsSynthetic ? " (GENERATED data)" : string.Empty)}."));
        if (settings.CheckFastInference)
        {
            CompareFastInference(network, modelPath, evaluation, data.Test, output);
        }

        return SampleRunner.ExitOk;
    }

    /// <summary>Trains, writes classify.csv and saves the model; null when stopped by Ctrl+C (the checkpoint is kept).</summary>
    private static (Evaluation Score, double Seconds)? Train(NamedNetwork network, ClassifySettings settings, DataSplits data, string modelPath, TextWriter output, CancellationToken cancellationToken)
    {
        torch.manual_seed(settings.Seed);
        using var model = network.Create();
        long parameters = model.parameters().Sum(p => p.numel());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Model '{network.Name}': {parameters:N0} parameters; {settings.Recipe()}."));
        var options = settings.ToTrainingOptions(Path.Combine(settings.Out, "checkpoints"));
        var clock = Stopwatch.StartNew();
        var run = new ClassifierTrainer(network.Name, model, options).Train(data.Train, data.Test, settings.Resume, new EpochLines(output), cancellationToken);
        if (run.ResumedFrom is { } from)
        {
            output.WriteLine($"(resumed from the checkpoint at epoch {from.Epoch + 1}, batch {from.Batch})");
        }

        CsvResults.Write(Path.Combine(settings.Out, "classify.csv"), [new(network.Name, run.History)]);
        if (run.Cancelled)
        {
            var (epoch, batch) = run.StoppedAt!.Value;
            output.WriteLine(run.CheckpointKept
                ? $"Stopped by Ctrl+C at epoch {epoch + 1}, batch {batch}; checkpoint kept in '{options.CheckpointDirectory}'. Rerun with the same options and --resume to continue."
                : $"Stopped by Ctrl+C at epoch {epoch + 1}, batch {batch}; {settings.Precision.ToString().ToLowerInvariant()} training keeps no checkpoint.");
            return null;
        }

        double seconds = clock.Elapsed.TotalSeconds;
        var score = ClassifierTrainer.Evaluate(model, data.Test);
        Directory.CreateDirectory(settings.Out);
        model.save(modelPath);
        return (score, seconds);
    }

    private static ResNet Load(NamedNetwork network, string modelPath)
    {
        var model = network.Create();
        try
        {
            model.load(modelPath);
            return model;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            model.Dispose();
            throw new SampleException($"'{modelPath}' is not a saved '{network.Name}' model ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Loads the saved model into a fresh network, prepares it with <c>OptimizeForInference(InferenceOptions.Fast)</c>
    /// (BatchNorm folded into the convolutions, channels_last, bf16) and compares its top-1 predictions with the fp32
    /// model's on every test image.
    /// </summary>
    private static void CompareFastInference(NamedNetwork network, string modelPath, Evaluation fp32, ImageDataSet test, TextWriter output)
    {
        using var fast = Load(network, modelPath);
        fast.OptimizeForInference(InferenceOptions.Fast);
        var clock = Stopwatch.StartNew();
        var evaluation = ClassifierTrainer.Evaluate(fast, test, prepareInput: images => InferenceOptimizer.PrepareInput(images, InferenceOptions.Fast));
        double seconds = clock.Elapsed.TotalSeconds;
        int agree = fp32.Predictions.Zip(evaluation.Predictions).Count(p => p.First == p.Second);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Fast inference (BatchNorm folded, channels_last, bf16) against fp32 on all {test.Count} test images: top-1 agreement {Formats.Percent((double)agree / test.Count)} ({agree}/{test.Count}); accuracy fp32 {Formats.Percent(fp32.Accuracy)}, fast {Formats.Percent(evaluation.Accuracy)}; fast pass {seconds:F1} s."));
    }

    private static void PrintPredictions(ResNet model, ImageDataSet test, int count, TextWriter output)
    {
        count = Math.Min(count, test.Count);
        if (count == 0)
        {
            return;
        }

        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (best, predicted) = nn.functional.softmax(model.call(test.Images.narrow(0, 0, count)), 1).max(1);
        float[] confidence = best.data<float>().ToArray();
        long[] predictedLabels = predicted.data<long>().ToArray();
        long[] trueLabels = test.Labels.narrow(0, 0, count).data<long>().ToArray();
        for (int i = 0; i < count; i++)
        {
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  test image {i}: predicted {FashionMnist.ClassNames[(int)predictedLabels[i]],-11} ({confidence[i] * 100:F1}%), true {FashionMnist.ClassNames[(int)trueLabels[i]],-11} {(predictedLabels[i] == trueLabels[i] ? "right" : "WRONG")}"));
        }
    }

    private sealed class EpochLines(TextWriter output) : ITrainingObserver
    {
        public void EpochCompleted(EpochResult result) => output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"epoch {result.Epoch}: train loss {result.TrainLoss:F4}, train error {Formats.Percent(result.TrainError)}, test error {Formats.Percent(result.TestError)}, lr {result.LearningRate:G3}, {result.Seconds:F1} s"));
    }
}
