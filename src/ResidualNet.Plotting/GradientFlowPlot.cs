using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.Diagnostics;
using ScottPlot;

namespace ResidualNet.Plotting;

/// <summary>One line of a depth plot: a label and its gradient norms, first layer or block first.</summary>
/// <param name="Label">Legend text, e.g. "plain-20 sigmoid".</param>
/// <param name="Norms">Gradient norms by depth (index 0 = first). Values that are not positive and finite are left out (a log axis cannot show them).</param>
public sealed record GradientDepthSeries(string Label, IReadOnlyList<double> Norms)
{
    /// <summary>The series of a recorded step, from its <see cref="GradientFlowAnalysis.Profile"/>.</summary>
    /// <param name="label">Legend text.</param>
    /// <param name="step">A recorded step.</param>
    /// <param name="thresholds">Selects the profile (block inputs or weights); null for the default.</param>
    /// <returns>The series.</returns>
    public static GradientDepthSeries FromStep(string label, GradientFlowStep step, GradientFlowThresholds? thresholds = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        return new GradientDepthSeries(label, GradientFlowAnalysis.Profile(step, thresholds).Norms);
    }
}

/// <summary>Options of <see cref="GradientFlowPlot"/>. Immutable; use <c>with</c> for variants.</summary>
public sealed record GradientFlowPlotOptions
{
    /// <summary>Image width in pixels. Default 900.</summary>
    public int Width { get; init; } = 900;

    /// <summary>Image height in pixels. Default 560.</summary>
    public int Height { get; init; } = 560;

    /// <summary>Title. Default "Gradient norm against depth".</summary>
    public string Title { get; init; } = "Gradient norm against depth";

    /// <summary>Label of the horizontal axis. Default "depth (block or layer, input side = 0)".</summary>
    public string XLabel { get; init; } = "depth (block or layer, input side = 0)";

    /// <summary>Label of the vertical (log) axis. Default "gradient norm (log scale)".</summary>
    public string YLabel { get; init; } = "gradient norm (log scale)";
}

/// <summary>PNG plots of gradient norm against depth, several runs overlaid, log y-axis (ScottPlot).</summary>
public static class GradientFlowPlot
{
    /// <summary>Draws the series on one plot (log₁₀ y-axis with decade labels) and saves it as PNG.</summary>
    /// <param name="series">The runs to overlay (at least one, each with at least one positive finite norm).</param>
    /// <param name="path">The PNG file to create or overwrite; its folder is created if needed.</param>
    /// <param name="options">Size and labels; null for the defaults.</param>
    /// <exception cref="ArgumentException">No series, or a series without a positive finite norm (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">Width or height below 100 pixels.</exception>
    public static void SavePng(IEnumerable<GradientDepthSeries> series, string path, GradientFlowPlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new GradientFlowPlotOptions();
        if (options.Width < 100)
            throw new ArgumentOutOfRangeException(nameof(options), options.Width, $"Width must be at least 100 pixels; got {options.Width}.");
        if (options.Height < 100)
            throw new ArgumentOutOfRangeException(nameof(options), options.Height, $"Height must be at least 100 pixels; got {options.Height}.");
        var list = series.ToList();
        if (list.Count == 0)
            throw new ArgumentException("At least one series is needed; got 0.", nameof(series));

        using var plot = new Plot();
        double minDecade = double.MaxValue, maxDecade = double.MinValue;
        foreach (var s in list)
        {
            var points = s.Norms
                .Select((norm, depth) => (depth, norm))
                .Where(p => p.norm > 0 && double.IsFinite(p.norm))
                .ToList();
            if (points.Count == 0)
                throw new ArgumentException($"Series '{s.Label}' has no positive finite norm ({s.Norms.Count} values).", nameof(series));
            var xs = points.Select(p => (double)p.depth).ToArray();
            var ys = points.Select(p => Math.Log10(p.norm)).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = s.Label;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 5;
            minDecade = Math.Min(minDecade, ys.Min());
            maxDecade = Math.Max(maxDecade, ys.Max());
        }

        // A log axis in ScottPlot 5: plot log10 values, put ticks on whole decades, label them as powers of ten.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => "1e" + y.ToString("0", CultureInfo.InvariantCulture),
        };
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.SetLimitsY(Math.Floor(minDecade) - 0.2, Math.Ceiling(maxDecade) + 0.2);
        plot.Title(options.Title);
        plot.XLabel(options.XLabel);
        plot.YLabel(options.YLabel);
        plot.ShowLegend(Alignment.LowerRight);

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
            Directory.CreateDirectory(folder);
        plot.SavePng(path, options.Width, options.Height);
    }
}
