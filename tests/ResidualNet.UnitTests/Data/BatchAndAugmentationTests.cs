using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using ResidualNet.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Data;

public class BatchAndAugmentationTests
{
    [Fact]
    public void EpochVisitsEverySampleOnceInASeededOrder()
    {
        using var data = IndexedDataSet(103);
        var options = new BatchOptions { BatchSize = 10, Seed = 11 };

        var order0 = Visit(data, options, epoch: 0);
        var again0 = Visit(data, options, epoch: 0);
        var order1 = Visit(data, options, epoch: 1);
        var otherSeed = Visit(data, options with { Seed = 12 }, epoch: 0);
        var sequential = Visit(data, options with { Shuffle = false }, epoch: 0);

        order0.Should().HaveCount(103).And.OnlyHaveUniqueItems();
        order0.Order().Should().Equal(Enumerable.Range(0, 103));
        again0.Should().Equal(order0);
        order1.Should().NotEqual(order0);
        otherSeed.Should().NotEqual(order0);
        sequential.Should().Equal(Enumerable.Range(0, 103));
        data.BatchCount(10).Should().Be(11);
        data.BatchCount(10, dropLast: true).Should().Be(10);
        Visit(data, options with { DropLast = true }, epoch: 0).Should().HaveCount(100);
    }

    [Fact]
    public void ResumingAtABatchReproducesTheRestOfTheEpochIncludingAugmentation()
    {
        using var data = SyntheticImages.CreateDataSet(64, seed: 3);
        var options = new BatchOptions { BatchSize = 8, Seed = 5, Augmentation = AugmentationOptions.FashionMnist };
        var full = data.GetBatches(options, epoch: 2).Select(b => b.Images.clone()).ToList();
        var resumed = data.GetBatches(options, epoch: 2, startBatch: 5).Select(b => b.Images.clone()).ToList();

        resumed.Should().HaveCount(3);
        for (int i = 0; i < 3; i++)
        {
            TensorCompare.Identical(resumed[i], full[i + 5]).Should().BeTrue();
        }

        foreach (var t in full.Concat(resumed))
        {
            t.Dispose();
        }
    }

    [Fact]
    public void RandomCropIsAPerSampleShiftWithinThePadding()
    {
        const int n = 400, h = 6, w = 5, pad = 2;
        using var scope = NewDisposeScope();
        var images = arange(n * 2 * h * w, ScalarType.Float32).view(n, 2, h, w).add(1);
        using var generator = new Generator(42);

        var cropped = TensorAugmentation.RandomCrop(images, pad, fillValue: -7, generator);

        cropped.shape.Should().Equal(n, 2, h, w);
        var seen = new HashSet<(int, int)>();
        float[] src = images.data<float>().ToArray();
        float[] dst = cropped.data<float>().ToArray();
        for (int s = 0; s < n; s++)
        {
            var match = FindShift(src, dst, s, 2, h, w, pad, -7);
            match.Should().NotBeNull($"sample {s} must be its input shifted by at most {pad} pixels");
            seen.Add(match!.Value);
        }

        seen.Should().HaveCount(25, "with 400 samples every offset in [-2, 2] x [-2, 2] occurs");
    }

    [Fact]
    public void FlipProbabilityIsHonouredPerSample()
    {
        using var scope = NewDisposeScope();
        var images = randn(1000, 1, 4, 4);
        using var g1 = new Generator(1);
        using var g2 = new Generator(2);
        using var g3 = new Generator(3);

        TensorCompare.Identical(TensorAugmentation.RandomHorizontalFlip(images, 1.0, g1), images.flip(3)).Should().BeTrue();
        TensorCompare.Identical(TensorAugmentation.RandomHorizontalFlip(images, 0.0, g2), images).Should().BeTrue();

        var half = TensorAugmentation.RandomHorizontalFlip(images, 0.5, g3);
        var flipped = half.eq(images.flip(3)).flatten(1).all(1);
        var kept = half.eq(images).flatten(1).all(1);
        (flipped | kept).all().item<bool>().Should().BeTrue("each sample is either flipped or untouched");
        long flips = flipped.sum().item<long>();
        flips.Should().BeInRange(430, 570);
    }

    [Fact]
    public void AugmentationIsDeterministicForASeed()
    {
        using var data = SyntheticImages.CreateDataSet(32, seed: 1);
        var options = new BatchOptions { BatchSize = 32, Shuffle = false, Seed = 9, Augmentation = new AugmentationOptions { Padding = 4 } };
        using var a = OnlyBatch(data, options);
        using var b = OnlyBatch(data, options);
        using var c = OnlyBatch(data, options with { Seed = 10 });
        using var plain = OnlyBatch(data, options with { Augmentation = null });

        a.shape.Should().Equal(32, 1, 28, 28);
        TensorCompare.Identical(a, b).Should().BeTrue();
        TensorCompare.Identical(a, c).Should().BeFalse();
        TensorCompare.Identical(a, plain).Should().BeFalse();
        TensorCompare.Identical(plain, data.Images).Should().BeTrue();
    }

