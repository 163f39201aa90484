using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Data;

/// <summary>
/// A labelled set of grey images held as two tensors: <see cref="Images"/> (float32, N x 1 x H x W, normalised) and
/// <see cref="Labels"/> (int64, N). Cut it into seeded mini-batches with
/// <see cref="GetBatches(BatchOptions, int, int)"/>. Owns its tensors: dispose it when done.
/// </summary>
public sealed class ImageDataSet : IDisposable
{
    private readonly Tensor _images;
    private readonly Tensor _labels;
    private bool _disposed;

    private ImageDataSet(Tensor images, Tensor labels, int classCount, Normalization normalization, string description, bool isSynthetic)
    {
        _images = images.DetachFromDisposeScope();
        _labels = labels.DetachFromDisposeScope();
        ClassCount = classCount;
        Normalization = normalization;
        Description = description;
        IsSynthetic = isSynthetic;
    }

    /// <summary>Images, float32, N x 1 x H x W, normalised with <see cref="Normalization"/>.</summary>
    public Tensor Images
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _images;
        }
    }

    /// <summary>Class labels, int64, N, each in [0, <see cref="ClassCount"/>).</summary>
    public Tensor Labels
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _labels;
        }
    }

    /// <summary>Number of samples.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>Image height in pixels.</summary>
    public int Height => (int)Images.shape[2];

    /// <summary>Image width in pixels.</summary>
    public int Width => (int)Images.shape[3];

    /// <summary>Number of classes (labels lie in [0, ClassCount)).</summary>
    public int ClassCount { get; }

    /// <summary>The normalisation applied to the pixels.</summary>
    public Normalization Normalization { get; }

    /// <summary>Where the data came from, for messages (for example the image file's path).</summary>
    public string Description { get; }

    /// <summary>Whether the data is generated (see <see cref="SyntheticImages"/>) rather than read from files.</summary>
    public bool IsSynthetic { get; }

    /// <summary>Builds a data set from IDX content: pixels become <c>(p / 255 - mean) / std</c>.</summary>
    /// <param name="images">The images.</param>
    /// <param name="labels">One label per image.</param>
    /// <param name="classCount">Number of classes; every label must be below it.</param>
    /// <param name="normalization">Normalisation to apply.</param>
    /// <param name="description">Where the data came from, for messages.</param>
    /// <param name="isSynthetic">Whether the data is generated.</param>
    /// <returns>The data set.</returns>
    /// <exception cref="ArgumentException">The counts differ or a label is out of range.</exception>
    public static ImageDataSet Create(
        IdxImages images,
        ReadOnlySpan<byte> labels,
        int classCount,
        Normalization normalization,
        string description,
        bool isSynthetic = false)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(normalization);
        ArgumentNullException.ThrowIfNull(description);
        normalization.Validate();
        if (classCount is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, $"{nameof(classCount)} must be in [1, 256]; got {classCount}.");
        }

        if (labels.Length != images.Count)
        {
            throw new ArgumentException($"{nameof(labels)} must hold one label per image ({images.Count}); got {labels.Length}.", nameof(labels));
        }

        int bad = FindLabelAtOrAbove(labels, classCount);
        if (bad >= 0)
        {
            throw new ArgumentException($"{nameof(labels)}[{bad}] is {labels[bad]}, outside [0, {classCount}).", nameof(labels));
        }

        byte[] pixelArray = MemoryMarshal.TryGetArray(images.Pixels, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : images.Pixels.ToArray();
        using var scope = NewDisposeScope();
        var raw = tensor(pixelArray, [images.Count, 1, images.Rows, images.Columns]);
        var pixels = raw.to_type(ScalarType.Float32).div_(255.0).sub_(normalization.Mean).div_(normalization.StandardDeviation);
        var labelTensor = tensor(labels.ToArray(), [labels.Length]).to_type(ScalarType.Int64);
        return new ImageDataSet(pixels, labelTensor, classCount, normalization, description, isSynthetic);
    }

    /// <summary>Returns the position of the first label that is not below <paramref name="classCount"/>, or -1.</summary>
    internal static int FindLabelAtOrAbove(ReadOnlySpan<byte> labels, int classCount)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A copy holding the first <paramref name="count"/> samples.</summary>
    /// <param name="count">Number of samples, in [1, <see cref="Count"/>].</param>
    /// <returns>A new data set (dispose it too).</returns>
    public ImageDataSet Take(int count)
    {
        CheckSubsetCount(count);
        using var scope = NewDisposeScope();
        return new ImageDataSet(
            Images.narrow(0, 0, count).clone(), Labels.narrow(0, 0, count).clone(), ClassCount, Normalization, Description, IsSynthetic);
    }

    /// <summary>A copy holding <paramref name="count"/> samples chosen at random without replacement (kept in file order).</summary>
    /// <param name="count">Number of samples, in [1, <see cref="Count"/>].</param>
    /// <param name="seed">The seed; the same seed picks the same samples.</param>
    /// <returns>A new data set (dispose it too).</returns>
    public ImageDataSet RandomSubset(int count, long seed)
    {
        CheckSubsetCount(count);
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed));
        var (index, _) = randperm(Count, generator: generator).narrow(0, 0, count).sort();
        return new ImageDataSet(
            Images.index_select(0, index), Labels.index_select(0, index), ClassCount, Normalization, Description, IsSynthetic);
    }

    /// <summary>Applies a <see cref="Subset"/>: <see cref="Take"/> or <see cref="RandomSubset"/>.</summary>
    /// <param name="subset">The subset to keep.</param>
    /// <returns>A new data set (dispose it too).</returns>
    public ImageDataSet Select(Subset subset)
    {
        ArgumentNullException.ThrowIfNull(subset);
        return subset.Seed is long seed ? RandomSubset(subset.Count, seed) : Take(subset.Count);
    }

    /// <summary>Number of batches one epoch yields.</summary>
    /// <param name="batchSize">Samples per batch, 1 or more.</param>
    /// <param name="dropLast">Whether a last, smaller batch is dropped.</param>
    /// <returns>The number of batches.</returns>
    public int BatchCount(int batchSize, bool dropLast = false)
    {
        if (batchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"{nameof(batchSize)} must be 1 or more; got {batchSize}.");
        }

        return dropLast ? Count / batchSize : (Count + batchSize - 1) / batchSize;
    }

    /// <summary>
    /// Enumerates the mini-batches of one epoch. The order (when shuffling) depends only on
    /// (<see cref="BatchOptions.Seed"/>, <paramref name="epoch"/>) and each batch's augmentation only on
    /// (seed, epoch, batch index), so skipping to <paramref name="startBatch"/> reproduces an interrupted epoch exactly.
    /// </summary>
    /// <param name="options">Batch size, shuffling, seed, augmentation.</param>
    /// <param name="epoch">The epoch number (0 or more), mixed into the seed.</param>
    /// <param name="startBatch">First batch to produce (to resume an epoch); 0 for all.</param>
    /// <returns>
    /// The batches. Each batch's tensors belong to no dispose scope (so a scope opened by the caller inside the
    /// loop does not take them, and one around the loop does not collect them); the enumerator disposes each batch
    /// when it moves on and when the enumeration ends.
    /// </returns>
    public IEnumerable<Batch> GetBatches(BatchOptions options, int epoch = 0, int startBatch = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (epoch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"{nameof(epoch)} must be 0 or more; got {epoch}.");
        }

        int batches = BatchCount(options.BatchSize, options.DropLast);
        if (startBatch < 0 || startBatch > batches)
        {
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"{nameof(startBatch)} must be in [0, {batches}]; got {startBatch}.");
        }

        return Enumerate(options, epoch, startBatch, batches);
    }

    private IEnumerable<Batch> Enumerate(BatchOptions options, int epoch, int startBatch, int batches)
    {
        Tensor order = CreateOrder(options, epoch);
        Batch? current = null;
        try
        {
            for (int b = startBatch; b < batches; b++)
            {
                current?.Dispose();
                current = CreateBatch(order, options, epoch, b);
                yield return current;
            }
        }
        finally
        {
            current?.Dispose();
            order.Dispose();
        }
    }

    private Tensor CreateOrder(BatchOptions options, int epoch)
    {
        using var scope = NewDisposeScope();
        Tensor order;
        if (options.Shuffle)
        {
            using var generator = new Generator(SeedMixer.Mix(options.Seed, epoch, -1));
            order = randperm(Count, generator: generator);
        }
        else
        {
            order = arange(Count, ScalarType.Int64);
        }

        return order.DetachFromDisposeScope();
    }

    private Batch CreateBatch(Tensor order, BatchOptions options, int epoch, int index)
    {
        using var scope = NewDisposeScope();
        int start = index * options.BatchSize;
        int size = Math.Min(options.BatchSize, Count - start);
        var picked = order.narrow(0, start, size);
        var images = Images.index_select(0, picked);
        var labels = Labels.index_select(0, picked);
        if (options.Augmentation is { } augmentation)
        {
            using var generator = new Generator(SeedMixer.Mix(options.Seed, epoch, index));
            images = TensorAugmentation.Apply(images, augmentation, Normalization.Black, generator);
        }

        return new Batch(images.DetachFromDisposeScope(), labels.DetachFromDisposeScope(), index, epoch);
    }

    private void CheckSubsetCount(int count)
    {
        if (count < 1 || count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{nameof(count)} must be in [1, {Count}] (the data set's size); got {count}.");
        }
    }

    /// <summary>Releases the tensors; idempotent. Other members throw <see cref="ObjectDisposedException"/> afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _images.Dispose();
        _labels.Dispose();
    }
}
