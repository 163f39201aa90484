using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace ResidualNet.Weights;

/// <summary>
/// Thrown when a weights file does not fit a module: keys missing from the file, keys the module does not have,
/// or tensors of the wrong shape. The message names the file and lists every difference; nothing was loaded.
/// </summary>
public sealed class WeightsMismatchException : ArgumentException
{
    /// <summary>How many keys of each list the message shows before summarising the rest.</summary>
    private const int MaxListed = 40;

    /// <summary>Creates the exception with a default message.</summary>
    public WeightsMismatchException()
        : this("The weights file does not fit the module.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public WeightsMismatchException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public WeightsMismatchException(string message, Exception? innerException)
        : base(message, innerException)
    {
        FilePath = string.Empty;
        MissingKeys = [];
        UnexpectedKeys = [];
        ShapeMismatches = [];
    }

    /// <summary>Creates the exception from a comparison, with a message listing every difference.</summary>
    /// <param name="comparison">The comparison of the file with the module.</param>
    /// <param name="moduleName">The module's name or type, for the message.</param>
    /// <param name="paramName">The name of the parameter that received the file path.</param>
    public WeightsMismatchException(WeightsComparison comparison, string moduleName, string paramName)
        : base(BuildMessage(comparison, moduleName), paramName)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        FilePath = comparison.FilePath;
        MissingKeys = comparison.MissingKeys;
        UnexpectedKeys = comparison.UnexpectedKeys;
        ShapeMismatches = comparison.ShapeMismatches;
    }

    /// <summary>The full path of the weights file.</summary>
    public string FilePath { get; }

    /// <summary>Keys the module holds and the file lacks.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Keys the file holds and the module lacks.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys both hold with different shapes (module shape and file shape).</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    private static string BuildMessage(WeightsComparison comparison, string moduleName)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"The weights file '{comparison.FilePath}' ({comparison.Format}) does not fit the module {moduleName}: ");
        text.Append(CultureInfo.InvariantCulture,
            $"{Count(comparison.MissingKeys.Count, "missing key")}, {Count(comparison.UnexpectedKeys.Count, "unexpected key")}, ");
        text.Append(CultureInfo.InvariantCulture,
            $"{Count(comparison.ShapeMismatches.Count, "shape mismatch")}. Nothing was loaded.");
        AppendList(text, "Missing keys (in the module, not in the file)", comparison.MissingKeys);
        AppendList(text, "Unexpected keys (in the file, not in the module)", comparison.UnexpectedKeys);
        AppendList(text, "Shape mismatches", comparison.ShapeMismatches.Select(m => m.ToString()).ToList());
        text.Append(Environment.NewLine).Append(
            "To load a checkpoint with another classifier, use WeightsLoadOptions.TransferLearning (skips keys " +
            "starting with ClassifierPrefix, 'fc.' by default); to load only the matching keys, set Strict = false.");
        return text.ToString();
    }

    private static string Count(int count, string noun) =>
        count.ToString(CultureInfo.InvariantCulture) + " " + noun + (count == 1 ? string.Empty : noun.EndsWith('h') ? "es" : "s");

    private static void AppendList(StringBuilder text, string title, IReadOnlyList<string> items)
    {
        if (items.Count == 0)
        {
            return;
        }

        text.Append(Environment.NewLine).Append(title).Append(": ");
        text.Append(string.Join(", ", items.Take(MaxListed)));
        if (items.Count > MaxListed)
        {
            text.Append(CultureInfo.InvariantCulture, $", ... and {items.Count - MaxListed} more");
        }
    }
}
