using System;
using System.Buffers.Binary;
using System.IO;
using FluentAssertions;
using ResidualNet.Plotting;
using Xunit;

namespace ResidualNet.UnitTests.Diagnostics;

public class GradientFlowPlotTests
{
    [Fact]
    public void SavesAPngOfTheRequestedSizeWithSeveralRuns()
    {
        var path = Path.Combine(Path.GetTempPath(), $"residualnet-plot-{Guid.NewGuid():N}", "depth.png");
        try
        {
            GradientFlowPlot.SavePng(
                new[]
                {
                    new GradientDepthSeries("plain", new[] { 1e-9, 1e-6, 1e-3, 1e-1 }),
                    new GradientDepthSeries("residual", new[] { 0.3, 0.2, double.NaN, 0.1 }),
                },
                path,
                new GradientFlowPlotOptions { Width = 640, Height = 400 });

            var bytes = File.ReadAllBytes(path);
            bytes.AsSpan(0, 8).ToArray().Should().Equal(0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A);
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)).Should().Be(640, "IHDR width");
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4)).Should().Be(400, "IHDR height");
            bytes.Length.Should().BeGreaterThan(5_000, "a plot with axes, lines and a legend, not a blank image");
        }
        finally
        {
            var folder = Path.GetDirectoryName(path)!;
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void RefusesEmptyInputNamingWhatIsWrong()
    {
        var none = () => GradientFlowPlot.SavePng(Array.Empty<GradientDepthSeries>(), "x.png");
        none.Should().Throw<ArgumentException>().Which.Message.Should().Contain("got 0");
        var zeros = () => GradientFlowPlot.SavePng(new[] { new GradientDepthSeries("dead", new[] { 0.0, double.NaN }) }, "x.png");
        zeros.Should().Throw<ArgumentException>().Which.Message.Should().Contain("'dead'").And.Contain("2 values");
        var small = () => GradientFlowPlot.SavePng(new[] { new GradientDepthSeries("a", new[] { 1.0 }) }, "x.png", new GradientFlowPlotOptions { Width = 10 });
        small.Should().Throw<ArgumentOutOfRangeException>().Which.Message.Should().Contain("Width").And.Contain("10");
    }
}
