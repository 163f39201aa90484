using System;

namespace ResidualNet.Weights;

/// <summary>
/// How <see cref="ModelWeights.Load"/> matches a weights file to a module. Immutable: make variants with
/// <c>with</c>, for example <c>WeightsLoadOptions.Default with { SkipClassifier = true }</c>.
/// </summary>
public sealed record WeightsLoadOptions
{
    /// <summary>Strict loading of a file whose format is detected from its content.</summary>
    public static WeightsLoadOptions Default { get; } = new();

    /// <summary>
    /// Transfer learning: everything but the classifier (keys starting with <see cref="ClassifierPrefix"/>, by
    /// default <c>fc.</c>) must match and is loaded; the module's classifier keeps its own initialisation, so a
    /// checkpoint trained on 1000 classes loads into a 10-class network.
    /// </summary>
    public static WeightsLoadOptions TransferLearning { get; } = new() { SkipClassifier = true };

    /// <summary>
    /// When true (the default), every key of the module must be in the file and every key of the file must be
    /// in the module; otherwise a <see cref="WeightsMismatchException"/> lists the differences and nothing is
    /// loaded. When false, the keys both hold are loaded and the others are reported in the
    /// <see cref="WeightsComparison"/> that <see cref="ModelWeights.Load"/> returns. Shape mismatches are an error either way (as in PyTorch).
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// When true, keys starting with <see cref="ClassifierPrefix"/> are ignored on both sides: not loaded,
    /// not required, not compared. Default false.
    /// </summary>
    public bool SkipClassifier { get; init; }

    /// <summary>
    /// The state_dict prefix of the classifier that <see cref="SkipClassifier"/> ignores. Default <c>fc.</c>
    /// (torchvision's ResNet head). A prefix without a trailing dot also matches longer names (<c>fc</c> matches
    /// <c>fc2.weight</c>).
    /// </summary>
    public string ClassifierPrefix { get; init; } = "fc.";

    /// <summary>The file format; <see cref="WeightsFormat.Auto"/> (the default) detects it from the file's first bytes.</summary>
    public WeightsFormat Format { get; init; } = WeightsFormat.Auto;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (SkipClassifier && string.IsNullOrEmpty(ClassifierPrefix))
        {
            throw new ArgumentException(
                $"ClassifierPrefix must be a non-empty state_dict prefix when SkipClassifier is true (got '{ClassifierPrefix}'); an empty prefix would skip every key.",
                nameof(ClassifierPrefix));
        }

        if (!Enum.IsDefined(Format))
        {
            throw new ArgumentOutOfRangeException(nameof(Format), Format, $"Format must be a defined WeightsFormat; got {(int)Format}.");
        }
    }
}
