using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Data;

/// <summary>
/// Per-sample image augmentation on whole batches (N x C x H x W), vectorised: every sample gets its own random
/// crop offset and flip decision, drawn from the given generator, with no loop over samples.
/// </summary>
public static class TensorAugmentation
{
    /// <summary>
    /// Pads each image by <paramref name="padding"/> pixels on every side with <paramref name="fillValue"/>, then cuts
    /// an H x W window at a random offset in [0, 2 * padding] (per sample, both axes).
    /// </summary>
    /// <param name="images">Batch N x C x H x W.</param>
    /// <param name="padding">Padding in pixels, 0 or more (0 returns a copy).</param>
    /// <param name="fillValue">Value of the padded border (use the normalised black for MNIST-like data).</param>
    /// <param name="generator">Source of the offsets.</param>
    /// <returns>A new batch of the same shape.</returns>
    public static Tensor RandomCrop(Tensor images, int padding, double fillValue, Generator generator)
    {
        CheckBatch(images);
        ArgumentNullException.ThrowIfNull(generator);
        if (padding < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"{nameof(padding)} must be 0 or more; got {padding}.");
        }

        if (padding == 0)
        {
            return images.clone();
        }

        using var scope = NewDisposeScope();
        long n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        var padded = nn.functional.pad(images, [padding, padding, padding, padding], PaddingModes.Constant, fillValue);
        var offsets = randint(0, (2 * padding) + 1, [n, 2], generator: generator, dtype: ScalarType.Int64, device: images.device);
        var rows = offsets[.., 0].unsqueeze(1) + arange(h, ScalarType.Int64, images.device).unsqueeze(0); // N x H
        var cols = offsets[.., 1].unsqueeze(1) + arange(w, ScalarType.Int64, images.device).unsqueeze(0); // N x W
        long paddedW = w + (2 * padding);
        var rowIndex = rows.view(n, 1, h, 1).expand(n, c, h, paddedW);
        var picked = padded.gather(2, rowIndex); // N x C x H x (W + 2p)
        var colIndex = cols.view(n, 1, 1, w).expand(n, c, h, w);
        return picked.gather(3, colIndex).MoveToOuterDisposeScope();
    }

    /// <summary>Flips each image left-right with probability <paramref name="probability"/> (per sample).</summary>
    /// <param name="images">Batch N x C x H x W.</param>
    /// <param name="probability">Flip probability in [0, 1].</param>
    /// <param name="generator">Source of the flip decisions.</param>
    /// <returns>A new batch of the same shape.</returns>
    public static Tensor RandomHorizontalFlip(Tensor images, double probability, Generator generator)
    {
        CheckBatch(images);
        ArgumentNullException.ThrowIfNull(generator);
        if (probability is < 0 or > 1 || double.IsNaN(probability))
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, $"{nameof(probability)} must be in [0, 1]; got {probability}.");
        }

        using var scope = NewDisposeScope();
        long n = images.shape[0];
        var flip = rand([n], generator: generator, device: images.device).lt(probability).view(n, 1, 1, 1);
        return where(flip, images.flip(3), images).MoveToOuterDisposeScope();
    }

    /// <summary>Applies the augmentation described by <paramref name="options"/>: random crop, then flip.</summary>
    /// <param name="images">Batch N x C x H x W.</param>
    /// <param name="options">What to apply.</param>
    /// <param name="fillValue">Value of the padded border.</param>
    /// <param name="generator">Source of randomness.</param>
    /// <returns>A new batch of the same shape.</returns>
    public static Tensor Apply(Tensor images, AugmentationOptions options, double fillValue, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var scope = NewDisposeScope();
        var result = RandomCrop(images, options.Padding, fillValue, generator);
        if (options.HorizontalFlip && options.FlipProbability > 0)
        {
            result = RandomHorizontalFlip(result, options.FlipProbability, generator);
        }

        return result.MoveToOuterDisposeScope();
    }

    private static void CheckBatch(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4)
        {
            throw new ArgumentException(
                $"{nameof(images)} must be a batch N x C x H x W (4 dimensions); got shape [{string.Join(", ", images.shape)}].", nameof(images));
        }
    }
}
