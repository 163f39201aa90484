using System;
using System.IO;
using ResidualNet.Data;

namespace ResidualNet.UnitTests.Data;

/// <summary>A temporary folder with synthetic IDX files in the Fashion-MNIST layout, deleted on dispose.</summary>
internal sealed class IdxTestFiles : IDisposable
{
    public IdxTestFiles(int trainCount = 100, int testCount = 40, bool gzip = true, int seed = 5)
    {
        Directory = Path.Combine(Path.GetTempPath(), "residualnet-idx-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Write("train", trainCount, seed, gzip);
        Write("t10k", testCount, seed + 1, gzip);
    }

    public string Directory { get; }

    public string Suffix(bool gzip) => gzip ? ".gz" : string.Empty;

    public string PathOf(string name) => Path.Combine(Directory, name);

    public void Write(string prefix, int count, int seed, bool gzip)
    {
        var (images, labels) = SyntheticImages.Generate(count, seed);
        foreach (var stale in System.IO.Directory.GetFiles(Directory, prefix + "-*"))
        {
            File.Delete(stale);
        }

        IdxFile.WriteImages(PathOf($"{prefix}-images-idx3-ubyte{Suffix(gzip)}"), images, gzip);
        IdxFile.WriteLabels(PathOf($"{prefix}-labels-idx1-ubyte{Suffix(gzip)}"), labels, gzip);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
