using System;

namespace ResidualNet.Data;

/// <summary>
/// The content of an IDX image file: <see cref="Count"/> grey images of <see cref="Rows"/> x <see cref="Columns"/>
/// unsigned bytes each, stored row-major one after the other (0 = black, 255 = white).
/// </summary>
public sealed class IdxImages
{
    /// <summary>Wraps pixels that are already laid out as <paramref name="count"/> row-major images.</summary>
    /// <param name="pixels">The pixel bytes; length must be <c>count * rows * columns</c>.</param>
    /// <param name="count">Number of images (0 or more).</param>
    /// <param name="rows">Image height in pixels (1 or more).</param>
    /// <param name="columns">Image width in pixels (1 or more).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">The pixel buffer has the wrong length.</exception>
    public IdxImages(ReadOnlyMemory<byte> pixels, int count, int rows, int columns)
    {
        if (count < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{nameof(count)} must be 0 or more; got {count}.");
        }

        if (rows < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{nameof(rows)} must be 1 or more; got {rows}.");
        }

        if (columns < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"{nameof(columns)} must be 1 or more; got {columns}.");
        }

        long expected = (long)count * rows * columns;
        if (pixels.Length != expected)
        {
            throw new ArgumentException(
                $"{nameof(pixels)} must hold count*rows*columns = {expected} bytes; got {pixels.Length}.", nameof(pixels));
        }

        Pixels = pixels;
        Count = count;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>The pixel bytes, image after image, each row-major.</summary>
    public ReadOnlyMemory<byte> Pixels { get; }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Image height in pixels.</summary>
    public int Rows { get; }

    /// <summary>Image width in pixels.</summary>
    public int Columns { get; }
}
