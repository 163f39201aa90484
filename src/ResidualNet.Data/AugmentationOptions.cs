using System;

namespace ResidualNet.Data;

/// <summary>
/// Training-time augmentation, applied per sample on whole batches with tensor operations (see
/// <see cref="TensorAugmentation"/>). Defaults: 2-pixel padding with a random 28x28 crop and a horizontal flip with
/// probability 0.5.
/// </summary>
/// <remarks>
/// He et al. (2015) pad 32x32 CIFAR images by 4 pixels (12.5% of the side). For 28x28 Fashion-MNIST the default is
/// 2 pixels (7%): the garments fill the frame, and a 4-pixel shift cuts off sleeves and soles. Use
/// <c>Padding = 4</c> to follow the paper literally. Padding uses the normalised value of a black pixel, the
/// background of (Fashion-)MNIST. Turn <see cref="HorizontalFlip"/> off for MNIST digits.
/// </remarks>
public sealed record AugmentationOptions
{
    /// <summary>Padding on every side before the random crop back to the original size; 0 turns cropping off. Default 2.
    /// Must be 0 or more.</summary>
    public int Padding { get; init; } = 2;

    /// <summary>Whether to flip images left-right at random. Default <see langword="true"/>.</summary>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>Probability of a flip for each sample when <see cref="HorizontalFlip"/> is on. Default 0.5. Must be in [0, 1].</summary>
    public double FlipProbability { get; init; } = 0.5;

    /// <summary>The standard training augmentation for Fashion-MNIST (pad 2, random crop, horizontal flip).</summary>
    public static AugmentationOptions FashionMnist { get; } = new();

    /// <summary>Augmentation for MNIST digits: pad 2 and random crop, no flip (a flipped digit is another glyph).</summary>
    public static AugmentationOptions Mnist { get; } = new() { HorizontalFlip = false };

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (Padding < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Padding), Padding, $"{nameof(Padding)} must be 0 or more; got {Padding}.");
        }

        if (FlipProbability is not (>= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(FlipProbability), FlipProbability, $"{nameof(FlipProbability)} must be in [0, 1]; got {FlipProbability}.");
        }
    }
}
