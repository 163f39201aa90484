using System;

namespace ResidualNet.Weights;

/// <summary>
/// Thrown when a file cannot be read as weights: it is empty, truncated or corrupt, is in an unsupported format
/// (such as PyTorch's legacy non-zip format or a pickled whole model), or holds something other than a
/// state_dict. The message names the file and says what was wrong; nothing was loaded. One of the library's
/// <see cref="CorruptFileException"/>s.
/// </summary>
public sealed class WeightsFileException : CorruptFileException
{
    /// <summary>Creates the exception with a default message.</summary>
    public WeightsFileException()
        : this("The file cannot be read as weights.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public WeightsFileException(string message)
        : this(message, (Exception?)null)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public WeightsFileException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a file.</summary>
    /// <param name="filePath">The full path of the file.</param>
    /// <param name="format">The format the file was read as.</param>
    /// <param name="reason">What is wrong, as a sentence.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public WeightsFileException(string filePath, WeightsFormat format, string reason, Exception? innerException = null)
        : base(filePath, reason, $"The file '{filePath}' cannot be read as {format} weights: {reason}", innerException)
    {
        Format = format;
    }

    /// <summary>The format the file was read as (<see cref="WeightsFormat.Auto"/> when unknown).</summary>
    public WeightsFormat Format { get; }
}
