using System;

namespace ResidualNet.Data;

/// <summary>
/// A seeded, learnable stand-in for MNIST-like data, for machines without the real files: every class has its own
/// blocky random template (a 7x7 pattern scaled up to the image size); each sample is its class's template shifted
/// by up to 2 pixels, scaled in brightness and overlaid with noise. Same seed, same bytes.
/// </summary>
public static class SyntheticImages
{
    /// <summary>Generates images and labels (uniformly random classes).</summary>
    /// <param name="count">Number of images, 1 or more.</param>
    /// <param name="seed">Seed; the class templates depend only on <paramref name="templateSeed"/>.</param>
    /// <param name="classCount">Number of classes, in [1, 256]. Default 10.</param>
    /// <param name="rows">Image height, 7 or more. Default 28.</param>
    /// <param name="columns">Image width, 7 or more. Default 28.</param>
    /// <param name="templateSeed">Seed of the class templates, shared by training and test sets. Default 0.</param>
    /// <returns>The images and one label per image.</returns>
    public static (IdxImages Images, byte[] Labels) Generate(int count, int seed, int classCount = 10, int rows = 28, int columns = 28, int templateSeed = 0)
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

        bool[,,] templates = CreateTemplates(classCount, templateSeed);
        var random = new Random(seed);
        byte[] pixels = new byte[(long)count * rows * columns];
        byte[] labels = new byte[count];
        int cellRows = rows / 7, cellColumns = columns / 7;
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(classCount);
            labels[i] = (byte)label;
            int dy = random.Next(-2, 3), dx = random.Next(-2, 3);
            double brightness = 150 + (105 * random.NextDouble());
            int offset = i * rows * columns;
            for (int y = 0; y < rows; y++)
            {
                for (int x = 0; x < columns; x++)
                {
                    int sy = y - dy, sx = x - dx;
                    bool on = sy >= 0 && sy < cellRows * 7 && sx >= 0 && sx < cellColumns * 7 && templates[label, sy / cellRows, sx / cellColumns];
                    double value = (on ? brightness : 0) + (random.NextDouble() * 60) - 20;
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

    private static bool[,,] CreateTemplates(int classCount, int templateSeed)
    {
        var random = new Random(templateSeed);
        var templates = new bool[classCount, 7, 7];
        for (int c = 0; c < classCount; c++)
        {
            for (int y = 0; y < 7; y++)
            {
                for (int x = 0; x < 7; x++)
                {
                    templates[c, y, x] = random.NextDouble() < 0.45;
                }
            }
        }

        return templates;
    }
}
