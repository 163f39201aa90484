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

    internal void Validate()
    {
        if (!(VanishingRatio > 0) || double.IsInfinity(VanishingRatio))
            throw new ArgumentOutOfRangeException(nameof(VanishingRatio), VanishingRatio, $"VanishingRatio must be positive and finite; got {VanishingRatio}.");
        if (!(ExplodingRatio > VanishingRatio) || double.IsInfinity(ExplodingRatio))
            throw new ArgumentOutOfRangeException(nameof(ExplodingRatio), ExplodingRatio, $"ExplodingRatio must be finite and above VanishingRatio ({VanishingRatio}); got {ExplodingRatio}.");
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
        if (thresholds.Source == GradientProfileSource.BlockInputs)
        {
            var blocks = step.Blocks.Where(b => b.InputGradientNorm is not null).ToList();
            if (blocks.Count > 0)
                return (GradientProfileSource.BlockInputs, blocks.Select(b => b.Name).ToList(), blocks.Select(b => b.InputGradientNorm!.Value).ToList());
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
            return new GradientFlowDiagnosis(GradientFlowVerdict.NonFinite, double.NaN, source, names, norms);
        if (norms.Count < 2 || norms[^1] == 0)
            return new GradientFlowDiagnosis(GradientFlowVerdict.Undetermined, double.NaN, source, names, norms);
        double ratio = norms[0] / norms[^1];
        var verdict = ratio < thresholds.VanishingRatio ? GradientFlowVerdict.Vanishing
            : ratio > thresholds.ExplodingRatio ? GradientFlowVerdict.Exploding
            : GradientFlowVerdict.Healthy;
        return new GradientFlowDiagnosis(verdict, ratio, source, names, norms);
    }
}
