using System.Collections.Generic;
using static TorchSharp.torch;

namespace ResidualNet.Diagnostics;

/// <summary>One kind of per-block value that a <see cref="GradientFlowMonitor"/> gathers during a step.</summary>
internal enum BlockSampleKind
{
    /// <summary>||dL/dx|| of one tapped block input.</summary>
    InputGradient,

    /// <summary>||dL/dy|| of one tapped block output.</summary>
    OutputGradient,

    /// <summary>Mean of the block's output.</summary>
    ActivationMean,

    /// <summary>||y|| of the block's output.</summary>
    ActivationNorm,

    /// <summary>Number of non-zero elements of the block's output.</summary>
    ActivationNonZero,
}

/// <summary>What one gathered value is: which block, which kind, and over how many elements.</summary>
/// <param name="Block">Index of the block among the monitored ones.</param>
/// <param name="Kind">The kind of value.</param>
/// <param name="Elements">Number of elements of the tensor the value summarises.</param>
internal readonly record struct BlockSample(int Block, BlockSampleKind Kind, long Elements);

/// <summary>
/// The values a monitor gathers during one step, kept as device scalars until the step is read: the scalars and
/// what each one is, in two lists whose indices always line up (value <c>i</c> is described by sample <c>i</c>).
/// Only this class changes them, so they cannot drift apart.
/// </summary>
/// <remarks>The scalars are detached from every dispose scope; <see cref="Clear"/> disposes them. Not thread-safe: the
/// monitor serialises calls.</remarks>
internal sealed class GradientFlowStepBuffer
{
    private readonly List<Tensor> _values = new();
    private readonly List<BlockSample> _samples = new();

    /// <summary>The gathered scalars (float32), in gathering order.</summary>
    public IReadOnlyList<Tensor> Values => _values;

    /// <summary>What each scalar of <see cref="Values"/> is, index for index.</summary>
    public IReadOnlyList<BlockSample> Samples => _samples;

    /// <summary>Number of gathered values.</summary>
    public int Count => _values.Count;

    /// <summary>Keeps <paramref name="scalar"/> (converted to float32) until the step is read.</summary>
    /// <returns>The kept scalar, which <see cref="KeepAgain"/> may record under another sample.</returns>
    public Tensor Keep(BlockSample sample, Tensor scalar)
    {
        var value = scalar.dtype == ScalarType.Float32 ? scalar : scalar.to_type(ScalarType.Float32);
        value.DetachFromDisposeScope();
        Add(value, sample);
        return value;
    }

    /// <summary>Records an already kept scalar a second time, under another sample (one tensor that is a block's
    /// output and the next block's input).</summary>
    public void KeepAgain(Tensor kept, BlockSample sample) => Add(kept, sample);

    /// <summary>Drops (and disposes) the values of <paramref name="block"/> whose kind is one of <paramref name="kinds"/>.</summary>
    public void Remove(int block, params BlockSampleKind[] kinds)
    {
        for (int i = _samples.Count - 1; i >= 0; i--)
        {
            if (_samples[i].Block == block && System.Array.IndexOf(kinds, _samples[i].Kind) >= 0)
            {
                _values[i].Dispose();
                _values.RemoveAt(i);
                _samples.RemoveAt(i);
            }
        }
    }

    /// <summary>Disposes every value and empties both lists.</summary>
    public void Clear()
    {
        foreach (var value in _values)
        {
            value.Dispose();   // a value kept twice is disposed twice, which is harmless
        }

        _values.Clear();
        _samples.Clear();
    }

    private void Add(Tensor value, BlockSample sample)
    {
        _values.Add(value);
        _samples.Add(sample);
    }
}
