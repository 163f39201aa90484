using System;
using ResidualNet.Samples.Training;
using TorchSharp;

namespace ResidualNet.Samples;

/// <summary>The options every training sample shares, registered on a <see cref="SampleCommandLine"/>.</summary>
public sealed class SampleSettings
{
    private readonly CommandOption<int> _epochs;
    private readonly CommandOption<int> _subset;
    private readonly CommandOption<int> _testSubset;
    private readonly CommandOption<int> _batchSize;
    private readonly CommandOption<double> _lr;
    private readonly CommandOption<double> _weightDecay;
    private readonly CommandOption<LearningRateSchedule> _schedule;
    private readonly CommandOption<int> _seed;
    private readonly CommandOption<int> _threads;
    private readonly CommandOption<string?> _data;
    private readonly CommandOption<string?> _out;
    private readonly CommandOption<bool> _resume;
    private readonly CommandOption<bool> _quick;
    private readonly CommandOption<Augmentation> _augment;
    private readonly QuickDefaults _quickDefaults;

    /// <summary>Values <c>--quick</c> uses for options that are not given explicitly.</summary>
    /// <param name="Epochs">Epochs.</param>
    /// <param name="Subset">Training images.</param>
    /// <param name="TestSubset">Test images.</param>
    /// <param name="BatchSize">Batch size.</param>
    public sealed record QuickDefaults(int Epochs, int Subset, int TestSubset, int BatchSize);

    /// <summary>Registers the shared options.</summary>
    /// <param name="line">The parser.</param>
    /// <param name="defaultEpochs">Default epochs.</param>
    /// <param name="defaultLearningRate">Default base learning rate.</param>
    /// <param name="defaultSchedule">Default schedule.</param>
    /// <param name="defaultWeightDecay">Default weight decay.</param>
    /// <param name="defaultOut">Default output folder.</param>
    /// <param name="quick">What <c>--quick</c> means.</param>
    public SampleSettings(SampleCommandLine line, int defaultEpochs, double defaultLearningRate, LearningRateSchedule defaultSchedule, double defaultWeightDecay, string defaultOut, QuickDefaults quick)
    {
        ArgumentNullException.ThrowIfNull(line);
        _quickDefaults = quick;
        _epochs = line.WholeNumber("--epochs", defaultEpochs, "Training epochs.", 1, 10_000);
        _subset = line.WholeNumber("--subset", 0, "Training images to use, a seeded random subset (0 = all).", 0, 10_000_000);
        _testSubset = line.WholeNumber("--test-subset", 0, "Test images to use (0 = all).", 0, 10_000_000);
        _batchSize = line.WholeNumber("--batch-size", 128, "Mini-batch size.", 1, 65_536);
        _lr = line.Number("--lr", defaultLearningRate, "Base learning rate (SGD, momentum 0.9).", 0, 10, minExclusive: true);
        _weightDecay = line.Number("--weight-decay", defaultWeightDecay, "L2 weight decay.", 0, 1);
        _schedule = line.Choice("--schedule", defaultSchedule, "Learning-rate schedule: step (x0.1 at 50% and 75%), cosine or constant.");
        _seed = line.WholeNumber("--seed", 1, "Seed of initialisation, subsets, shuffling and augmentation.", 0, int.MaxValue);
        _threads = line.WholeNumber("--threads", Math.Max(1, Environment.ProcessorCount), "CPU threads for TorchSharp.", 1, 1024);
        _data = line.Text("--data", null, $"Fashion-MNIST folder (default {Data.FashionMnist.DefaultDirectory}; generated data if that is missing too).");
        _out = line.Text("--out", defaultOut, "Output folder (results, checkpoints, model).");
        _augment = line.Choice("--augment", Augmentation.CropFlip, "Training augmentation: cropflip (pad 2, random 28x28 crop, random horizontal flip), flip, or none.");
        _resume = line.Flag("--resume", "Continue from the checkpoints in the output folder.");
        _quick = line.Flag("--quick", $"Short run: {quick.Subset} training / {quick.TestSubset} test images, {quick.Epochs} epoch(s), batch {quick.BatchSize} (explicit options win).");
    }

    /// <summary>The training augmentation chosen with <c>--augment</c>.</summary>
    public Augmentation AugmentationChoice => _augment.Value;

    /// <summary>Whether <c>--quick</c> was given.</summary>
    public bool Quick => _quick.Value;

    /// <summary>Epochs.</summary>
    public int Epochs => Pick(_epochs, _quickDefaults.Epochs);

    /// <summary>Training subset, or null for all.</summary>
    public int? Subset => NullIfZero(Pick(_subset, _quickDefaults.Subset));

    /// <summary>Test subset, or null for all.</summary>
    public int? TestSubset => NullIfZero(Pick(_testSubset, _quickDefaults.TestSubset));

    /// <summary>Batch size.</summary>
    public int BatchSize => Pick(_batchSize, _quickDefaults.BatchSize);

    /// <summary>Seed.</summary>
    public int Seed => _seed.Value;

    /// <summary>Threads.</summary>
    public int Threads => _threads.Value;

    /// <summary>Data folder, or null.</summary>
    public string? DataDirectory => _data.Value;

    /// <summary>Output folder.</summary>
    public string OutputDirectory => _out.Value!;

    /// <summary>Whether to resume.</summary>
    public bool Resume => _resume.Value;

    /// <summary>Applies <see cref="Threads"/> to TorchSharp.</summary>
    public void ApplyThreads() => torch.set_num_threads(Threads);

    /// <summary>The trainer settings these options describe.</summary>
    /// <param name="checkpointDirectory">Where checkpoints go.</param>
    /// <returns>The options.</returns>
    public TrainingOptions ToTrainingOptions(string checkpointDirectory) => new()
    {
        Epochs = Epochs,
        BatchSize = BatchSize,
        LearningRate = _lr.Value,
        WeightDecay = _weightDecay.Value,
        Schedule = _schedule.Value,
        Seed = Seed,
        CheckpointDirectory = checkpointDirectory,
        Augmentation = _augment.Value switch
        {
            Augmentation.CropFlip => Data.AugmentationOptions.FashionMnist,
            Augmentation.Flip => Data.AugmentationOptions.FashionMnist with { Padding = 0 },
            _ => null,
        },
    };

    private int Pick(CommandOption<int> option, int quickValue) => Quick && !option.IsSet ? quickValue : option.Value;

    private static int? NullIfZero(int value) => value == 0 ? null : value;
}

/// <summary>The training augmentations the samples offer (<c>--augment</c>).</summary>
public enum Augmentation
{
    /// <summary>Pad 2 pixels, random 28x28 crop, random horizontal flip (the default).</summary>
    CropFlip = 0,

    /// <summary>Random horizontal flip only.</summary>
    Flip = 1,

    /// <summary>No augmentation.</summary>
    None = 2,
}
