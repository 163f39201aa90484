using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.TestSupport;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Data;

public class FashionMnistTests
{
    /// <summary>
    /// Reads the real files (Debian package dataset-fashion-mnist). Expected values were read independently with
    /// Python's gzip module: counts, per-class counts, first labels, the first image's pixel sum, pixel mean/std.
    /// Category=Data: without the package the test is skipped with the reason (failed where
    /// RESIDUALNET_REQUIRE_DATA=1; CI installs it).
    /// </summary>
    [SkippableFact]
    [Trait("Category", "Data")]
    public void RealFilesLoadWithKnownCountsLabelsAndStatistics()
    {
        TestEnvironment.RequireFashionMnist();

        using var data = FashionMnist.Load();
        using var scope = NewDisposeScope();
        data.IsSynthetic.Should().BeFalse();
        data.Train.Count.Should().Be(60000);
        data.Test.Count.Should().Be(10000);
        data.Train.Images.shape.Should().Equal(60000, 1, 28, 28);
        data.Train.Images.dtype.Should().Be(ScalarType.Float32);
        data.Train.Labels.dtype.Should().Be(ScalarType.Int64);
        data.Train.Labels.min().item<long>().Should().Be(0);
        data.Train.Labels.max().item<long>().Should().Be(9);
        data.Train.Labels[..5].data<long>().ToArray().Should().Equal(9, 0, 0, 3, 0);
        data.Test.Labels[..5].data<long>().ToArray().Should().Equal(9, 2, 1, 1, 6);
        bincount(data.Train.Labels).data<long>().ToArray().Should().AllBeEquivalentTo(6000);
        bincount(data.Test.Labels).data<long>().ToArray().Should().AllBeEquivalentTo(1000);

        // Undo the normalisation on image 0: its bytes sum to 76247.
        var bytes = data.Train.Images[0].mul(0.3530).add(0.2860).mul(255.0).round();
        bytes.sum().item<float>().Should().Be(76247f);

        // Pixel mean 0.286041 and std 0.353024 (Python) become about 0 and 1 after normalisation.
        data.Train.Images.mean().item<float>().Should().BeApproximately((0.286041f - 0.2860f) / 0.3530f, 2e-4f);
        data.Train.Images.std().item<float>().Should().BeApproximately(0.353024f / 0.3530f, 2e-4f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadsSyntheticFolderRawOrGzip(bool gzip)
    {
        using var files = new IdxTestFiles(trainCount: 30, testCount: 12, gzip: gzip);
        using var data = FashionMnist.Load(files.Directory);
        using var scope = NewDisposeScope();

        data.Train.Count.Should().Be(30);
        data.Test.Count.Should().Be(12);
        data.Train.Images.shape.Should().Equal(30, 1, 28, 28);
        data.Train.Description.Should().StartWith(files.Directory);
        var (images, labels) = SyntheticImages.Generate(30, seed: 5);
        data.Train.Labels.data<long>().ToArray().Should().Equal(labels.Select(l => (long)l));

        // Pixel byte p becomes (p / 255 - 0.2860) / 0.3530.
        byte p = images.Pixels.Span[(7 * 784) + (14 * 28) + 3];
        data.Train.Images[7, 0, 14, 3].item<float>().Should().BeApproximately((float)((p / 255.0 - 0.2860) / 0.3530), 1e-5f);
    }

    [Fact]
    public void MnistLoaderUsesMnistStatistics()
    {
        using var files = new IdxTestFiles(trainCount: 20, testCount: 10, gzip: false);
        using var data = Mnist.Load(files.Directory);
        using var scope = NewDisposeScope();
        var (images, _) = SyntheticImages.Generate(20, seed: 5);
        byte p = images.Pixels.Span[(3 * 784) + 100];

        data.Train.Normalization.Should().Be(Normalization.Mnist);
        data.Train.Images[3, 0, 3, 16].item<float>().Should().BeApproximately((float)((p / 255.0 - 0.1307) / 0.3081), 1e-5f);
        AugmentationOptions.Mnist.HorizontalFlip.Should().BeFalse();
        Normalization.Mnist.Black.Should().BeApproximately(-0.1307 / 0.3081, 1e-12);
    }

    [Fact]
    public void MissingFolderNamesTheFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "residualnet-no-such-" + Guid.NewGuid().ToString("N"));
        var act = () => FashionMnist.Load(dir);
        act.Should().Throw<DirectoryNotFoundException>().WithMessage($"*'{dir}' does not exist*");
        FashionMnist.Exists(dir).Should().BeFalse();
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        using var files = new IdxTestFiles(gzip: true);
        File.Delete(files.PathOf("t10k-labels-idx1-ubyte.gz"));
        FashionMnist.Exists(files.Directory).Should().BeFalse();

        var act = () => FashionMnist.Load(files.Directory);

        act.Should().Throw<FileNotFoundException>()
            .WithMessage($"*'t10k-labels-idx1-ubyte.gz' (or 't10k-labels-idx1-ubyte') not found in '{files.Directory}'*");
    }

