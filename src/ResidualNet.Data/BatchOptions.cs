using System;

namespace ResidualNet.Data;

/// <summary>How <see cref="ImageDataSet.GetBatches(BatchOptions, int, int)"/> cuts a data set into mini-batches.</summary>
public sealed record BatchOptions
{
    /// <summary>Samples per batch (the last batch may be smaller unless <see cref="DropLast"/>). Default 128. Must be 1 or more.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>Whether to visit the samples in a new seeded random order every epoch. Default <see langword="true"/>.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Whether to drop a last batch smaller than <see cref="BatchSize"/>. Default <see langword="false"/>.</summary>
    public bool DropLast { get; init; }

    /// <summary>
    /// Seed of the shuffling and augmentation. The order of epoch <c>e</c> and the augmentation of batch <c>b</c>
    /// depend only on (seed, e, b), so a run resumed at any batch sees exactly the same data. Default 0.
    /// </summary>
    public long Seed { get; init; }

    /// <summary>Augmentation applied to every batch, or <see langword="null"/> for none (evaluation). Default none.</summary>
    public AugmentationOptions? Augmentation { get; init; }

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (BatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"{nameof(BatchSize)} must be 1 or more; got {BatchSize}.");
        }

        Augmentation?.Validate();
    }
}
