using System;

namespace ResidualNet.OnnxRuntime;

/// <summary>
/// Thrown when an ONNX file exists but ONNX Runtime cannot load it as a model: empty, truncated, not ONNX, or using
/// an operator or opset this ONNX Runtime does not have. The message names the file and gives ONNX Runtime's reason
/// (the original <c>OnnxRuntimeException</c> is the <see cref="Exception.InnerException"/>). One of the library's
/// <see cref="CorruptFileException"/>s; a missing file is a <see cref="System.IO.FileNotFoundException"/>.
/// </summary>
public sealed class OnnxModelFileException : CorruptFileException
{
    /// <summary>Creates the exception with a default message.</summary>
    public OnnxModelFileException()
        : this("The file cannot be loaded as an ONNX model.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public OnnxModelFileException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public OnnxModelFileException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a file.</summary>
    /// <param name="filePath">The full path of the file.</param>
    /// <param name="reason">What is wrong, as a sentence (ONNX Runtime's own words).</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public OnnxModelFileException(string filePath, string reason, Exception? innerException)
        : base(filePath, reason, $"The file '{filePath}' cannot be loaded as an ONNX model: {reason}", innerException)
    {
    }
}
