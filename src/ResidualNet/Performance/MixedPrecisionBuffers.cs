using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// The four flat buffers of a <see cref="MixedPrecisionTrainer"/> (issue 16 item 3): fp32 master weights, fp32 master
/// gradients, the compute model's low-precision weights and its low-precision gradients. Every parameter is a view
/// of its slice of each buffer, laid out with the parameter's own strides (so channels_last weights stay
/// channels_last), at the same offset in all four: one <c>copy_</c> moves all masters into the model, one moves all
/// gradients back, one <c>zero_</c> clears them, one reduction checks them.
/// </summary>
/// <remarks>
/// <para>
/// The compute gradients are views that autograd accumulates into in place (<c>AccumulateGrad</c> adds to an existing
/// <c>.grad</c> when grad mode is off during backward), so the backward pass writes straight into the flat buffer.
/// </para>
/// <para>
/// Offsets start after <see cref="Pad"/> elements, so no view has storage offset 0: a parameter or gradient that was
/// replaced behind the trainer's back (<c>model.zero_grad()</c> sets gradients to none; <c>ToChannelsLast</c> or
/// <c>to()</c> give parameters new storage) has offset 0 or no gradient, which <see cref="IsLinked"/> detects with
/// host-only calls; the trainer then lays the buffers out again.
/// </para>
/// </remarks>
internal sealed class MixedPrecisionBuffers : IDisposable
{
    /// <summary>Elements before the first parameter (256 bytes of fp32: keeps every buffer's start aligned).</summary>
    internal const long Pad = 64;

    private readonly long[] _offsets;
    private readonly long[][] _shapes;
    private readonly long[][] _strides;
    private readonly bool[] _trainable;

    private MixedPrecisionBuffers(Tensor masters, Tensor masterGradients, Tensor compute, Tensor computeGradients, long[] offsets, long[][] shapes, long[][] strides, bool[] trainable)
    {
        Masters = masters;
        MasterGradients = masterGradients;
        Compute = compute;
        ComputeGradients = computeGradients;
        _offsets = offsets;
        _shapes = shapes;
        _strides = strides;
        _trainable = trainable;
    }

    /// <summary>All fp32 master weights.</summary>
    public Tensor Masters { get; }

    /// <summary>All fp32 master gradients.</summary>
    public Tensor MasterGradients { get; }

    /// <summary>All low-precision weights of the compute model.</summary>
    public Tensor Compute { get; }

    /// <summary>All low-precision gradients of the compute model.</summary>
    public Tensor ComputeGradients { get; }

    /// <summary>
    /// Lays out the buffers from the compute model's parameters (their shapes and, where dense, their strides), copies
    /// <paramref name="masterValues"/> into the master buffer and re-points every master and compute parameter (and
    /// their gradients) at its views. The masters keep their Parameter objects (an optimizer over them stays valid).
    /// </summary>
    /// <param name="masters">The fp32 master parameters, index for index with <paramref name="compute"/>.</param>
    /// <param name="masterValues">The masters' values (the masters themselves, or copies).</param>
    /// <param name="compute">The compute model's parameters, all on one device and of one dtype.</param>
    public static MixedPrecisionBuffers Create(IReadOnlyList<Parameter> masters, IReadOnlyList<Tensor> masterValues, IReadOnlyList<Parameter> compute)
    {
        int count = compute.Count;
        var offsets = new long[count];
        var shapes = new long[count][];
        var strides = new long[count][];
        var trainable = new bool[count];
        long total = Pad;
        for (int i = 0; i < count; i++)
        {
            shapes[i] = compute[i].shape;
            strides[i] = IsDense(compute[i]) ? compute[i].stride() : ContiguousStrides(shapes[i]);
            offsets[i] = total;
            trainable[i] = compute[i].requires_grad;
            total += compute[i].numel();
        }

        var device = count > 0 ? compute[0].device : CPU;
        var computeType = count > 0 ? compute[0].dtype : ScalarType.BFloat16;
        using var noGrad = no_grad();
        var buffers = new MixedPrecisionBuffers(
            zeros(total, ScalarType.Float32, device).DetachFromDisposeScope(),
            zeros(total, ScalarType.Float32, device).DetachFromDisposeScope(),
            zeros(total, computeType, device).DetachFromDisposeScope(),
            zeros(total, computeType, device).DetachFromDisposeScope(),
            offsets, shapes, strides, trainable);
        for (int i = 0; i < count; i++)
        {
            using (var masterView = buffers.View(buffers.Masters, i))
            {
                masterView.copy_(masterValues[i]);
            }

            buffers.Link(masters, compute, i);
        }

        return buffers;
    }

    /// <summary>
    /// Whether every parameter still views the buffers: same count, every view at its own storage offset, every
    /// trainable one with a gradient at its offset. Host-only calls (no kernel, no synchronisation).
    /// </summary>
    public bool IsLinked(IReadOnlyList<Parameter> masters, IReadOnlyList<Parameter> compute)
    {
        if (compute.Count != _offsets.Length)
        {
            return false;
        }

        for (int i = 0; i < _offsets.Length; i++)
        {
            if (compute[i].storage_offset() != _offsets[i] || masters[i].storage_offset() != _offsets[i])
            {
                return false;
            }

            if (!_trainable[i])
            {
                continue;
            }

            using (var gradient = compute[i].grad)
            {
                if (gradient is null || gradient.IsInvalid || gradient.storage_offset() != _offsets[i])
                {
                    return false;
                }
            }

            using (var gradient = masters[i].grad)
            {
                if (gradient is null || gradient.IsInvalid || gradient.storage_offset() != _offsets[i])
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Masters.Dispose();
        MasterGradients.Dispose();
        Compute.Dispose();
        ComputeGradients.Dispose();
    }

    private void Link(IReadOnlyList<Parameter> masters, IReadOnlyList<Parameter> compute, int i)
    {
        using (var masterView = View(Masters, i))
        using (var computeView = View(Compute, i))
        {
            computeView.copy_(masterView);
            PointAt(compute[i], computeView);
            PointAt(masters[i], masterView);
        }

        if (_trainable[i])
        {
            using var computeGradient = View(ComputeGradients, i);
            using var masterGradient = View(MasterGradients, i);
            compute[i].grad = computeGradient;
            masters[i].grad = masterGradient;
        }
    }

    /// <summary><c>parameter.set_(view)</c>, disposing the result only where it is a new wrapper, not the parameter.</summary>
    private static void PointAt(Parameter parameter, Tensor view)
    {
        var result = parameter.set_(view);
        if (!ReferenceEquals(result, parameter))
        {
            result.Dispose();
        }
    }

    private Tensor View(Tensor buffer, int i) => buffer.as_strided(_shapes[i], _strides[i], _offsets[i]).DetachFromDisposeScope();

    /// <summary>Whether the tensor's elements fill exactly numel() places with positive strides (NCHW, channels_last, ...).</summary>
    private static bool IsDense(Tensor tensor)
    {
        var shape = tensor.shape;
        var stride = tensor.stride();
        var order = Enumerable.Range(0, shape.Length).Where(d => shape[d] != 1).OrderBy(d => stride[d]).ToList();
        long expected = 1;
        foreach (int d in order)
        {
            if (stride[d] != expected)
            {
                return false;
            }

            expected *= shape[d];
        }

        return true;
    }

    private static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            strides[d] = stride;
            stride *= Math.Max(1, shape[d]);
        }

        return strides;
    }
}
