using System;

namespace ResidualNet.Analysis;

/// <summary>
/// How <see cref="ModelSummary"/> groups its rows. Immutable: make variants with <c>with</c>.
/// </summary>
public sealed record ModelSummaryOptions
{
    /// <summary>One row per direct child of the network (for a torchvision-style ResNet: stem layers, the four stages, pooling and classifier).</summary>
    public static ModelSummaryOptions Default { get; } = new();

    /// <summary>
    /// How deep the rows go in the module tree: 1 (the default) shows the direct children, 2 also their children
    /// (for a ResNet: every block), and so on. Each row's parameters and multiply-adds include everything below it.
    /// Must be at least 1.
    /// </summary>
    public int Depth { get; init; } = 1;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (Depth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Depth), Depth, $"Depth must be at least 1; got {Depth}.");
        }
    }
}
