using System;
using System.Buffers.Binary;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace ResidualNet.Data;

/// <summary>
/// Reads and writes IDX files, the format of MNIST and Fashion-MNIST
/// (<see href="http://yann.lecun.com/exdb/mnist/"/>): a big-endian header (two zero bytes, a type code, the number
/// of dimensions, then one 32-bit size per dimension) followed by the data. Only unsigned-byte data (type code
/// 0x08) is supported: images have 3 dimensions (magic 0x00000803), labels 1 (magic 0x00000801).
/// </summary>
/// <remarks>
/// Files may be raw or gzip-compressed; compression is detected from the gzip magic bytes (0x1F 0x8B), never from
/// the file name. Every malformation (wrong magic number, truncated body, trailing bytes, corrupt gzip stream) is
/// reported with an <see cref="IdxFormatException"/> whose message names the file and the value found.
/// </remarks>
public static class IdxFile
{
    /// <summary>Magic number of an IDX file of unsigned-byte images (3 dimensions).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned-byte labels (1 dimension).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Whether the file starts with the gzip magic bytes 0x1F 0x8B.</summary>
    /// <param name="path">File to inspect.</param>
    /// <returns><see langword="true"/> for a gzip file.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static bool IsGzip(string path)
    {
        using var stream = OpenExisting(path);
        return StartsWithGzipMagic(stream);
    }

    /// <summary>Reads an IDX image file (raw or gzip).</summary>
    /// <param name="path">The file, for example <c>train-images-idx3-ubyte.gz</c>.</param>
    /// <returns>The images.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IdxFormatException">The file is not a well-formed IDX image file.</exception>
    public static IdxImages ReadImages(string path)
    {
        using var stream = OpenData(path);
        int[] dims = ReadHeader(stream, path, ImagesMagic, "images");
        int count = dims[0], rows = dims[1], columns = dims[2];
        if (rows < 1 || columns < 1)
        {
            throw new IdxFormatException(path, $"IDX image file '{path}' declares images of {rows}x{columns} pixels; both sizes must be 1 or more.");
        }

        long total = (long)count * rows * columns;
        if (total > Array.MaxLength)
        {
            throw new IdxFormatException(path, $"IDX image file '{path}' declares {count} images of {rows}x{columns} pixels ({total} bytes), more than one array can hold.");
        }

        byte[] pixels = ReadBody(stream, path, (int)total, $"{count} images of {rows}x{columns} pixels");
        return new IdxImages(pixels, count, rows, columns);
    }

    /// <summary>Reads an IDX label file (raw or gzip).</summary>
    /// <param name="path">The file, for example <c>train-labels-idx1-ubyte.gz</c>.</param>
    /// <returns>One byte per label.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IdxFormatException">The file is not a well-formed IDX label file.</exception>
    public static byte[] ReadLabels(string path)
    {
        using var stream = OpenData(path);
        int[] dims = ReadHeader(stream, path, LabelsMagic, "labels");
        return ReadBody(stream, path, dims[0], $"{dims[0]} labels");
    }

    /// <summary>Writes an IDX image file.</summary>
    /// <param name="path">Destination (overwritten).</param>
    /// <param name="images">The images to write.</param>
    /// <param name="gzip">Whether to gzip-compress the file.</param>
    public static void WriteImages(string path, IdxImages images, bool gzip)
    {
        ArgumentNullException.ThrowIfNull(images);
        Write(path, ImagesMagic, [images.Count, images.Rows, images.Columns], images.Pixels.Span, gzip);
    }

    /// <summary>Writes an IDX label file.</summary>
    /// <param name="path">Destination (overwritten).</param>
    /// <param name="labels">One byte per label.</param>
    /// <param name="gzip">Whether to gzip-compress the file.</param>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels, bool gzip) =>
        Write(path, LabelsMagic, [labels.Length], labels, gzip);

