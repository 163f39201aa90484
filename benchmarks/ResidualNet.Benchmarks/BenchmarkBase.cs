using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>What every suite shares: the device parameter, input making, synchronisation.</summary>
public abstract class BenchmarkBase
{
    /// <summary>CPU always; CUDA only when a CUDA libtorch is loaded (TorchSharp-cuda packages).</summary>
    public static IEnumerable<string> Devices => cuda.is_available() ? new[] { "cpu", "cuda" } : new[] { "cpu" };

    /// <summary>The device parameter ("cpu" or "cuda").</summary>
    [BenchmarkDotNet.Attributes.ParamsSource(nameof(Devices))]
    public string DeviceName { get; set; } = "cpu";

    /// <summary>The TorchSharp device for <see cref="DeviceName"/>.</summary>
    protected Device Device => torch.device(DeviceName);

    /// <summary>Waits for queued GPU work so that a measurement includes it (no-op on CPU).</summary>
    protected void Synchronize()
    {
        if (Device.type == DeviceType.CUDA)
        {
            cuda.synchronize(Device);
        }
    }

    /// <summary>A seeded random batch (N, C, H, W) on the device; N is at most 2 in quick mode.</summary>
    protected Tensor RandomImages(int batch, int channels, int size)
    {
        manual_seed(1);
        return randn(QuickBatch(batch), channels, size, size, device: Device).DetachFromDisposeScope();
    }

    /// <summary>Seeded random class labels; at most 2 in quick mode.</summary>
    protected Tensor RandomLabels(int batch, int classes)
    {
        manual_seed(2);
        return randint(0, classes, QuickBatch(batch), device: Device).DetachFromDisposeScope();
    }

    // 2, not 1: BatchNorm in training needs more than one value per channel (1x1 maps at 32x32 input).
    private static int QuickBatch(int batch) => Networks.Quick ? Math.Min(batch, 2) : batch;

    /// <summary>One SGD training step of <paramref name="model"/> on (x, y); returns the loss.</summary>
    protected static float TrainingStep(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }
}
