using System;

namespace ResidualNet.Weights;

/// <summary>
/// Thrown when a file cannot be read as weights: it is empty, truncated or corrupt, is in an unsupported format
/// (such as PyTorch's legacy non-zip format or a pickled whole model), or holds something other than a
/// state_dict. The message names the file and says what was wrong; nothing was loaded.
/// </summary>
public sealed class WeightsFileException : ArgumentException
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
        FilePath = string.Empty;
    }

    /// <summary>Creates the exception for a file.</summary>
    /// <param name="filePath">The full path of the file.</param>
    /// <param name="format">The format the file was read as.</param>
    /// <param name="problem">What is wrong, as a sentence.</param>
    /// <param name="paramName">The name of the parameter that received the file path.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public WeightsFileException(string filePath, WeightsFormat format, string problem, string paramName, Exception? innerException = null)
        : base($"The file '{filePath}' cannot be read as {format} weights: {problem}", paramName, innerException)
    {
        FilePath = filePath;
        Format = format;
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>The format the file was read as (<see cref="WeightsFormat.Auto"/> when unknown).</summary>
    public WeightsFormat Format { get; }
}
