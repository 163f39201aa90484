using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using FluentAssertions;
using ResidualNet.Data;
using Xunit;

namespace ResidualNet.UnitTests.Data;

public sealed class IdxFileTests : IDisposable
{
    private readonly IdxTestFiles _files = new(trainCount: 50, testCount: 20, gzip: false);

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrittenFilesReadBackByteForByte(bool gzip)
    {
        var (images, labels) = SyntheticImages.Generate(37, seed: 3);
        string imagesPath = _files.PathOf("round-images");
        string labelsPath = _files.PathOf("round-labels");
        IdxFile.WriteImages(imagesPath, images, gzip);
        IdxFile.WriteLabels(labelsPath, labels, gzip);

        IdxFile.IsGzip(imagesPath).Should().Be(gzip);
        var read = IdxFile.ReadImages(imagesPath);
        read.Count.Should().Be(37);
        read.Rows.Should().Be(28);
        read.Columns.Should().Be(28);
        read.Pixels.ToArray().Should().Equal(images.Pixels.ToArray());
        IdxFile.ReadLabels(labelsPath).Should().Equal(labels);
    }

    [Fact]
    public void RawFileHasTheDocumentedHeader()
    {
        string path = _files.PathOf("train-images-idx3-ubyte");
        byte[] bytes = File.ReadAllBytes(path);
        bytes.Take(16).Should().Equal(new byte[] { 0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 28, 0, 0, 0, 28 });
        bytes.Length.Should().Be(16 + (50 * 28 * 28));
    }

    [Fact]
    public void CompressionIsDetectedFromContentNotName()
    {
        var (images, _) = SyntheticImages.Generate(3, seed: 1);
        string gzipWithoutExtension = _files.PathOf("looks-raw");
        IdxFile.WriteImages(gzipWithoutExtension, images, gzip: true);
        string rawWithGzExtension = _files.PathOf("looks-gzip.gz");
        IdxFile.WriteImages(rawWithGzExtension, images, gzip: false);

        IdxFile.ReadImages(gzipWithoutExtension).Pixels.ToArray().Should().Equal(images.Pixels.ToArray());
        IdxFile.ReadImages(rawWithGzExtension).Pixels.ToArray().Should().Equal(images.Pixels.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrongMagicNumberNamesFileAndValue(bool gzip)
    {
        string labels = _files.PathOf("labels-as-images");
        IdxFile.WriteLabels(labels, new byte[] { 1, 2, 3 }, gzip);

        var act = () => IdxFile.ReadImages(labels);

        var e = act.Should().Throw<IdxFormatException>().Which;
        e.Message.Should().Contain(labels).And.Contain("0x00000801").And.Contain("expected 0x00000803");
        e.FilePath.Should().Be(labels);
        e.Reason.Should().Be(e.Message);
        e.Should().BeAssignableTo<CorruptFileException>().And.BeAssignableTo<IOException>();
    }

    [Fact]
    public void TextFileIsRejectedWithItsMagicNumber()
    {
        string path = _files.PathOf("notes.txt");
        File.WriteAllText(path, "hello world, not an IDX file");
        var act = () => IdxFile.ReadLabels(path);
        act.Should().Throw<IdxFormatException>().WithMessage($"*'{path}'*0x68656C6C*");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedBodyIsReportedWithPromisedAndActualSizes(bool gzip)
    {
        var (images, _) = SyntheticImages.Generate(10, seed: 2);
        byte[] partial = images.Pixels.Span[..(5 * 784 + 7)].ToArray();
        string path = _files.PathOf("truncated");
        WriteRawIdx(path, [0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28], partial, gzip);

        var act = () => IdxFile.ReadImages(path);

        act.Should().Throw<IdxFormatException>()
            .WithMessage($"*'{path}' is truncated*10 images of 28x28 pixels (7840 bytes of data)*only 3927 bytes follow*");
    }

    [Fact]
    public void FileCutInsideTheHeaderIsTruncated()
    {
        string path = _files.PathOf("short-header");
        File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0]);
        var act = () => IdxFile.ReadImages(path);
        act.Should().Throw<IdxFormatException>().WithMessage($"*'{path}' is truncated inside its header*");
    }

    [Fact]
    public void CutGzipStreamIsAnIdxFormatError()
    {
        string full = _files.PathOf("full.gz");
        var (images, _) = SyntheticImages.Generate(20, seed: 4);
        IdxFile.WriteImages(full, images, gzip: true);
        byte[] bytes = File.ReadAllBytes(full);
        string cut = _files.PathOf("cut.gz");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);

        var act = () => IdxFile.ReadImages(cut);

        act.Should().Throw<IdxFormatException>().Which.Message.Should().Contain(cut);
    }

    [Fact]
    public void GarbageAfterGzipMagicIsAnIdxFormatError()
    {
        string path = _files.PathOf("garbage.gz");
        File.WriteAllBytes(path, [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x13, 0x37]);
        var act = () => IdxFile.ReadImages(path);
        act.Should().Throw<IdxFormatException>().Which.Message.Should().Contain(path);
    }

    [Fact]
    public void ExtraBytesAfterTheDataAreRejected()
    {
        string path = _files.PathOf("long-labels");
        WriteRawIdx(path, [0, 0, 8, 1, 0, 0, 0, 3], [1, 2, 3, 4], gzip: false);
        var act = () => IdxFile.ReadLabels(path);
        act.Should().Throw<IdxFormatException>().WithMessage($"*'{path}' has extra bytes after the 3 labels*");
    }

    [Fact]
    public void MissingFileThrowsFileNotFoundWithPath()
    {
        string path = _files.PathOf("nope-idx3-ubyte");
        var act = () => IdxFile.ReadImages(path);
        act.Should().Throw<FileNotFoundException>().Where(e => e.FileName == path && e.Message.Contains(path));
    }

    [Fact]
    public void ImagesConstructorRejectsWrongBufferLength()
    {
        var act = () => new IdxImages(new byte[10], 1, 28, 28);
        act.Should().Throw<ArgumentException>().WithMessage("*784*got 10*").Which.ParamName.Should().Be("pixels");
    }

    internal static void WriteRawIdx(string path, byte[] header, byte[] body, bool gzip)
    {
        using var file = File.Create(path);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        stream.Write(header);
        stream.Write(body);
    }
}
