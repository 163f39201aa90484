using System;
using System.Collections.Generic;
using System.Linq;

namespace ResidualNet.Diagnostics;

/// <summary>Which gradient norms form the depth profile that <see cref="GradientFlowAnalysis"/> judges.</summary>
public enum GradientProfileSource
{
    /// <summary>
    /// ||dL/dx|| at each block's input (the founding document's quantity); blocks without one (the first block when
    /// it receives the raw input) are left out. Falls back to <see cref="Weights"/> when no block has a value.
    /// </summary>
    BlockInputs,

    /// <summary>||dL/dW|| of every weight (parameters with two or more dimensions) in registration order.</summary>
    Weights,
}

/// <summary>Thresholds of <see cref="GradientFlowAnalysis"/>. Immutable; use <c>with</c> for variants.</summary>
public sealed record GradientFlowThresholds
{
    /// <summary>
    /// First-to-last ratio below which the gradient is called vanishing. Default 0.01: the first layers get less
    /// than a hundredth of the last layers' gradient, two orders of magnitude.
    /// </summary>
    public double VanishingRatio { get; init; } = 1e-2;

    /// <summary>First-to-last ratio above which the gradient is called exploding. Default 100 (two orders of magnitude).</summary>
    public double ExplodingRatio { get; init; } = 1e2;

    /// <summary>Which norms form the profile. Default <see cref="GradientProfileSource.BlockInputs"/>.</summary>
    public GradientProfileSource Source { get; init; } = GradientProfileSource.BlockInputs;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (!(VanishingRatio > 0) || double.IsInfinity(VanishingRatio))
        {
            throw new ArgumentOutOfRangeException(nameof(VanishingRatio), VanishingRatio, $"VanishingRatio must be positive and finite; got {VanishingRatio}.");
        }

        if (!(ExplodingRatio > VanishingRatio) || double.IsInfinity(ExplodingRatio))
        {
            throw new ArgumentOutOfRangeException(nameof(ExplodingRatio), ExplodingRatio, $"ExplodingRatio must be finite and above VanishingRatio ({VanishingRatio}); got {ExplodingRatio}.");
        }

        if (!Enum.IsDefined(Source))
        {
            throw new ArgumentOutOfRangeException(nameof(Source), Source, $"Source must be a defined GradientProfileSource; got {Source}.");
        }
    }
}

/// <summary>The verdict of <see cref="GradientFlowAnalysis.Diagnose(GradientFlowStep, GradientFlowThresholds?)"/>.</summary>
public enum GradientFlowVerdict
{
    /// <summary>The first-to-last ratio lies between the thresholds.</summary>
    Healthy,

    /// <summary>The first layers get much less gradient than the last (ratio below <see cref="GradientFlowThresholds.VanishingRatio"/>).</summary>
    Vanishing,

    /// <summary>The first layers get much more gradient than the last (ratio above <see cref="GradientFlowThresholds.ExplodingRatio"/>).</summary>
    Exploding,

    /// <summary>A gradient norm is NaN or infinite, or a gradient holds NaN/Inf elements.</summary>
    NonFinite,

    /// <summary>Fewer than two norms, or a zero last norm: no ratio can be formed.</summary>
    Undetermined,
}

/// <summary>Result of a gradient-flow diagnosis.</summary>
/// <param name="Verdict">Healthy, vanishing, exploding, non-finite or undetermined.</param>
/// <param name="FirstToLastRatio">Norm at the first entry of the profile over the norm at the last (NaN when undetermined).</param>
/// <param name="Source">Which norms formed the profile.</param>
/// <param name="Names">Names of the profile's entries (blocks or weights), first to last.</param>
/// <param name="Norms">The profile: gradient norms, first to last.</param>
public sealed record GradientFlowDiagnosis(GradientFlowVerdict Verdict, double FirstToLastRatio, GradientProfileSource Source, IReadOnlyList<string> Names, IReadOnlyList<double> Norms)
{
    /// <summary>One line for logs: verdict, ratio and the two ends of the profile.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => Norms.Count < 2
        ? $"{Verdict} ({Norms.Count} norm(s) from {Source})"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Verdict}: first/last = {FirstToLastRatio:G4} ({Names[0]} {Norms[0]:G4} / {Names[^1]} {Norms[^1]:G4}, {Source})");
}

