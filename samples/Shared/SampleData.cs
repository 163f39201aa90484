using System.IO;
using ResidualNet.Data;

namespace ResidualNet.Samples;

/// <summary>How the samples find their data.</summary>
public static class SampleData
{
    /// <summary>
    /// Loads Fashion-MNIST from <paramref name="dataDirectory"/> when given (a missing or broken folder is an error),
    /// else from <see cref="FashionMnist.DefaultDirectory"/>; when that does not exist either, says so on
    /// <paramref name="log"/> and returns generated stand-in data of the same shape.
    /// </summary>
    /// <param name="dataDirectory">The <c>--data</c> option, or <see langword="null"/>.</param>
    /// <param name="trainSubset">How many training images to keep (first N after a seeded shuffle), or null for all.</param>
    /// <param name="testSubset">How many test images to keep, or null for all.</param>
    /// <param name="seed">Seed of the subsets and of generated data.</param>
    /// <param name="log">Where to report what was loaded.</param>
    /// <param name="clampSubsets">Use all images when a subset is larger than the data (quick modes) instead of failing.</param>
    /// <returns>Training and test sets.</returns>
    public static DataSplits Load(string? dataDirectory, int? trainSubset, int? testSubset, long seed, TextWriter log, bool clampSubsets = false) =>
        Load(dataDirectory, trainSubset, testSubset, seed, log, clampSubsets, FashionMnist.DefaultDirectory);

    /// <summary>As the public overload, with the fallback folder given (tests point it at a folder that does not exist).</summary>
    internal static DataSplits Load(string? dataDirectory, int? trainSubset, int? testSubset, long seed, TextWriter log, bool clampSubsets, string defaultDirectory)
    {
        System.ArgumentNullException.ThrowIfNull(log);
        if (dataDirectory is null && !Directory.Exists(defaultDirectory))
        {
            int trainCount = trainSubset ?? 6000, testCount = testSubset ?? 1000;
            log.WriteLine(
                $"Fashion-MNIST not found: no --data given and '{defaultDirectory}' does not exist (Debian: apt install dataset-fashion-mnist).");
            log.WriteLine($"Using GENERATED stand-in data instead ({trainCount} training, {testCount} test images of 28x28, 10 classes); numbers below are not Fashion-MNIST results.");
            return FashionMnist.CreateSynthetic(trainCount, testCount, (int)(seed % int.MaxValue));
        }

        string directory = dataDirectory ?? defaultDirectory;
        var data = FashionMnist.Load(directory);
        try
        {
            var train = Shrink(data.Train, trainSubset, seed, clampSubsets, "--subset", "training");
            var test = Shrink(data.Test, testSubset, seed + 1, clampSubsets, "--test-subset", "test");
            if (!ReferenceEquals(train, data.Train) || !ReferenceEquals(test, data.Test))
            {
                if (!ReferenceEquals(train, data.Train))
                {
                    data.Train.Dispose();
                }

                if (!ReferenceEquals(test, data.Test))
                {
                    data.Test.Dispose();
                }

                data = new DataSplits(train, test);
            }
        }
        catch
        {
            data.Dispose();
            throw;
        }

        log.WriteLine($"Fashion-MNIST from '{directory}': {data.Train.Count} training, {data.Test.Count} test images.");
        return data;
    }

    private static ImageDataSet Shrink(ImageDataSet set, int? subset, long seed, bool clamp, string option, string what)
    {
        if (subset is not int count || count == set.Count)
        {
            return set;
        }

        if (count > set.Count)
        {
            if (clamp)
            {
                return set;
            }

            throw new UsageException($"{option} {count} is larger than the {set.Count} {what} images in '{set.Description}'.");
        }

        return set.RandomSubset(count, seed);
    }
}
