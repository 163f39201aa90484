using System;
using System.IO;

namespace ResidualNet.Data;

/// <summary>
/// Thrown when an IDX file (the MNIST / Fashion-MNIST format) is malformed: a wrong magic number, a truncated
/// body, trailing bytes, a corrupt gzip stream, or image and label files that do not match. The message always
/// names the file and the value that was found. One of the ResidualNet libraries' <see cref="CorruptFileException"/>s
/// (an <see cref="IOException"/>); a corrupt gzip stream's <see cref="InvalidDataException"/> is kept as the inner
/// exception.
/// </summary>
public class IdxFormatException : CorruptFileException
{
    /// <summary>Creates the exception with a default message and no file path.</summary>
    public IdxFormatException()
        : this("The file is not a well-formed IDX file.")
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
    /// <param name="reason">What is wrong, as a sentence that names the file and the value found; it is the message.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public IdxFormatException(string filePath, string reason, Exception? innerException = null)
        : base(filePath, reason, reason, innerException)
    {
    }
}
