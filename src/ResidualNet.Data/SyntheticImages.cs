using System;

namespace ResidualNet.Data;

/// <summary>
/// A seeded, learnable stand-in for MNIST-like data, for machines without the real files. Every class is a striped
/// texture with its own stripe period (about 3.5 or 6 pixels) and tilt (0 to 90 degrees from vertical, either way at
/// random, so a horizontal flip keeps the class); each sample has a random phase, brightness and pixel noise. The
/// classes are local textures, so networks with global average pooling tell them apart quickly. Same seed, same bytes.
/// </summary>
public static class SyntheticImages
{
    /// <summary>Generates images and labels (uniformly random classes).</summary>
    /// <param name="count">Number of images, 1 or more.</param>
    /// <param name="seed">Seed of the labels, phases, tilts, brightness and noise.</param>
    /// <param name="classCount">Number of classes, in [1, 256]. Default 10.</param>
    /// <param name="rows">Image height, 7 or more. Default 28.</param>
    /// <param name="columns">Image width, 7 or more. Default 28.</param>
    /// <returns>The images and one label per image.</returns>
    public static (IdxImages Images, byte[] Labels) Generate(int count, int seed, int classCount = 10, int rows = 28, int columns = 28)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{nameof(count)} must be 1 or more; got {count}.");
        }

        if (classCount is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"{nameof(classCount)} must be in [1, 256]; got {classCount}.");
        }

        if (rows < 7)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{nameof(rows)} must be 7 or more; got {rows}.");
        }

        if (columns < 7)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"{nameof(columns)} must be 7 or more; got {columns}.");
        }

        int tilts = (classCount + 1) / 2;
        var random = new Random(seed);
        byte[] pixels = new byte[(long)count * rows * columns];
        byte[] labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(classCount);
            labels[i] = (byte)label;
            double period = label % 2 == 0 ? 3.5 : 6.0;
            double tilt = tilts == 1 ? 0 : Math.PI / 2 * (label / 2) / (tilts - 1);
            if (random.Next(2) == 1)
            {
                tilt = -tilt;
            }

            double cos = Math.Cos(tilt), sin = Math.Sin(tilt);
            double phase = random.NextDouble() * 2 * Math.PI;
            double brightness = 150 + (105 * random.NextDouble());
            int offset = i * rows * columns;
            for (int y = 0; y < rows; y++)
            {
                for (int x = 0; x < columns; x++)
                {
                    double wave = Math.Cos((2 * Math.PI * ((x * cos) + (y * sin)) / period) + phase);
                    double value = (wave > 0 ? brightness : 0) + (random.NextDouble() * 80) - 30;
                    pixels[offset + (y * columns) + x] = (byte)Math.Clamp(value, 0, 255);
                }
            }
        }

        return (new IdxImages(pixels, count, rows, columns), labels);
    }

    /// <summary>Generates a synthetic <see cref="ImageDataSet"/> normalised like Fashion-MNIST.</summary>
    /// <param name="count">Number of images, 1 or more.</param>
    /// <param name="seed">Seed of the samples (use different seeds for training and test sets).</param>
    /// <param name="classCount">Number of classes. Default 10.</param>
    /// <returns>The data set, marked <see cref="ImageDataSet.IsSynthetic"/>.</returns>
    public static ImageDataSet CreateDataSet(int count, int seed, int classCount = 10)
    {
        var (images, labels) = Generate(count, seed, classCount);
        return ImageDataSet.Create(
            images, labels, classCount, Normalization.FashionMnist, $"synthetic data ({count} images, seed {seed})", isSynthetic: true);
    }
}
