using System;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using ResidualNet.Data;
using ResidualNet.Samples.Training;
using Spectre.Console.Cli;
using TorchSharp;

namespace ResidualNet.Samples;

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

/// <summary>What <c>--quick</c> uses for the options that are not given explicitly.</summary>
/// <param name="Epochs">Epochs.</param>
/// <param name="Subset">Training images.</param>
/// <param name="TestSubset">Test images.</param>
/// <param name="BatchSize">Batch size.</param>
public sealed record QuickRun(int Epochs, int Subset, int TestSubset, int BatchSize);

/// <summary>The options every sample with random weights shares: <c>--seed</c> and <c>--threads</c>.</summary>
public abstract class CommonSettings : CommandSettings
{
    /// <summary>Seed of everything random: initial weights, subsets, data order, augmentation.</summary>
    [CommandOption("--seed <N>")]
    [Description("Seed of everything random: initial weights, subsets, data order, augmentation.")]
    [DefaultValue(1)]
    [Between(0, int.MaxValue)]
    public int Seed { get; init; } = 1;

    /// <summary>CPU threads for TorchSharp, or null for the number of cores.</summary>
    [CommandOption("--threads <N>")]
    [Description("CPU threads for TorchSharp. Default: the number of cores.")]
    [Between(1, 1024)]
    public int? Threads { get; init; }

    /// <summary>Threads.</summary>
    public int ThreadCount => Threads ?? Math.Max(1, Environment.ProcessorCount);
}

/// <summary>
/// The options every training sample shares (Spectre.Console.Cli settings). Each sample declares its recipe, the
/// options whose defaults differ (<see cref="Epochs"/>, <see cref="WeightDecay"/>, <see cref="Schedule"/>,
/// <see cref="Out"/>, <see cref="Quick"/>), and turns the whole into <see cref="ClassifierTrainer"/> settings with
/// <see cref="ToTrainingOptions"/>.
/// </summary>
public abstract class TrainingSettings : CommonSettings
{
    /// <summary>Training epochs, or null for the sample's default (<see cref="DefaultEpochs"/>, or the quick run's).</summary>
    public abstract int? Epochs { get; init; }

    /// <summary>L2 weight decay.</summary>
    public abstract double WeightDecay { get; init; }

    /// <summary>Learning-rate schedule.</summary>
    public abstract LearningRateSchedule Schedule { get; init; }

    /// <summary>Output folder (results, checkpoints, model).</summary>
    public abstract string Out { get; init; }

    /// <summary>Short run: <see cref="QuickRun"/> for every option not given explicitly.</summary>
    public abstract bool Quick { get; init; }

    /// <summary>Training images (a seeded random subset), or null for the default (all, or the quick run's).</summary>
    [CommandOption("--subset <N>")]
    [Description("Training images to use, a seeded random subset (0 = all). Default all.")]
    [Between(0, 10_000_000)]
    public int? Subset { get; init; }

    /// <summary>Test images, or null for the default.</summary>
    [CommandOption("--test-subset <N>")]
    [Description("Test images to use, a seeded random subset (0 = all). Default all.")]
    [Between(0, 10_000_000)]
    public int? TestSubset { get; init; }

    /// <summary>Mini-batch size, or null for the default (128, or the quick run's).</summary>
    [CommandOption("--batch-size <N>")]
    [Description("Mini-batch size. Default 128.")]
    [Between(1, 65_536)]
    public int? BatchSize { get; init; }

    /// <summary>Base learning rate.</summary>
    [CommandOption("--lr <RATE>")]
    [Description("Base learning rate (SGD, momentum 0.9).")]
    [DefaultValue(0.1)]
    [Between(0, 10, MinExclusive = true)]
    public double LearningRate { get; init; } = 0.1;

    /// <summary>Fashion-MNIST folder, or null for the Debian folder (or generated data).</summary>
    [CommandOption("--data <DIR>")]
    [Description("Fashion-MNIST folder. Default /usr/share/datasets/fashion-mnist, else generated stand-in data.")]
    public string? Data { get; init; }

