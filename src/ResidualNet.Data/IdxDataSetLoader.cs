using System;
using System.IO;

namespace ResidualNet.Data;

/// <summary>Loads an MNIST-layout folder: <c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>.</summary>
internal static class IdxDataSetLoader
{
    public static DataSplits Load(string name, string directory, Normalization normalization, DataLoadOptions? options)
    {
        options ??= new DataLoadOptions();
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"{name} folder '{directory}' does not exist.");
        }

        var train = LoadSplit(name, directory, "train", normalization, options.TrainSubset);
        try
        {
            var test = LoadSplit(name, directory, "t10k", normalization, options.TestSubset);
            return new DataSplits(train, test);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    public static bool Exists(string directory) =>
        Directory.Exists(directory)
        && FindFile(directory, "train-images-idx3-ubyte") is not null && FindFile(directory, "train-labels-idx1-ubyte") is not null
        && FindFile(directory, "t10k-images-idx3-ubyte") is not null && FindFile(directory, "t10k-labels-idx1-ubyte") is not null;

    public static ImageDataSet LoadSplit(string name, string directory, string prefix, Normalization normalization, Subset? subset)
    {
        string imagesPath = RequireFile(name, directory, $"{prefix}-images-idx3-ubyte");
        string labelsPath = RequireFile(name, directory, $"{prefix}-labels-idx1-ubyte");
        var images = IdxFile.ReadImages(imagesPath);
        byte[] labels = IdxFile.ReadLabels(labelsPath);
        if (images.Count != labels.Length)
        {
            throw new IdxFormatException(
                labelsPath,
                $"{name} image file '{imagesPath}' holds {images.Count} images but label file '{labelsPath}' holds {labels.Length} labels; the counts must match.");
        }

        const int classCount = 10;
        int bad = ImageDataSet.FindLabelAtOrAbove(labels, classCount);
        if (bad >= 0)
        {
            throw new IdxFormatException(labelsPath, $"{name} label file '{labelsPath}' has label {labels[bad]} at position {bad}; labels must be in [0, {classCount}).");
        }

        if (subset is not null && subset.Count > images.Count)
        {
            throw new ArgumentOutOfRangeException(
                nameof(subset), subset.Count, $"The {prefix} subset asks for {subset.Count} samples but '{imagesPath}' holds only {images.Count}.");
        }

        var full = ImageDataSet.Create(images, labels, classCount, normalization, imagesPath);
        if (subset is null)
        {
            return full;
        }

        using (full)
        {
            return full.Select(subset);
        }
    }

    private static string? FindFile(string directory, string baseName)
    {
        foreach (string candidate in new[] { baseName + ".gz", baseName })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    private static string RequireFile(string name, string directory, string baseName) =>
        FindFile(directory, baseName)
        ?? throw new FileNotFoundException(
            $"{name} file '{baseName}.gz' (or '{baseName}') not found in '{directory}'.", Path.Combine(directory, baseName + ".gz"));
}
