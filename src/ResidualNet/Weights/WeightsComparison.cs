using System.Collections.Generic;

namespace ResidualNet.Weights;

/// <summary>
/// How a weights file's keys and shapes compare with a module's state_dict, returned by
/// <see cref="ModelWeights.Compare"/> (nothing loaded) and by <see cref="ModelWeights.Load"/> (then
/// <see cref="MatchedKeys"/> are exactly the keys that were loaded).
/// </summary>
public sealed record WeightsComparison
{
    /// <summary>The full path of the weights file.</summary>
    public required string FilePath { get; init; }

    /// <summary>The file's format (never <see cref="WeightsFormat.Auto"/>).</summary>
    public required WeightsFormat Format { get; init; }

    /// <summary>Keys that the module and the file both hold with the same shape, in the module's state_dict order.</summary>
    public required IReadOnlyList<string> MatchedKeys { get; init; }

    /// <summary>Keys ignored because they start with the classifier prefix (module keys first, then file-only keys).</summary>
    public required IReadOnlyList<string> SkippedKeys { get; init; }

    /// <summary>Keys the module holds and the file lacks, in the module's state_dict order.</summary>
    public required IReadOnlyList<string> MissingKeys { get; init; }

    /// <summary>
    /// Keys the file holds and the module lacks, in the file's order (PyTorch files: ordinal order, because the
    /// pickle reader does not keep the order).
    /// </summary>
    public required IReadOnlyList<string> UnexpectedKeys { get; init; }

    /// <summary>Keys both hold with different shapes, in the module's state_dict order.</summary>
    public required IReadOnlyList<ShapeMismatch> ShapeMismatches { get; init; }

    /// <summary>True when no key is missing, unexpected or of the wrong shape (skipped keys aside).</summary>
    public bool IsExactMatch => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && ShapeMismatches.Count == 0;
}
