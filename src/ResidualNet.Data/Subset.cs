using System;

namespace ResidualNet.Data;

/// <summary>Which part of a data set to keep: the first <see cref="Count"/> items, or a seeded random choice.</summary>
public sealed record Subset
{
    private Subset(int count, long? seed)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{nameof(count)} must be 1 or more; got {count}.");
        }

        Count = count;
        Seed = seed;
    }

    /// <summary>How many items to keep.</summary>
    public int Count { get; }

    /// <summary>The seed of a random subset, or <see langword="null"/> for the first <see cref="Count"/> items.</summary>
    public long? Seed { get; }

    /// <summary>Keeps the first <paramref name="count"/> items, in file order.</summary>
    /// <param name="count">Number of items, 1 or more.</param>
    /// <returns>The subset description.</returns>
    public static Subset First(int count) => new(count, null);

    /// <summary>Keeps <paramref name="count"/> items chosen at random without replacement, in ascending index order.</summary>
    /// <param name="count">Number of items, 1 or more.</param>
    /// <param name="seed">The seed; the same seed always picks the same items.</param>
    /// <returns>The subset description.</returns>
    public static Subset Random(int count, long seed) => new(count, seed);
}
