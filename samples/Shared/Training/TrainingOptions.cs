using System;
using System.Collections.Generic;
using ResidualNet.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.Training;

/// <summary>How the learning rate changes during training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout.</summary>
    Constant,

    /// <summary>Multiplied by <see cref="TrainingOptions.StepFactor"/> at each milestone (fractions of the epochs), as in He et al.</summary>
    Step,

    /// <summary>Cosine decay from the base rate to 0 over all iterations (updated every batch).</summary>
    Cosine,
}

/// <summary>
/// Settings of <see cref="ClassifierTrainer"/>. Defaults follow He et al. (2015) for CIFAR where they apply:
/// SGD with momentum 0.9, batch 128, learning rate 0.1, weight decay 1e-4, step schedule dividing by 10 at 50% and
/// 75% of training, pad-and-crop plus flip augmentation.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Number of epochs. Default 10.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Mini-batch size. Default 128.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Base learning rate. Default 0.1.</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>SGD momentum. Default 0.9.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>L2 weight decay (on every parameter). Default 1e-4.</summary>
    public double WeightDecay { get; init; } = 1e-4;

    /// <summary>Learning-rate schedule. Default <see cref="LearningRateSchedule.Step"/>.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Step;

    /// <summary>
    /// Step milestones as fractions of <see cref="Epochs"/>: the rate drops from 0-based epoch floor(fraction * Epochs) on;
    /// a milestone that falls on epoch 0 (very short runs) is ignored. Default 0.5, 0.75.
    /// </summary>
    public IReadOnlyList<double> StepMilestones { get; init; } = [0.5, 0.75];

    /// <summary>Factor applied at each step milestone. Default 0.1.</summary>
    public double StepFactor { get; init; } = 0.1;

    /// <summary>Seed of shuffling and augmentation (the model's initialisation is seeded by the caller). Default 1.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Training augmentation, or <see langword="null"/> for none. Default pad 2, crop, flip.</summary>
    public AugmentationOptions? Augmentation { get; init; } = AugmentationOptions.FashionMnist;

    /// <summary>Batch size for evaluation. Default 1000.</summary>
    public int EvaluationBatchSize { get; init; } = 1000;

    /// <summary>Arithmetic of training: fp32, or bf16 mixed precision with fp32 master weights. Default fp32.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Fp32;

    /// <summary>Where training runs: the CPU, or a CUDA GPU. Default CPU.</summary>
    public TrainingDevice Device { get; init; } = TrainingDevice.Cpu;

    /// <summary>Folder for checkpoints (weights, optimizer state, JSON state), or <see langword="null"/> for none. Default none.</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>Checks every value; throws <see cref="ArgumentOutOfRangeException"/> naming the property and value.</summary>
    public void Validate()
    {
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be 1 or more");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be 1 or more");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be positive");
        Check(Momentum is >= 0 and < 1, nameof(Momentum), Momentum, "must be in [0, 1)");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be 0 or more");
        Check(StepFactor is > 0 and <= 1, nameof(StepFactor), StepFactor, "must be in (0, 1]");
        Check(EvaluationBatchSize >= 1, nameof(EvaluationBatchSize), EvaluationBatchSize, "must be 1 or more");
        Check(Enum.IsDefined(Precision), nameof(Precision), Precision, "must be Fp32 or BF16");
        Check(Enum.IsDefined(Device), nameof(Device), Device, "must be Cpu or Cuda");
        foreach (double m in StepMilestones)
        {
            Check(m is > 0 and < 1, nameof(StepMilestones), m, "must hold fractions in (0, 1)");
        }
    }

    /// <summary>The learning rate for a step.</summary>
    /// <param name="epoch">Current epoch (0-based).</param>
    /// <param name="batch">Batch within the epoch (0-based).</param>
    /// <param name="batchesPerEpoch">Batches per epoch.</param>
    /// <returns>The rate.</returns>
    public double LearningRateAt(int epoch, int batch, int batchesPerEpoch)
    {
        switch (Schedule)
        {
            case LearningRateSchedule.Constant:
                return LearningRate;
            case LearningRateSchedule.Step:
                double rate = LearningRate;
                foreach (double m in StepMilestones)
                {
                    int milestone = (int)Math.Floor(m * Epochs);
                    if (milestone > 0 && epoch >= milestone)
                    {
                        rate *= StepFactor;
                    }
                }

                return rate;
            default:
                double total = (double)Epochs * batchesPerEpoch;
                double t = ((double)epoch * batchesPerEpoch) + batch;
                return LearningRate * 0.5 * (1 + Math.Cos(Math.PI * t / total));
        }
    }

    private static void Check(bool ok, string name, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {value}.");
        }
    }
}

/// <summary>Arithmetic of training.</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in fp32.</summary>
    Fp32 = 0,

    /// <summary>bf16 forward and backward with fp32 master weights (ResidualNet.Performance.MixedPrecisionTrainer).</summary>
    BF16 = 1,
}

/// <summary>Where training runs.</summary>
public enum TrainingDevice
{
    /// <summary>The CPU.</summary>
    Cpu = 0,

    /// <summary>The first CUDA GPU; needs a CUDA build of libtorch (the samples reference TorchSharp-cpu).</summary>
    Cuda = 1,
}

/// <summary>Turns a <see cref="TrainingDevice"/> into TorchSharp's device.</summary>
public static class TrainingDevices
{
    /// <summary>The TorchSharp device; for <see cref="TrainingDevice.Cuda"/> only when <c>torch.cuda.is_available()</c>.</summary>
    /// <param name="device">The choice.</param>
    /// <returns>The device.</returns>
    /// <exception cref="SampleException">CUDA was asked for and is not available (a one-line, exit-code-2 error in the samples).</exception>
    public static Device ToTorchDevice(this TrainingDevice device) => device switch
    {
        TrainingDevice.Cpu => CPU,
        TrainingDevice.Cuda when torch.cuda.is_available() => CUDA,
        TrainingDevice.Cuda => throw new SampleException(
            "device cuda was asked for, but torch.cuda.is_available() is false: the libtorch loaded has no CUDA support (the samples reference TorchSharp-cpu) or no GPU is visible; use --device cpu."),
        _ => throw new ArgumentOutOfRangeException(nameof(device), device, $"device must be Cpu or Cuda; got {device}."),
    };
}
