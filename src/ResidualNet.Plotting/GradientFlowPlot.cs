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
    /// <summary>
    /// In <see cref="GradientFlowPlot.SavePanelsPng"/>: series with the same group share a colour, and the legend shows
    /// one entry per group (for example "plain twin", "residual"). Null: the series gets a colour of its own.
    /// </summary>
    public string? ColorGroup { get; init; }

    /// <summary>
    /// In <see cref="GradientFlowPlot.SavePanelsPng"/>: series with the same group share a line pattern (solid, dashed,
    /// dotted, dash-dot), and the legend shows one entry per group (for example "depth 56"). Null: solid.
    /// </summary>
    public string? PatternGroup { get; init; }

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

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        PlotSize.CheckAtLeast(Width, 100, nameof(Width), "pixels");
        PlotSize.CheckAtLeast(Height, 100, nameof(Height), "pixels");
    }
}

/// <summary>One panel of <see cref="GradientFlowPlot.SavePanelsPng"/>: a title and the series drawn in it.</summary>
/// <param name="Title">Panel title, for example "sigmoid, no normalisation".</param>
/// <param name="Series">The series (at least one, each with a positive finite norm).</param>
public sealed record GradientFlowPanel(string Title, IReadOnlyList<GradientDepthSeries> Series);

/// <summary>Options of <see cref="GradientFlowPlot.SavePanelsPng"/>. Immutable; use <c>with</c> for variants.</summary>
public sealed record GradientFlowPanelOptions
{
    /// <summary>Panels per row. Default 2. Must be at least 1.</summary>
    public int Columns { get; init; } = 2;

    /// <summary>Width of one panel in pixels. Default 640. Must be at least 200.</summary>
    public int PanelWidth { get; init; } = 640;

    /// <summary>Height of one panel in pixels. Default 440. Must be at least 200.</summary>
    public int PanelHeight { get; init; } = 440;

    /// <summary>Title above all panels; name the data and seeds. Default "Gradient norm against depth".</summary>
    public string Title { get; init; } = "Gradient norm against depth";

    /// <summary>One line of text under the panels; null or empty for none.</summary>
    public string? Caption { get; init; }

    /// <summary>Label of every panel's horizontal axis. Default "block (input side = 0)".</summary>
    public string XLabel { get; init; } = "block (input side = 0)";

