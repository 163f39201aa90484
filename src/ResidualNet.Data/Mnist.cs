namespace ResidualNet.Data;

/// <summary>MNIST handwritten digits (LeCun et al.), in the IDX layout: same file names as <see cref="FashionMnist"/>.</summary>
public static class Mnist
{
    /// <summary>
    /// Loads the training and test sets from <paramref name="directory"/>, normalised with
    /// <see cref="Normalization.Mnist"/> (mean 0.1307, std 0.3081).
    /// </summary>
    /// <param name="directory">The folder holding <c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>.</param>
    /// <param name="options">Optional subsets.</param>
    /// <returns>The two data sets (dispose them).</returns>
    /// <exception cref="System.IO.DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="System.IO.FileNotFoundException">One of the four files is missing.</exception>
    /// <exception cref="IdxFormatException">A file is malformed or the image and label counts differ.</exception>
    public static DataSplits Load(string directory, DataLoadOptions? options = null)
    {
        System.ArgumentException.ThrowIfNullOrEmpty(directory);
        return IdxDataSetLoader.Load("MNIST", directory, Normalization.Mnist, options);
    }
}
