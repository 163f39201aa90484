using System.Collections.Generic;

namespace ResidualNet.Data;

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60,000 training and 10,000 test grey images of 28x28 pixels in 10
/// clothing classes, in the MNIST IDX layout. Debian's <c>dataset-fashion-mnist</c> package installs the files under
/// <see cref="DefaultDirectory"/>.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package puts the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// Loads the training and test sets from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>),
    /// normalised with <see cref="Normalization.FashionMnist"/> (mean 0.2860, std 0.3530). Each of the four files may be
    /// raw or gzip (<c>train-images-idx3-ubyte.gz</c> is tried before <c>train-images-idx3-ubyte</c>).
    /// </summary>
    /// <param name="directory">The folder holding the files, or <see langword="null"/> for the default.</param>
    /// <param name="options">Optional subsets.</param>
    /// <returns>The two data sets (dispose them).</returns>
    /// <exception cref="System.IO.DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="System.IO.FileNotFoundException">One of the four files is missing.</exception>
    /// <exception cref="IdxFormatException">A file is malformed or the image and label counts differ.</exception>
    public static DataSplits Load(string? directory = null, DataLoadOptions? options = null) =>
        IdxDataSetLoader.Load("Fashion-MNIST", directory ?? DefaultDirectory, Normalization.FashionMnist, options);

    /// <summary>Whether all four Fashion-MNIST files are present in <paramref name="directory"/> (default <see cref="DefaultDirectory"/>).</summary>
    /// <param name="directory">The folder, or <see langword="null"/> for the default.</param>
    /// <returns><see langword="true"/> if the folder and the four files exist.</returns>
    public static bool Exists(string? directory = null) => IdxDataSetLoader.Exists(directory ?? DefaultDirectory);

    /// <summary>
    /// Generates a synthetic stand-in of the same shape (N x 1 x 28 x 28, 10 classes, same normalisation) for
    /// machines without the files; the result is marked <see cref="ImageDataSet.IsSynthetic"/>.
    /// </summary>
    /// <param name="trainCount">Number of training images.</param>
    /// <param name="testCount">Number of test images.</param>
    /// <param name="seed">Seed; the test set uses a derived seed.</param>
    /// <returns>The two data sets (dispose them).</returns>
    public static DataSplits CreateSynthetic(int trainCount = 6000, int testCount = 1000, int seed = 0)
    {
        var train = SyntheticImages.CreateDataSet(trainCount, seed);
        try
        {
            return new DataSplits(train, SyntheticImages.CreateDataSet(testCount, unchecked(seed + 1_000_003)));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }
}