/// <summary>Vanishing and exploding gradient detection from a recorded step.</summary>
public static class GradientFlowAnalysis
{
    /// <summary>The depth profile of gradient norms (names and norms, first to last) that <paramref name="thresholds"/> selects.</summary>
    /// <param name="step">A recorded step.</param>
    /// <param name="thresholds">Options; null for the defaults.</param>
    /// <returns>The profile and the source it was actually taken from.</returns>
    public static (GradientProfileSource Source, IReadOnlyList<string> Names, IReadOnlyList<double> Norms) Profile(GradientFlowStep step, GradientFlowThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        thresholds ??= new GradientFlowThresholds();
        thresholds.Validate();
        if (thresholds.Source == GradientProfileSource.BlockInputs)
        {
            var blocks = step.Blocks.Where(b => b.InputGradientNorm is not null).ToList();
            if (blocks.Count > 0)
            {
                return (GradientProfileSource.BlockInputs, blocks.Select(b => b.Name).ToList(), blocks.Select(b => b.InputGradientNorm!.Value).ToList());
            }
        }

        var weights = step.Parameters.Where(p => p.IsWeight).ToList();
        return (GradientProfileSource.Weights, weights.Select(p => p.Name).ToList(), weights.Select(p => p.L2Norm).ToList());
    }

    /// <summary>Judges the step's gradient flow by the ratio of the first to the last norm of its profile.</summary>
    /// <param name="step">A recorded step.</param>
    /// <param name="thresholds">Thresholds and profile source; null for the defaults (0.01 and 100, block inputs).</param>
    /// <returns>The diagnosis.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A threshold is out of range.</exception>
    public static GradientFlowDiagnosis Diagnose(GradientFlowStep step, GradientFlowThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        thresholds ??= new GradientFlowThresholds();
        thresholds.Validate();
        var (source, names, norms) = Profile(step, thresholds);
        bool nonFinite = norms.Any(n => !double.IsFinite(n)) || step.Parameters.Any(p => p.NonFiniteCount > 0);
        if (nonFinite)
        {
            return new GradientFlowDiagnosis(GradientFlowVerdict.NonFinite, double.NaN, source, names, norms);
        }

        if (norms.Count < 2 || norms[^1] == 0)
        {
            return new GradientFlowDiagnosis(GradientFlowVerdict.Undetermined, double.NaN, source, names, norms);
        }

        double ratio = norms[0] / norms[^1];
        var verdict = ratio < thresholds.VanishingRatio ? GradientFlowVerdict.Vanishing
            : ratio > thresholds.ExplodingRatio ? GradientFlowVerdict.Exploding
            : GradientFlowVerdict.Healthy;
        return new GradientFlowDiagnosis(verdict, ratio, source, names, norms);
    }

    /// <summary>
    /// The gain of every block that keeps the shape (<see cref="BlockGradientStats.KeepsShape"/>): ||dL/dx|| at its
    /// input over ||dL/dy|| at its output, which is the ratio between the gradients at two consecutive blocks'
    /// inputs inside a stage. Needs a step recorded with <see cref="GradientFlowMonitorOptions.TrackBlockGradients"/>.
    /// </summary>
    /// <param name="step">A recorded step.</param>
    /// <returns>The gains; blocks with a missing or zero norm are counted in <see cref="BlockGainProfile.Skipped"/>.</returns>
    public static BlockGainProfile BlockGains(GradientFlowStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var gains = new List<BlockGain>();
        int skipped = 0;
        foreach (var block in step.Blocks.Where(b => b.KeepsShape == true))
        {
            if (block.InputGradientNorm is not { } input || block.OutputGradientNorm is not { } output)
            {
                skipped++;
                continue;
            }

            if (!double.IsFinite(input) || !double.IsFinite(output))
            {
                gains.Add(new BlockGain(block.Name, block.Depth, double.NaN));
                continue;
            }

            if (input == 0 || output == 0)
            {
                skipped++;
                continue;
            }

            gains.Add(new BlockGain(block.Name, block.Depth, input / output));
        }

        return new BlockGainProfile(gains, skipped);
    }

