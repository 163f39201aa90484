using System;
using System.IO;

namespace ResidualNet;

/// <summary>
/// The family of the ResidualNet libraries' errors for a file that exists and opens but whose content is not what it
/// must be: empty, truncated, corrupt, in an unsupported format, or holding something else. Catch it to handle any
/// of them; the derived types say which reader refused the file (<c>WeightsFileException</c> for weights,
/// <c>IdxFormatException</c> for MNIST-format data, <c>OnnxModelFileException</c> for ONNX models). Nothing was loaded from the file.
/// </summary>
/// <remarks>A missing file is a <see cref="FileNotFoundException"/>, not a corrupt one.</remarks>
public abstract class CorruptFileException : IOException
{
    /// <summary>Creates the exception with a default message.</summary>
    protected CorruptFileException()
        : this("The file's content cannot be read.")
    {
    }

    /// <summary>Creates the exception with a message, which is also the <see cref="Reason"/>.</summary>
    /// <param name="message">What is wrong.</param>
    protected CorruptFileException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message, which is also the <see cref="Reason"/>, and an inner exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The exception that revealed the problem.</param>
    protected CorruptFileException(string message, Exception? innerException)
        : this(string.Empty, message, message, innerException)
    {
    }

    /// <summary>Creates the exception for one file.</summary>
    /// <param name="filePath">The full path of the file.</param>
    /// <param name="reason">What is wrong with its content, as a sentence.</param>
    /// <param name="message">The whole message; it names the file.</param>
    /// <param name="innerException">The exception that revealed the problem, if any.</param>
    protected CorruptFileException(string filePath, string reason, string message, Exception? innerException)
        : base(message, innerException)
    {
        FilePath = filePath ?? string.Empty;
        Reason = reason ?? string.Empty;
    }

    /// <summary>The full path of the file; empty when not known.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with the file's content, as a sentence.</summary>
    public string Reason { get; }
}
