using System;

namespace ResidualNet.Data;

/// <summary>
/// Per-channel normalisation of grey images: a pixel byte <c>p</c> becomes <c>(p / 255 - Mean) / StandardDeviation</c>.
/// </summary>
/// <param name="Mean">Mean of the pixel values scaled to [0, 1].</param>
/// <param name="StandardDeviation">Standard deviation of the pixel values scaled to [0, 1]; must be positive.</param>
public sealed record Normalization(double Mean, double StandardDeviation)
{
    /// <summary>
    /// Fashion-MNIST's training-set statistics: mean 0.2860, standard deviation 0.3530 (over all 60,000 x 784
    /// training pixels scaled to [0, 1]; the values commonly used with torchvision).
    /// </summary>
    public static Normalization FashionMnist { get; } = new(0.2860, 0.3530);

    /// <summary>MNIST's training-set statistics: mean 0.1307, standard deviation 0.3081.</summary>
    public static Normalization Mnist { get; } = new(0.1307, 0.3081);

    /// <summary>No normalisation beyond scaling to [0, 1] (mean 0, standard deviation 1).</summary>
    public static Normalization None { get; } = new(0.0, 1.0);

    /// <summary>The normalised value of a black pixel (byte 0): <c>-Mean / StandardDeviation</c>.</summary>
    public double Black => -Mean / StandardDeviation;

    /// <summary>Checks that the standard deviation is positive and both values are finite.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        if (!double.IsFinite(Mean))
        {
            throw new ArgumentOutOfRangeException(nameof(Mean), Mean, $"{nameof(Mean)} must be finite; got {Mean}.");
        }

        if (!(StandardDeviation > 0) || !double.IsFinite(StandardDeviation))
        {
            throw new ArgumentOutOfRangeException(nameof(StandardDeviation), StandardDeviation, $"{nameof(StandardDeviation)} must be positive and finite; got {StandardDeviation}.");
        }
    }
}
