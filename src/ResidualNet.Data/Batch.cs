using System;
using static TorchSharp.torch;

namespace ResidualNet.Data;

/// <summary>
/// One mini-batch: images (float32, N x C x H x W) and labels (int64, N). The tensors belong to no dispose scope:
/// the enumeration that produced the batch disposes them when it moves to the next batch or ends. Dispose the
/// batch earlier if you like (disposing twice is harmless); clone a tensor to keep it longer.
/// </summary>
public sealed class Batch : IDisposable
{
    private readonly Tensor _images;
    private readonly Tensor _labels;
    private bool _disposed;

    internal Batch(Tensor images, Tensor labels, int index, int epoch)
    {
        _images = images;
        _labels = labels;
        Index = index;
        Epoch = epoch;
    }

    /// <summary>Images, float32, N x C x H x W, normalised (and augmented if asked).</summary>
    public Tensor Images
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _images;
        }
    }

    /// <summary>Class labels, int64, N.</summary>
    public Tensor Labels
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _labels;
        }
    }

    /// <summary>Position of the batch in its epoch (0-based).</summary>
    public int Index { get; }

    /// <summary>The epoch the batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>Number of samples in the batch.</summary>
    public int Size => (int)_labels.shape[0];

    /// <summary>Releases the two tensors; idempotent.</summary>
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
