using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ScottPlot;

namespace ResidualNet.Plotting;

/// <summary>One named curve of a <see cref="LinePlot"/>: y against x, in order.</summary>
/// <param name="Label">Legend text.</param>
/// <param name="X">Horizontal positions.</param>
/// <param name="Y">Values, one per position. Points where x or y is not finite are left out (a run that has no value
/// for some epoch, for example); a series with no finite point is left out of the plot and its legend.</param>
public sealed record LineSeries(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>Options of <see cref="LinePlot"/>. Immutable; use <c>with</c> for variants.</summary>
public sealed record LinePlotOptions
{
    /// <summary>Image width in pixels. Default 900. Must be at least 100.</summary>
    public int Width { get; init; } = 900;

    /// <summary>Image height in pixels. Default 560. Must be at least 100.</summary>
    public int Height { get; init; } = 560;

    /// <summary>Title. Default none.</summary>
    public string Title { get; init; } = string.Empty;

    /// <summary>Label of the horizontal axis. Default none.</summary>
    public string XLabel { get; init; } = string.Empty;

    /// <summary>Label of the vertical axis. Default none.</summary>
    public string YLabel { get; init; } = string.Empty;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        PlotSize.CheckAtLeast(Width, 100, nameof(Width), "pixels");
        PlotSize.CheckAtLeast(Height, 100, nameof(Height), "pixels");
    }
}

/// <summary>PNG line charts on linear axes, several series overlaid with a legend (ScottPlot), for example a
/// training curve per network.</summary>
public static class LinePlot
{
    /// <summary>Draws the series on one plot and saves it as PNG. Series of up to 30 points get a marker on every point.</summary>
    /// <param name="series">The curves, at least one (a series with no finite point draws nothing).</param>
    /// <param name="path">The PNG file to create or overwrite; its folder is created if needed.</param>
    /// <param name="options">Size and labels; null for the defaults.</param>
    /// <exception cref="ArgumentException">No series, or a series whose x and y counts differ (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">Width or height below 100 pixels (the exception names the property).</exception>
    public static void SavePng(IEnumerable<LineSeries> series, string path, LinePlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new LinePlotOptions();
        options.Validate();

        var list = series.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("At least one series is needed; got 0.", nameof(series));
        }

        int nullAt = list.IndexOf(null!);
        if (nullAt >= 0)
        {
            throw new ArgumentException($"series holds null at index {nullAt}.", nameof(series));
        }

        using var plot = new Plot();
        foreach (var s in list)
        {
            if (s.X.Count != s.Y.Count)
            {
                throw new ArgumentException($"Series '{s.Label}' has {s.X.Count} x values and {s.Y.Count} y values.", nameof(series));
            }

            var points = s.X.Zip(s.Y).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var scatter = plot.Add.Scatter(points.Select(p => p.First).ToArray(), points.Select(p => p.Second).ToArray());
            scatter.LegendText = s.Label;
            scatter.LineWidth = 2;
            scatter.MarkerSize = points.Length <= 30 ? 5 : 0;
        }

        plot.Title(options.Title);
        plot.XLabel(options.XLabel);
        plot.YLabel(options.YLabel);
        plot.ShowLegend(Alignment.UpperRight);

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        plot.SavePng(path, options.Width, options.Height);
    }
}
