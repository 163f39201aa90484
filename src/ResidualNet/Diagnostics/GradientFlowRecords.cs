using System;
using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace ResidualNet.Diagnostics;

/// <summary>Gradient statistics of one parameter at one recorded step.</summary>
/// <param name="Name">Qualified parameter name, as in <c>named_parameters()</c>.</param>
/// <param name="Depth">Position in registration order (0 = first parameter).</param>
/// <param name="Elements">Number of elements.</param>
/// <param name="L2Norm">||g||₂ (NaN when the parameter had no gradient).</param>
/// <param name="MeanAbs">mean |g|.</param>
/// <param name="MaxAbs">max |g|.</param>
/// <param name="NonFiniteCount">Number of NaN or infinite gradient elements.</param>
public sealed record ParameterGradientStats(string Name, int Depth, long Elements, double L2Norm, double MeanAbs, double MaxAbs, long NonFiniteCount)
{
    /// <summary>
    /// ||w_after - w_before|| / ||w_before|| across the optimizer step, when
    /// <see cref="GradientFlowMonitorOptions.TrackUpdateRatio"/> is on and <see cref="GradientFlowMonitor.RecordUpdate"/>
    /// was called; otherwise null. Infinite for a parameter that was all zeros.
    /// </summary>
    public double? UpdateToWeightRatio { get; init; }

    /// <summary>Whether the parameter is a weight matrix or kernel (two or more dimensions), as opposed to a bias or norm scale.</summary>
    public bool IsWeight { get; init; }
}

/// <summary>Forward activation statistics of a block's output.</summary>
/// <param name="Mean">Mean of the output.</param>
/// <param name="Std">Standard deviation (unbiased) of the output.</param>
/// <param name="ZeroFraction">Fraction of output elements exactly zero (dead units after ReLU).</param>
public sealed record ActivationStats(double Mean, double Std, double ZeroFraction);

/// <summary>Gradient-flow statistics of one block at one recorded step.</summary>
/// <param name="Name">Qualified module name.</param>
/// <param name="Depth">Position among the monitored blocks (0 = first).</param>
/// <param name="InputGradientNorm">||dL/dx|| at the block's input; null when the input did not require grad (the network's raw input).</param>
/// <param name="OutputGradientNorm">||dL/dy|| at the block's output; null when no gradient reached it.</param>
/// <param name="Activation">Statistics of the block's output in the forward pass; null when not tracked.</param>
/// <remarks>
/// For a block called several times in one step, norms combine as the root of the sum of squares over its calls.
/// When a block's input is the previous block's output passed on as is (a chain, as in <c>Sequential</c>), both are
/// one tensor and its input norm is that tensor's ||dL/dx|| (one autograd node serves both); otherwise it is the
/// gradient that flows back through the block alone, as in PyTorch's full backward hooks.
/// </remarks>
public sealed record BlockGradientStats(string Name, int Depth, double? InputGradientNorm, double? OutputGradientNorm, ActivationStats? Activation)
{
    /// <summary>
    /// Whether the block's output had its input's shape in the recorded step (a block inside a stage), as opposed to
    /// a block that changes the resolution or the channels (a downsampling block); null when the block was not
    /// called. <see cref="GradientFlowAnalysis.BlockGains"/> compares input and output gradients only where it is true.
    /// </summary>
    public bool? KeepsShape { get; init; }
}

/// <summary>Everything a <see cref="GradientFlowMonitor"/> recorded for one step.</summary>
/// <param name="Step">Index of the step (0-based count of <see cref="GradientFlowMonitor.RecordStep"/> calls).</param>
/// <param name="Parameters">Per-parameter statistics, in registration order.</param>
/// <param name="Blocks">Per-block statistics, in registration order.</param>
public sealed record GradientFlowStep(int Step, IReadOnlyList<ParameterGradientStats> Parameters, IReadOnlyList<BlockGradientStats> Blocks)
{
    /// <summary>
    /// Exceptions raised while the monitor computed statistics inside this step's backward (they cannot cross
    /// libtorch, so they are caught there and reported here); empty when all went well. A block whose gradient
    /// statistic failed lacks that norm. Not written to JSON or CSV.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<Exception> Errors { get; init; } = [];
}