    private static void Write(string path, int magic, int[] dims, ReadOnlySpan<byte> data, bool gzip)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, magic);
        stream.Write(word);
        foreach (int dim in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, dim);
            stream.Write(word);
        }

        stream.Write(data);
    }

    private static FileStream OpenExisting(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"IDX path '{Path.GetFullPath(path)}' is a directory, not a file.", nameof(path));
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        }

        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static bool StartsWithGzipMagic(Stream stream)
    {
        int first = stream.ReadByte();
        int second = stream.ReadByte();
        stream.Position = 0;
        return first == 0x1F && second == 0x8B;
    }

    private static Stream OpenData(string path)
    {
        var file = OpenExisting(path);
        try
        {
            return StartsWithGzipMagic(file) ? new GZipStream(file, CompressionMode.Decompress) : file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static int[] ReadHeader(Stream stream, string path, int expectedMagic, string kind)
    {
        Span<byte> word = stackalloc byte[4];
        int got = ReadFully(stream, path, word);
        if (got < 4)
        {
            throw new IdxFormatException(path, $"IDX {kind} file '{path}' is truncated: it holds {got} bytes, fewer than the 4-byte magic number.");
        }

        int magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (magic != expectedMagic)
        {
            throw new IdxFormatException(path, string.Create(
                CultureInfo.InvariantCulture,
                $"IDX {kind} file '{path}' has magic number 0x{magic:X8}; expected 0x{expectedMagic:X8} (unsigned bytes, {expectedMagic & 0xFF} dimension(s)).{Hint(magic)}"));
        }

        int[] dims = new int[expectedMagic & 0xFF];
        for (int i = 0; i < dims.Length; i++)
        {
            got = ReadFully(stream, path, word);
            if (got < 4)
            {
                throw new IdxFormatException(path, $"IDX {kind} file '{path}' is truncated inside its header (dimension {i + 1} of {dims.Length}).");
            }

            dims[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (dims[i] < 0)
            {
                throw new IdxFormatException(path, $"IDX {kind} file '{path}' declares a negative size {dims[i]} for dimension {i + 1}.");
            }
        }

        return dims;
    }

    private static string Hint(int magic) => magic switch
    {
        ImagesMagic => " This is an image file; a label file was expected.",
        LabelsMagic => " This is a label file; an image file was expected.",
        _ when (magic & 0xFFFF) == 0x8B1F || (magic >>> 16) == 0x1F8B => " The data looks gzip-compressed twice.",
        _ => string.Empty,
    };

    /// <summary>
    /// Reads the body the header promises, never allocating more than the file holds: a raw file's length is
    /// compared with the promise first; a gzip stream (whose length is unknown until read) is read in chunks.
    /// </summary>
    private static byte[] ReadBody(Stream stream, string path, int length, string what)
    {
        byte[] data;
        long got;
        if (stream is FileStream file)
        {
            got = file.Length - file.Position;
            if (got < length)
            {
                throw Truncated(path, what, length, got);
            }

            data = GC.AllocateUninitializedArray<byte>(length);
            got = ReadFully(stream, path, data);
        }
        else
        {
            const int Chunk = 1 << 20;
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[Chunk];
            got = 0;
            while (got < length)
            {
                int n = ReadFully(stream, path, chunk.AsSpan(0, (int)Math.Min(Chunk, length - got)));
                buffer.Write(chunk, 0, n);
                got += n;
                if (n == 0)
                {
                    break;
                }
            }

            data = got == length ? buffer.ToArray() : [];
        }

        if (got < length)
        {
            throw Truncated(path, what, length, got);
        }

        Span<byte> probe = stackalloc byte[1];
        if (ReadFully(stream, path, probe) != 0)
        {
            throw new IdxFormatException(path, $"IDX file '{path}' has extra bytes after the {what} its header declares; the file is corrupt or has the wrong header.");
        }

        return data;
    }

    private static IdxFormatException Truncated(string path, string what, long length, long got) =>
        new(path, $"IDX file '{path}' is truncated: its header promises {what} ({length} bytes of data) but only {got} bytes follow.");

    private static int ReadFully(Stream stream, string path, Span<byte> buffer)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = stream.Read(buffer[total..]);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException(path, $"IDX file '{path}' is not a valid gzip stream: {e.Message}", e);
        }

        return total;
    }
}
