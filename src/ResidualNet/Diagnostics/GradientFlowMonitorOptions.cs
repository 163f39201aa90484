using System;
using static TorchSharp.torch.nn;

namespace ResidualNet.Diagnostics;

/// <summary>What a <see cref="GradientFlowMonitor"/> records, and how often. Immutable; use <c>with</c> for variants.</summary>
public sealed record GradientFlowMonitorOptions
{
    /// <summary>Record every <c>Interval</c>-th step (steps 0, N, 2N, ...). Default 1 (every step). Must be at least 1.</summary>
    public int Interval { get; init; } = 1;

    /// <summary>Per parameter: gradient L2 norm, mean |g|, max |g|, NaN/Inf count. Default true.</summary>
    public bool TrackParameters { get; init; } = true;

    /// <summary>Per block: the norm of dL/dx at the block's input and output. Default true.</summary>
    public bool TrackBlockGradients { get; init; } = true;

    /// <summary>Per block: mean, standard deviation and fraction of exact zeros of the block's output. Default true.</summary>
    public bool TrackActivations { get; init; } = true;

    /// <summary>
    /// Per parameter: ||w_after - w_before|| / ||w_before|| across the optimizer step that follows
    /// <see cref="GradientFlowMonitor.RecordStep"/> (call <see cref="GradientFlowMonitor.RecordUpdate"/> after it).
    /// Costs one copy of the parameters per recorded step. Default false.
    /// </summary>
    public bool TrackUpdateRatio { get; init; }

    /// <summary>
    /// Chooses the blocks, given each submodule's qualified name (as in <c>named_modules()</c>). Default null: the
    /// modules implementing <see cref="Blocks.IResidualBlock"/>, or, when the model has none, its direct children.
    /// Only modules of type <c>Module&lt;Tensor, Tensor&gt;</c> can be hooked; others are skipped.
    /// </summary>
    public Func<string, Module, bool>? BlockSelector { get; init; }

    /// <summary>How many recorded steps <see cref="GradientFlowMonitor.Steps"/> keeps (oldest dropped first). Default 10,000.</summary>
    public int HistoryLimit { get; init; } = 10_000;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (Interval < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, $"Interval must be at least 1; got {Interval}.");
        }

        if (HistoryLimit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(HistoryLimit), HistoryLimit, $"HistoryLimit must be at least 1; got {HistoryLimit}.");
        }
    }
}