    /// <summary>Label of every panel's vertical (log) axis. Default "gradient norm (log scale)".</summary>
    public string YLabel { get; init; } = "gradient norm (log scale)";

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        PlotSize.CheckAtLeast(Columns, 1, nameof(Columns), "columns");
        PlotSize.CheckAtLeast(PanelWidth, 200, nameof(PanelWidth), "pixels");
        PlotSize.CheckAtLeast(PanelHeight, 200, nameof(PanelHeight), "pixels");
    }
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
        options.Validate();
        var list = series.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("At least one series is needed; got 0.", nameof(series));
        }

        using var plot = new Plot();
        double minDecade = double.MaxValue, maxDecade = double.MinValue;
        foreach (var s in list)
        {
            var points = s.Norms
                .Select((norm, depth) => (depth, norm))
                .Where(p => p.norm > 0 && double.IsFinite(p.norm))
                .ToList();
            if (points.Count == 0)
            {
                throw new ArgumentException($"Series '{s.Label}' has no positive finite norm ({s.Norms.Count} values).", nameof(series));
            }

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
        {
            Directory.CreateDirectory(folder);
        }

        plot.SavePng(path, options.Width, options.Height);
    }

    /// <summary>
    /// Draws small multiples: one log-scale panel per <see cref="GradientFlowPanel"/>, in rows of
    /// <see cref="GradientFlowPanelOptions.Columns"/>, with a title above and a caption below. Colours follow
    /// <see cref="GradientDepthSeries.ColorGroup"/> and line patterns <see cref="GradientDepthSeries.PatternGroup"/>;
    /// each panel's legend lists the groups (colour, then pattern) rather than every line.
    /// </summary>
    /// <param name="panels">The panels, at least one, each with at least one series.</param>
    /// <param name="path">The PNG file to create or overwrite; its folder is created if needed.</param>
    /// <param name="options">Layout and labels; null for the defaults.</param>
    /// <exception cref="ArgumentException">No panel, a panel without series, or a series without a positive finite norm (the message names it).</exception>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than one column, or a panel smaller than 200 pixels.</exception>
    public static void SavePanelsPng(IEnumerable<GradientFlowPanel> panels, string path, GradientFlowPanelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(panels);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new GradientFlowPanelOptions();
        options.Validate();
        var list = panels.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("At least one panel is needed; got 0.", nameof(panels));
        }

        foreach (var panel in list)
        {
            if (panel.Series.Count == 0)
            {
                throw new ArgumentException($"Panel '{panel.Title}' has no series.", nameof(panels));
            }
        }

        var allSeries = list.SelectMany(p => p.Series).ToList();
        var colorGroups = allSeries.Select(s => s.ColorGroup).OfType<string>().Distinct().ToList();
        var patternGroups = allSeries.Select(s => s.PatternGroup).OfType<string>().Distinct().ToList();
        LinePattern[] patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];
        var palette = new ScottPlot.Palettes.Category10();
        Color ColorOf(GradientDepthSeries s, int index) => s.ColorGroup is { } g ? palette.GetColor(colorGroups.IndexOf(g)) : palette.GetColor(colorGroups.Count + index);
        LinePattern PatternOf(GradientDepthSeries s) => s.PatternGroup is { } g ? patterns[patternGroups.IndexOf(g) % patterns.Length] : LinePattern.Solid;

        int columns = Math.Min(options.Columns, list.Count);
        int rows = (list.Count + columns - 1) / columns;
        int width = columns * options.PanelWidth;
        const int titleHeight = 44, legendRowHeight = 40;
        int legendHeight = legendRowHeight * (patternGroups.Count > 0 ? 2 : 1);
        int footer = string.IsNullOrEmpty(options.Caption) ? 8 : 36;
        int height = titleHeight + legendHeight + (rows * options.PanelHeight) + footer;
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height));
        var canvas = surface.Canvas;
        canvas.Clear(SkiaSharp.SKColors.White);

        // Each part is drawn as its own image: ScottPlot clears the whole canvas it renders on.
        void Draw(Plot plot, int left, int top, int w, int h)
        {
            using var image = SkiaSharp.SKImage.FromEncodedData(plot.GetImageBytes(w, h, ImageFormat.Png));
            canvas.DrawImage(image, left, top);
        }

        using (var title = TextStrip(options.Title, 20, bold: true))
        {
            Draw(title, 0, 0, width, titleHeight);
        }

        // One legend for all panels, one row each: a colour per colour group (and the ungrouped series), a line pattern per pattern group.
        var colorItems = colorGroups.Select(g => new LegendItem { LabelText = g, LineColor = palette.GetColor(colorGroups.IndexOf(g)), LineWidth = 3 })
            .Concat(list.SelectMany(p => p.Series.Select((s, i) => (s, i))).Where(x => x.s.ColorGroup is null)
                .Select(x => new LegendItem { LabelText = x.s.Label, LineColor = ColorOf(x.s, x.i), LineWidth = 2, LinePattern = PatternOf(x.s) }))
            .ToList();
        var patternItems = patternGroups.Select(g => new LegendItem { LabelText = g, LineColor = Colors.Black, LineWidth = 2, LinePattern = patterns[patternGroups.IndexOf(g) % patterns.Length] }).ToList();
        int legendTop = titleHeight;
        foreach (var items in new[] { colorItems, patternItems }.Where(i => i.Count > 0))
        {
            using var legend = new Plot();
            legend.Layout.Frameless();
            legend.Axes.Frameless();
            legend.HideGrid();
            legend.Legend.ManualItems.AddRange(items);
            legend.Legend.Orientation = Orientation.Horizontal;
            legend.Legend.FontSize = 14;
            legend.Legend.OutlineWidth = 0;
            legend.Legend.ShadowOffset = new PixelOffset(0, 0);
            legend.ShowLegend(Alignment.MiddleCenter);
            Draw(legend, 0, legendTop, width, legendRowHeight);
            legendTop += legendRowHeight;
        }

        if (!string.IsNullOrEmpty(options.Caption))
        {
            using var caption = TextStrip(options.Caption, 13, bold: false);
            Draw(caption, 0, height - footer, width, footer);
        }

        for (int p = 0; p < list.Count; p++)
        {
            using var plot = new Plot();
            var panel = list[p];
            double minDecade = double.MaxValue, maxDecade = double.MinValue;
            for (int i = 0; i < panel.Series.Count; i++)
            {
                var s = panel.Series[i];
                var points = s.Norms.Select((norm, depth) => (depth, norm)).Where(q => q.norm > 0 && double.IsFinite(q.norm)).ToList();
                if (points.Count == 0)
                {
                    throw new ArgumentException($"Series '{s.Label}' of panel '{panel.Title}' has no positive finite norm ({s.Norms.Count} values).", nameof(panels));
                }

                var ys = points.Select(q => Math.Log10(q.norm)).ToArray();
                var scatter = plot.Add.Scatter(points.Select(q => (double)q.depth).ToArray(), ys);
                scatter.Color = ColorOf(s, i);
                scatter.LinePattern = PatternOf(s);
                scatter.LineWidth = 2;
                scatter.MarkerSize = 0;
                minDecade = Math.Min(minDecade, ys.Min());
                maxDecade = Math.Max(maxDecade, ys.Max());
            }

            LogAxis(plot, minDecade, maxDecade);
            plot.Title(panel.Title);
            plot.XLabel(options.XLabel);
            plot.YLabel(options.YLabel);
            Draw(plot, (p % columns) * options.PanelWidth, titleHeight + legendHeight + ((p / columns) * options.PanelHeight), options.PanelWidth, options.PanelHeight);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using var image = surface.Snapshot();
        using var png = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    private static void LogAxis(Plot plot, double minDecade, double maxDecade)
    {
        // A log axis in ScottPlot 5: plot log10 values, put ticks on whole decades, label them as powers of ten.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => "1e" + y.ToString("0", CultureInfo.InvariantCulture),
        };
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.SetLimitsY(Math.Floor(minDecade) - 0.2, Math.Ceiling(maxDecade) + 0.2);
    }

    private static Plot TextStrip(string text, float size, bool bold)
    {
        var plot = new Plot();
        plot.Layout.Frameless();
        plot.Axes.Frameless();
        plot.HideGrid();
        var label = plot.Add.Text(text, 0.5, 0.5);
        label.LabelFontSize = size;
        label.LabelBold = bold;
        label.LabelAlignment = Alignment.MiddleCenter;
        plot.Axes.SetLimits(0, 1, 0, 1);
        return plot;
    }
}
