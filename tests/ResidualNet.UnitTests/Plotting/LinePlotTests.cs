using System;
using System.Buffers.Binary;
using System.IO;
using FluentAssertions;
using ResidualNet.Plotting;
using Xunit;

namespace ResidualNet.UnitTests.Plotting;

public sealed class LinePlotTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"residualnet-lineplot-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void SavesAPngOfTheRequestedSizeLeavingOutNonFinitePointsAndEmptySeries()
    {
        string path = Path.Combine(_dir, "sub", "errors.png");
        LinePlot.SavePng(
            [
                new LineSeries("plain-20", [1, 2, 3, 4], [60, 40, double.NaN, 30]),
                new LineSeries("resnet-20", [1, 2, 3], [55, 35, 25]),
                new LineSeries("stopped before its first epoch", [], []),
            ],
            path,
            new LinePlotOptions { Width = 640, Height = 400, Title = "Training error", XLabel = "epoch", YLabel = "error (%)" });

        byte[] bytes = File.ReadAllBytes(path);
        bytes.AsSpan(0, 8).ToArray().Should().Equal(0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A);
        BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16, 4)).Should().Be(640, "IHDR width");
        BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20, 4)).Should().Be(400, "IHDR height");
        bytes.Length.Should().BeGreaterThan(5_000, "a plot with axes, lines and a legend, not a blank image");
    }

    [Fact]
    public void BadInputIsRejectedWithTheValueReceived()
    {
        string path = Path.Combine(_dir, "bad.png");
        var one = new[] { new LineSeries("a", [1, 2], [1, 2]) };

        FluentActions.Invoking(() => LinePlot.SavePng([], path)).Should().Throw<ArgumentException>().WithMessage("At least one series is needed; got 0.*");
        FluentActions.Invoking(() => LinePlot.SavePng([new LineSeries("b", [1, 2, 3], [1, 2])], path))
            .Should().Throw<ArgumentException>().WithMessage("Series 'b' has 3 x values and 2 y values.*").Which.ParamName.Should().Be("series");
        FluentActions.Invoking(() => LinePlot.SavePng(one, path, new LinePlotOptions { Width = 99 }))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage("Width must be at least 100 pixels; got 99.*").Which.ParamName.Should().Be("Width");
        FluentActions.Invoking(() => LinePlot.SavePng(one, path, new LinePlotOptions { Height = 0 }))
            .Should().Throw<ArgumentOutOfRangeException>().WithMessage("Height must be at least 100 pixels; got 0.*").Which.ParamName.Should().Be("Height");
        FluentActions.Invoking(() => LinePlot.SavePng(one, string.Empty)).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("path");
        File.Exists(path).Should().BeFalse();
    }
}