    /// <summary>Training augmentation.</summary>
    [CommandOption("--augment <KIND>")]
    [Description("Training augmentation: cropflip (pad 2, random 28x28 crop, random horizontal flip), flip or none.")]
    [DefaultValue("cropflip")]
    public Augmentation Augment { get; init; } = Augmentation.CropFlip;

    /// <summary>Training arithmetic.</summary>
    [CommandOption("--precision <P>")]
    [Description("Training arithmetic: fp32, or bf16 (mixed precision with fp32 master weights; no checkpoints, so no --resume).")]
    [DefaultValue("fp32")]
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Fp32;

    /// <summary>Where training runs.</summary>
    [CommandOption("--device <DEVICE>")]
    [Description("Where training runs: cpu, or cuda (needs a CUDA build of libtorch; the samples reference TorchSharp-cpu).")]
    [DefaultValue("cpu")]
    public TrainingDevice Device { get; init; } = TrainingDevice.Cpu;

    /// <summary>Continue from the checkpoints in <see cref="Out"/>.</summary>
    [CommandOption("--resume")]
    [Description("Continue from the checkpoints in the output folder (same options required).")]
    public bool Resume { get; init; }

    /// <summary>The sample's epochs when neither <c>--epochs</c> nor <c>--quick</c> is given.</summary>
    protected abstract int DefaultEpochs { get; }

    /// <summary>What <c>--quick</c> means for this sample.</summary>
    protected abstract QuickRun QuickRun { get; }

    /// <summary>Epochs, after <c>--quick</c>.</summary>
    public int EpochCount => Epochs ?? (Quick ? QuickRun.Epochs : DefaultEpochs);

    /// <summary>Batch size, after <c>--quick</c>.</summary>
    public int Batch => BatchSize ?? (Quick ? QuickRun.BatchSize : 128);

    /// <summary>Checks the device (before anything is loaded), sets TorchSharp's threads and loads the data
    /// (<see cref="SampleData.Load(string?, int?, int?, long, TextWriter, bool)"/>): the subsets after <c>--quick</c>,
    /// which clamps them to the data's size.</summary>
    /// <param name="log">Where to say what was loaded.</param>
    /// <returns>Training and test sets.</returns>
    /// <exception cref="SampleException">CUDA was asked for and is not available.</exception>
    public DataSplits LoadData(TextWriter log)
    {
        Device.ToTorchDevice();
        torch.set_num_threads(ThreadCount);
        int train = Subset ?? (Quick ? QuickRun.Subset : 0), test = TestSubset ?? (Quick ? QuickRun.TestSubset : 0);
        return SampleData.Load(Data, train == 0 ? null : train, test == 0 ? null : test, Seed, log, clampSubsets: Quick);
    }

    /// <summary>The trainer settings these options describe.</summary>
    /// <param name="checkpointDirectory">Where checkpoints go, or null for none.</param>
    /// <returns>The options.</returns>
    public TrainingOptions ToTrainingOptions(string? checkpointDirectory) => new()
    {
        Epochs = EpochCount,
        BatchSize = Batch,
        LearningRate = LearningRate,
        WeightDecay = WeightDecay,
        Schedule = Schedule,
        Seed = Seed,
        Precision = Precision,
        Device = Device,
        CheckpointDirectory = checkpointDirectory,
        Augmentation = Augment switch
        {
            Augmentation.CropFlip => AugmentationOptions.FashionMnist,
            Augmentation.Flip => AugmentationOptions.FashionMnist with { Padding = 0 },
            _ => null,
        },
    };

    /// <summary>The recipe in one line, for example <c>1 epoch(s), batch 64, lr 0.1 (step), weight decay 0.0001, fp32,
    /// augmentation cropflip, cpu, 1 thread(s), seed 1</c>.</summary>
    /// <returns>The text.</returns>
    public string Recipe() => string.Create(
        CultureInfo.InvariantCulture,
        $"{EpochCount} epoch(s), batch {Batch}, lr {LearningRate} ({Lower(Schedule)}), weight decay {WeightDecay}, {Lower(Precision)}, augmentation {Lower(Augment)}, {Lower(Device)}, {ThreadCount} thread(s), seed {Seed}");

    private static string Lower<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();
}
