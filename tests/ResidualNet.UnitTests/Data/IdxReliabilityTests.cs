using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Data;

/// <summary>Issue 14, defects 7 and 8 (IDX): the header's claim is checked against the data before allocating.</summary>
public sealed class IdxReliabilityTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-idx-" + Guid.NewGuid().ToString("N"));

    public IdxReliabilityTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string LabelsClaiming(int count, bool gzip)
    {
        string path = Path.Combine(_dir, $"labels-{count}{(gzip ? ".gz" : string.Empty)}");
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt32BigEndian(bytes, IdxFile.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        using var file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write(bytes);
        return path;
    }

    [Theory]
    [InlineData(int.MaxValue, false)]
    [InlineData(int.MaxValue, true)]
    [InlineData(0x7FFFFFC7, false)]
    [InlineData(0x7FFFFFC7, true)]
    public void Defect7_AHugeClaimInATinyFile_IsATruncationError_WithoutAllocatingIt(int claim, bool gzip)
    {
        string path = LabelsClaiming(claim, gzip);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var act = () => IdxFile.ReadLabels(path);
        act.Should().Throw<IdxFormatException>().WithMessage($"*truncated*{claim} labels*only 4 bytes follow*");
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        allocated.Should().BeLessThan(8L << 20, "the reader must not allocate what the header claims before checking it");
    }

    [Fact]
    public void Defect8_ReadingADirectory_SaysItIsADirectory()
    {
        var act = () => IdxFile.ReadImages(_dir);
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "path").WithMessage("*is a directory*");
    }
}
