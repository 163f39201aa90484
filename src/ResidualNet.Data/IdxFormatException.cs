using System;
using System.IO;

namespace ResidualNet.Data;

/// <summary>
/// Thrown when an IDX file (the MNIST / Fashion-MNIST format) is malformed: a wrong magic number, a truncated
/// body, trailing bytes, a corrupt gzip stream, or image and label files that do not match. The message always
/// names the file and the value that was found. (<see cref="InvalidDataException"/> is sealed, so this type
/// derives from <see cref="IOException"/>; a corrupt gzip stream's <see cref="InvalidDataException"/> is kept as the
/// inner exception.)
/// </summary>
public class IdxFormatException : IOException
{
    /// <summary>Creates the exception with a message and no file path.</summary>
    public IdxFormatException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong, including the path and the value found.</param>
    public IdxFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that revealed the problem.</summary>
    /// <param name="message">What is wrong, including the path and the value found.</param>
    /// <param name="innerException">The underlying failure (for example a gzip decoding error).</param>
    public IdxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for one file.</summary>
    /// <param name="filePath">The offending file.</param>
    /// <param name="message">What is wrong, including the path and the value found.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public IdxFormatException(string filePath, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        FilePath = filePath;
    }

    /// <summary>The file that is malformed, when known.</summary>
    public string? FilePath { get; }
}
