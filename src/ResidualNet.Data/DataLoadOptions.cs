namespace ResidualNet.Data;

/// <summary>What to keep when loading a training / test pair. Defaults: everything.</summary>
public sealed record DataLoadOptions
{
    /// <summary>Subset of the training set to keep, or <see langword="null"/> for all of it. Default all.</summary>
    public Subset? TrainSubset { get; init; }

    /// <summary>Subset of the test set to keep, or <see langword="null"/> for all of it. Default all.</summary>
    public Subset? TestSubset { get; init; }
}