    /// <summary>
    /// Judges a network from its typical gain per block and its number of blocks: the gradient that reaches the first
    /// block is about <c>gainPerBlock ^ blocks</c> times the one at the last block. Vanishing when that factor is
    /// below <see cref="GradientFlowThresholds.VanishingRatio"/>, exploding above
    /// <see cref="GradientFlowThresholds.ExplodingRatio"/>, healthy in between. So a gain of 0.9 is healthy for 20
    /// blocks (0.12) and vanishing for 50 (0.005): the verdict depends on depth, as the product of Jacobians does.
    /// </summary>
    /// <param name="gainPerBlock">A typical gain per block, such as <see cref="BlockGainProfile.GeometricMean"/>; not negative.</param>
    /// <param name="blocks">Number of blocks the gradient crosses, at least 1.</param>
    /// <param name="thresholds">Thresholds; null for the defaults (0.01 and 100). Its <see cref="GradientFlowThresholds.Source"/> is not used.</param>
    /// <returns><see cref="GradientFlowVerdict.NonFinite"/> for a NaN or infinite gain, else vanishing, exploding or healthy.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A negative gain, fewer than one block, or a threshold out of range.</exception>
    public static GradientFlowVerdict JudgeGain(double gainPerBlock, int blocks, GradientFlowThresholds? thresholds = null)
    {
        thresholds ??= new GradientFlowThresholds();
        thresholds.Validate();
        if (blocks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, $"blocks must be at least 1; got {blocks}.");
        }

        if (!double.IsFinite(gainPerBlock))
        {
            return GradientFlowVerdict.NonFinite;
        }

        if (gainPerBlock < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(gainPerBlock), gainPerBlock, $"gainPerBlock must not be negative; got {gainPerBlock}.");
        }

        double compounded = Math.Pow(gainPerBlock, blocks);
        return compounded < thresholds.VanishingRatio ? GradientFlowVerdict.Vanishing
            : compounded > thresholds.ExplodingRatio ? GradientFlowVerdict.Exploding
            : GradientFlowVerdict.Healthy;
    }
}

/// <summary>How much one block multiplies the gradient norm on the way back to the input.</summary>
/// <param name="Name">Qualified name of the block.</param>
/// <param name="Depth">Position among the monitored blocks (0 = first).</param>
/// <param name="Gain">||dL/dx|| at the block's input over ||dL/dy|| at its output: below 1 the block attenuates the gradient, above 1 it amplifies it (NaN when a norm is not finite).</param>
public sealed record BlockGain(string Name, int Depth, double Gain);

/// <summary>
/// The per-block gains of one recorded step (<see cref="GradientFlowAnalysis.BlockGains"/>): only blocks that keep
/// the shape, so that downsampling blocks (which change the number of elements) do not count.
/// </summary>
/// <param name="Gains">The gains, first block first.</param>
/// <param name="Skipped">Shape-keeping blocks left out because a norm was missing or zero (a gradient that underflowed to 0 in fp32 gives no ratio).</param>
public sealed record BlockGainProfile(IReadOnlyList<BlockGain> Gains, int Skipped)
{
    /// <summary>
    /// The typical gain per block: the geometric mean of <see cref="Gains"/> (exp of the mean log gain), the factor
    /// that, applied once per block, gives the same product. NaN when there is no gain or a gain is NaN.
    /// </summary>
    public double GeometricMean => Gains.Count == 0 || Gains.Any(g => double.IsNaN(g.Gain))
        ? double.NaN
        : Math.Exp(Gains.Average(g => Math.Log(g.Gain)));

    /// <summary>The smallest gain (NaN when there is none).</summary>
    public double Min => Gains.Count == 0 ? double.NaN : Gains.Min(g => g.Gain);

    /// <summary>The largest gain (NaN when there is none).</summary>
    public double Max => Gains.Count == 0 ? double.NaN : Gains.Max(g => g.Gain);
}