    [Fact]
    public void DifferentImageAndLabelCountsAreRejected()
    {
        using var files = new IdxTestFiles(trainCount: 20, gzip: false);
        IdxFile.WriteLabels(files.PathOf("train-labels-idx1-ubyte"), new byte[19], gzip: false);

        var act = () => FashionMnist.Load(files.Directory);

        act.Should().Throw<IdxFormatException>()
            .WithMessage($"*'{files.PathOf("train-images-idx3-ubyte")}' holds 20 images but label file '{files.PathOf("train-labels-idx1-ubyte")}' holds 19 labels*");
    }

    [Fact]
    public void LabelOutsideTenClassesIsRejected()
    {
        using var files = new IdxTestFiles(trainCount: 20, gzip: false);
        var labels = new byte[20];
        labels[13] = 200;
        IdxFile.WriteLabels(files.PathOf("train-labels-idx1-ubyte"), labels, gzip: false);

        var act = () => FashionMnist.Load(files.Directory);

        act.Should().Throw<IdxFormatException>().WithMessage("*label 200 at position 13*");
    }

    [Fact]
    public void SubsetsTakeFirstOrSeededRandomSamples()
    {
        using var files = new IdxTestFiles(trainCount: 100, testCount: 40);
        using var full = FashionMnist.Load(files.Directory);
        using var first = FashionMnist.Load(files.Directory, new DataLoadOptions { TrainSubset = Subset.First(10), TestSubset = Subset.First(5) });
        using var random1 = FashionMnist.Load(files.Directory, new DataLoadOptions { TrainSubset = Subset.Random(10, 7) });
        using var random2 = FashionMnist.Load(files.Directory, new DataLoadOptions { TrainSubset = Subset.Random(10, 7) });
        using var random3 = FashionMnist.Load(files.Directory, new DataLoadOptions { TrainSubset = Subset.Random(10, 8) });
        using var scope = NewDisposeScope();

        first.Train.Count.Should().Be(10);
        first.Test.Count.Should().Be(5);
        TensorCompare.Identical(first.Train.Images, full.Train.Images[..10]).Should().BeTrue();
        random3.Test.Count.Should().Be(40);
        TensorCompare.Identical(random1.Train.Images, random2.Train.Images).Should().BeTrue();
        TensorCompare.Identical(random1.Train.Images, random3.Train.Images).Should().BeFalse();

        // Every random pick is one of the full set's images (found by exact match).
        for (int i = 0; i < 10; i++)
        {
            var diff = (full.Train.Images - random1.Train.Images[i]).abs().flatten(1).sum(1);
            diff.min().item<float>().Should().Be(0f);
        }

        var act = () => FashionMnist.Load(files.Directory, new DataLoadOptions { TrainSubset = Subset.First(101) });
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*101*holds only 100*");
    }

    [Fact]
    public void SyntheticStandInHasTheSameShapeAndIsSeeded()
    {
        using var a = FashionMnist.CreateSynthetic(200, 50, seed: 3);
        using var b = FashionMnist.CreateSynthetic(200, 50, seed: 3);
        using var c = FashionMnist.CreateSynthetic(200, 50, seed: 4);
        using var scope = NewDisposeScope();

        a.IsSynthetic.Should().BeTrue();
        a.Train.Images.shape.Should().Equal(200, 1, 28, 28);
        a.Test.Labels.shape.Should().Equal(50);
        a.Train.ClassCount.Should().Be(10);
        TensorCompare.Identical(a.Train.Images, b.Train.Images).Should().BeTrue();
        TensorCompare.Identical(a.Train.Images, c.Train.Images).Should().BeFalse();
        TensorCompare.Identical(a.Train.Images[..50], a.Test.Images).Should().BeFalse();
        bincount(a.Train.Labels, minlength: 10).data<long>().ToArray().Should().OnlyContain(n => n >= 5);
    }

    [Fact]
    public void DisposedDataSetThrowsObjectDisposed()
    {
        var data = SyntheticImages.CreateDataSet(10, seed: 1);
        data.Dispose();
        data.Dispose();
        var act = () => data.Images;
        act.Should().Throw<ObjectDisposedException>();
    }
}