    [Fact]
    public void BadArgumentsNameParameterAndValue()
    {
        using var data = SyntheticImages.CreateDataSet(10, seed: 1);
        using var images = zeros(2, 1, 4, 4);
        using var g = new Generator(1);
        ((Action)(() => TensorAugmentation.RandomCrop(images, -1, 0, g))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*padding*-1*");
        ((Action)(() => TensorAugmentation.RandomHorizontalFlip(images, 1.5, g))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*probability*1.5*");
        ((Action)(() => TensorAugmentation.RandomCrop(zeros(4, 4), 1, 0, g))).Should().Throw<ArgumentException>().WithMessage("*[4, 4]*");
        ((Action)(() => data.GetBatches(new BatchOptions { BatchSize = 0 }))).Should().Throw<ArgumentOutOfRangeException>()
            .WithParameterName("BatchSize").WithMessage("*BatchSize*0*");
        ((Action)(() => data.GetBatches(new BatchOptions { Augmentation = new AugmentationOptions { Padding = -2 } }))).Should()
            .Throw<ArgumentOutOfRangeException>().WithParameterName("Padding").WithMessage("*Padding*-2*");
        ((Action)(() => TensorAugmentation.Apply(images, new AugmentationOptions { FlipProbability = 2 }, 0, g))).Should()
            .Throw<ArgumentOutOfRangeException>().WithParameterName("FlipProbability").WithMessage("*FlipProbability*2*");
        ((Action)(() => data.GetBatches(new BatchOptions(), startBatch: 5))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*startBatch*5*");
        ((Action)(() => data.Take(11))).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*count*11*");
    }

    [Fact]
    public void ManyBatchesLeakNoTensors()
    {
        using var data = SyntheticImages.CreateDataSet(256, seed: 4);
        var options = new BatchOptions { BatchSize = 16, Seed = 3, Augmentation = AugmentationOptions.FashionMnist };

        // Warm up once so lazily created TorchSharp internals are not counted.
        foreach (var batch in data.GetBatches(options))
        {
        }

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long peakDuring = 0;
        for (int epoch = 0; epoch < 15; epoch++)
        {
            foreach (var batch in data.GetBatches(options, epoch))
            {
                using var scope = NewDisposeScope();
                var loss = batch.Images.mean() + batch.Labels.to_type(ScalarType.Float32).mean();
                _ = loss.item<float>();
                peakDuring = Math.Max(peakDuring, DisposeScopeManager.Statistics.ThreadTotalLiveCount - before);
            }
        }

        // An outer scope around an interrupted loop must not end up owning batch tensors either.
        using (var outer = NewDisposeScope())
        {
            foreach (var batch in data.GetBatches(options).Take(3))
            {
                _ = batch.Images.sum().item<float>();
            }
        }

        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(before, "240 batches must release every tensor");
        peakDuring.Should().BeLessThan(10, "only the current batch, the order and the loop's own tensors are alive");
    }

    /// <summary>A data set whose image i stores i in its first two pixels (i % 256, i / 256).</summary>
    private static ImageDataSet IndexedDataSet(int count)
    {
        byte[] pixels = new byte[count * 784];
        for (int i = 0; i < count; i++)
        {
            pixels[i * 784] = (byte)(i % 256);
            pixels[(i * 784) + 1] = (byte)(i / 256);
        }

        return ImageDataSet.Create(new IdxImages(pixels, count, 28, 28), new byte[count], 10, Normalization.None, "indexed");
    }

    private static List<int> Visit(ImageDataSet data, BatchOptions options, int epoch)
    {
        var order = new List<int>();
        foreach (var batch in data.GetBatches(options, epoch))
        {
            using var scope = NewDisposeScope();
            var flat = batch.Images.flatten(1).mul(255.0).round();
            var index = flat[.., 0] + (flat[.., 1] * 256);
            order.AddRange(index.data<float>().ToArray().Select(v => (int)v));
        }

        return order;
    }

    private static Tensor OnlyBatch(ImageDataSet data, BatchOptions options)
    {
        Tensor? result = null;
        foreach (var batch in data.GetBatches(options))
        {
            result.Should().BeNull("a single batch is expected");
            result = batch.Images.clone();
        }

        return result!;
    }

    private static (int, int)? FindShift(float[] src, float[] dst, int s, int c, int h, int w, int pad, float fill)
    {
        for (int dy = -pad; dy <= pad; dy++)
        {
            for (int dx = -pad; dx <= pad; dx++)
            {
                bool ok = true;
                for (int ch = 0; ch < c && ok; ch++)
                {
                    for (int y = 0; y < h && ok; y++)
                    {
                        for (int x = 0; x < w && ok; x++)
                        {
                            int sy = y + dy, sx = x + dx;
                            float expected = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(((s * c) + ch) * h + sy) * w + sx] : fill;
                            ok = dst[(((s * c) + ch) * h + y) * w + x] == expected;
                        }
                    }
                }

                if (ok)
                {
                    return (dy, dx);
                }
            }
        }

        return null;
    }
}
