using System.Collections.Generic;

namespace ResidualNet.Samples.Training;

/// <summary>
/// The JSON part of a checkpoint (<c>NAME.state.json</c>), next to <c>NAME.weights</c> (module.save) and
/// <c>NAME.optimizer</c> (the optimizer's momentum buffers).
/// </summary>
public sealed record TrainingState
{
    /// <summary>File format version.</summary>
    public int Format { get; init; } = 1;

    /// <summary>Model name.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>Planned epochs.</summary>
    public int Epochs { get; init; }

    /// <summary>Batch size.</summary>
    public int BatchSize { get; init; }

    /// <summary>Data seed.</summary>
    public long Seed { get; init; }

    /// <summary>Training-set size.</summary>
    public int TrainCount { get; init; }

    /// <summary>Base learning rate.</summary>
    public double LearningRate { get; init; }

    /// <summary>Schedule name.</summary>
    public string Schedule { get; init; } = string.Empty;

    /// <summary>Epochs fully finished (the next epoch to run, 0-based).</summary>
    public int CompletedEpochs { get; init; }

    /// <summary>Batches already done in the unfinished epoch (0 at an epoch boundary).</summary>
    public int NextBatch { get; init; }

    /// <summary>Running loss sum of the unfinished epoch.</summary>
    public double PartialLossSum { get; init; }

    /// <summary>Running misclassification count of the unfinished epoch.</summary>
    public long PartialWrong { get; init; }

    /// <summary>Samples seen in the unfinished epoch.</summary>
    public long PartialSeen { get; init; }

    /// <summary>Seconds spent in the unfinished epoch.</summary>
    public double PartialSeconds { get; init; }

    /// <summary>Results of the finished epochs.</summary>
    public IReadOnlyList<EpochResult> History { get; init; } = [];
}
