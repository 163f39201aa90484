using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Performance;
using ResidualNet.Samples.Training;
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
    /// <param name="cancellationToken">Stops training after the current batch.</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(console);
        return SampleRunner.Run(token => Execute(args, console, token), console.Error, cancellationToken);
    }

    private static int Execute(string[] args, SampleConsole console, CancellationToken cancellationToken)
    {
        var line = new SampleCommandLine("dotnet run --project samples/Classify --", "Trains a classifier on Fashion-MNIST, saves it, loads it back and classifies test images.");
        var settings = new SampleSettings(
            line, defaultEpochs: 15, defaultLearningRate: 0.1, LearningRateSchedule.Cosine, defaultWeightDecay: 5e-4, defaultOut: Path.Combine("out", "classify"),
            new SampleSettings.QuickDefaults(Epochs: 1, Subset: 2000, TestSubset: 1000, BatchSize: 64));
        var show = line.WholeNumber("--show", 8, "Test images to classify with the reloaded model and print.", 0, 100);
        var precision = line.Choice("--precision", Precision.Fp32, "Training arithmetic: fp32, or bf16 (mixed precision with fp32 master weights; no checkpoints, no --resume).");
        var checkFast = line.Flag("--check-fast-inference", "After training, compare the fp32 model's test predictions with the folded + channels_last + bf16 inference path over the whole test set.");
        var evaluateOnly = line.Flag("--evaluate-only", "Skip training: load OUT/<model>.weights (written by an earlier run) and evaluate it.");
        string[] names = [.. SampleNetworks.Classify.Select(n => n.Name)];
        var modelOption = line.List("--model", [names[0]], $"The network: {string.Join(", ", names)}.", names);
        if (!line.Parse(args, console.Out))
        {
            return SampleRunner.ExitOk;
        }

        if (modelOption.Value.Count != 1)
        {
            throw new UsageException($"--model expects one name; got '{string.Join(",", modelOption.Value)}'.");
        }

        string modelName = modelOption.Value[0];
        var output = console.Out;
        settings.ApplyThreads();
        using var data = SampleData.Load(settings.DataDirectory, settings.Subset, settings.TestSubset, settings.Seed, output, clampSubsets: settings.Quick);

        if (evaluateOnly.Value)
        {
            return EvaluateSaved(modelName, settings.OutputDirectory, data, show.Value, checkFast.Value, output);
        }

        torch.manual_seed(settings.Seed);
        using var model = SampleNetworks.Classify.Find(modelName).Create();
        long parameters = model.parameters().Sum(p => p.numel());
        string outDir = settings.OutputDirectory;
        var options = settings.ToTrainingOptions(Path.Combine(outDir, "checkpoints")) with
        {
            Precision = precision.Value == Precision.BF16 ? TrainingPrecision.BF16 : TrainingPrecision.Fp32,
        };
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Model '{modelName}': {parameters:N0} parameters; {settings.Epochs} epoch(s), batch {settings.BatchSize}, lr {options.LearningRate} ({options.Schedule.ToString().ToLowerInvariant()}), weight decay {options.WeightDecay}, {precision.Value.ToString().ToLowerInvariant()}, augmentation {settings.AugmentationChoice.ToString().ToLowerInvariant()}, {settings.Threads} thread(s), seed {settings.Seed}."));
        var trainer = new ClassifierTrainer(modelName, model, options);
        var clock = Stopwatch.StartNew();
        var run = trainer.Train(data.Train, data.Test, settings.Resume, new LineObserver(output), cancellationToken);
        if (run.ResumedFrom is { } from)
        {
            output.WriteLine($"(resumed from the checkpoint at epoch {from.Epoch + 1}, batch {from.Batch})");
        }

        CsvResults.Write(Path.Combine(outDir, "classify.csv"), [new KeyValuePair<string, IReadOnlyList<EpochResult>>(modelName, run.History)]);
        if (run.Cancelled)
        {
            output.WriteLine(options.Precision == TrainingPrecision.BF16
                ? $"Stopped by Ctrl+C at epoch {run.StoppedAt!.Value.Epoch + 1}, batch {run.StoppedAt.Value.Batch}; bf16 training keeps no checkpoint."
                : $"Stopped by Ctrl+C at epoch {run.StoppedAt!.Value.Epoch + 1}, batch {run.StoppedAt.Value.Batch}; checkpoint kept in '{options.CheckpointDirectory}'. Rerun with the same options and --resume to continue.");
            return SampleRunner.ExitCancelled;
        }

        double trainSeconds = clock.Elapsed.TotalSeconds;
        var trained = ClassifierTrainer.Evaluate(model, data.Test);

        // Save, then load into a fresh instance: what a user of the saved file would do.
        Directory.CreateDirectory(outDir);
        string modelPath = Path.Combine(outDir, modelName + ".weights");
        model.save(modelPath);
        torch.manual_seed(settings.Seed + 1);
        using var reloaded = SampleNetworks.Classify.Find(modelName).Create();
        reloaded.load(modelPath);
        var evaluation = ClassifierTrainer.Evaluate(reloaded, data.Test);
        if (evaluation.Error != trained.Error)
        {
            throw new SampleException($"the reloaded model from '{modelPath}' scores {Formats.Percent(evaluation.Accuracy)}, the trained one {Formats.Percent(trained.Accuracy)}.");
        }

        output.WriteLine($"Saved the model to '{modelPath}' and loaded it back into a fresh network.");
        PrintPredictions(reloaded, data.Test, show.Value, output);
        int correct = (int)Math.Round(evaluation.Accuracy * evaluation.Count);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Test accuracy: {Formats.Percent(evaluation.Accuracy)} ({correct}/{evaluation.Count}) after {settings.Epochs} epoch(s), {trainSeconds:F1} s of training{(data.IsSynthetic ? " (GENERATED data)" : string.Empty)}."));
        if (checkFast.Value)
        {
            CheckFastInference(modelName, modelPath, reloaded, data.Test, output);
        }

        return SampleRunner.ExitOk;
    }

    private static int EvaluateSaved(string modelName, string outDir, DataSplits data, int show, bool checkFast, TextWriter output)
    {
        string modelPath = Path.Combine(outDir, modelName + ".weights");
        if (!File.Exists(modelPath))
        {
            throw new SampleException($"--evaluate-only: no saved model '{modelPath}'; train first with the same --model and --out.");
        }

        using var model = SampleNetworks.Classify.Find(modelName).Create();
        try
        {
            model.load(modelPath);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or EndOfStreamException)
        {
            throw new SampleException($"'{modelPath}' is not a saved '{modelName}' model ({e.Message}).", e);
        }

        var evaluation = ClassifierTrainer.Evaluate(model, data.Test);
        output.WriteLine($"Loaded the model from '{modelPath}'.");
        PrintPredictions(model, data.Test, show, output);
        int correct = (int)Math.Round(evaluation.Accuracy * evaluation.Count);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Test accuracy: {Formats.Percent(evaluation.Accuracy)} ({correct}/{evaluation.Count}){(data.IsSynthetic ? " (GENERATED data)" : string.Empty)}."));
        if (checkFast)
        {
            CheckFastInference(modelName, modelPath, model, data.Test, output);
        }

        return SampleRunner.ExitOk;
    }

    /// <summary>
    /// Loads the saved model into a fresh network, prepares it with <c>OptimizeForInference(InferenceOptions.Fast)</c>
    /// (BatchNorm folded into the convolutions, channels_last, bf16) and compares its top-1 predictions with the fp32
    /// model's on every test image.
    /// </summary>
    private static void CheckFastInference(string modelName, string modelPath, nn.Module<Tensor, Tensor> fp32, ImageDataSet test, TextWriter output)
    {
        long[] expected = ClassifierTrainer.Predict(fp32, test);
        using var fast = SampleNetworks.Classify.Find(modelName).Create();
        fast.load(modelPath);
        fast.OptimizeForInference(InferenceOptions.Fast);
        var clock = Stopwatch.StartNew();
        long[] actual = ClassifierTrainer.Predict(fast, test, prepareInput: images => InferenceOptimizer.PrepareInput(images, InferenceOptions.Fast));
        double seconds = clock.Elapsed.TotalSeconds;
        long[] labels = test.Labels.data<long>().ToArray();
        int agree = expected.Zip(actual).Count(p => p.First == p.Second);
        int fp32Right = expected.Zip(labels).Count(p => p.First == p.Second);
        int fastRight = actual.Zip(labels).Count(p => p.First == p.Second);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Fast inference (BatchNorm folded, channels_last, bf16) against fp32 on all {test.Count} test images: top-1 agreement {Formats.Percent((double)agree / test.Count)} ({agree}/{test.Count}); accuracy fp32 {Formats.Percent((double)fp32Right / test.Count)}, fast {Formats.Percent((double)fastRight / test.Count)}; fast pass {seconds:F1} s."));
    }

    private static void PrintPredictions(nn.Module<Tensor, Tensor> model, ImageDataSet test, int count, TextWriter output)
    {
        count = Math.Min(count, test.Count);
        if (count == 0)
        {
            return;
        }

        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var probabilities = nn.functional.softmax(model.call(test.Images.narrow(0, 0, count)), 1);
        var (best, predicted) = probabilities.max(1);
        float[] confidence = best.data<float>().ToArray();
        long[] predictedLabels = predicted.data<long>().ToArray();
        long[] trueLabels = test.Labels.narrow(0, 0, count).data<long>().ToArray();
        for (int i = 0; i < count; i++)
        {
            string mark = predictedLabels[i] == trueLabels[i] ? "right" : "WRONG";
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  test image {i}: predicted {FashionMnist.ClassNames[(int)predictedLabels[i]],-11} ({confidence[i] * 100:F1}%), true {FashionMnist.ClassNames[(int)trueLabels[i]],-11} {mark}"));
        }
    }

    private sealed class LineObserver(TextWriter output) : ITrainingObserver
    {
        public void EpochCompleted(EpochResult result) => output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"epoch {result.Epoch}: train loss {result.TrainLoss:F4}, train error {Formats.Percent(result.TrainError)}, test error {Formats.Percent(result.TestError)}, lr {result.LearningRate:G3}, {result.Seconds:F1} s"));
    }
}

/// <summary>Training arithmetic of the Classify sample (<c>--precision</c>).</summary>
public enum Precision
{
    /// <summary>fp32 everywhere.</summary>
    Fp32 = 0,

    /// <summary>bf16 mixed precision (fp32 master weights).</summary>
    BF16 = 1,
}
