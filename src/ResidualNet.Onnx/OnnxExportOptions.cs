using System;
using System.Collections.Generic;

namespace ResidualNet.Onnx;

/// <summary>How an ONNX file is written. Every property has a documented default; make variants with <c>with</c>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The ONNX opset the graph is written for: 17 (supported by ONNX Runtime 1.14 and later).</summary>
    public const int Opset = 17;

    /// <summary>Name of the graph's input; <c>"input"</c> by default.</summary>
    public string InputName { get; init; } = "input";

    /// <summary>Name of the graph's output; <c>"output"</c> by default.</summary>
    public string OutputName { get; init; } = "output";

    /// <summary>
    /// Channels, height and width of one input image, written into the input's type (the batch dimension is
    /// always dynamic, named <c>batch</c>). Null (the default) writes height and width as dynamic too, and the
    /// channel count as the first convolution expects it.
    /// </summary>
    public (int Channels, int Height, int Width)? InputSize { get; init; }

    /// <summary>
    /// True (the default) folds each BatchNorm that follows a convolution into that convolution's weight and bias,
    /// as inference engines prefer; false keeps them as BatchNormalization nodes.
    /// </summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>
    /// True stores the weights as float16 (half the file size), each followed by a Cast to float32, so inputs,
    /// outputs and arithmetic stay float32. False (the default) stores float32 weights.
    /// </summary>
    public bool Float16Weights { get; init; }

    /// <summary>
    /// Converters for module types the exporter does not know (a user's own block), by module type; they take
    /// precedence over the built-in ones. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<Type, OnnxModuleConverter> Converters { get; init; } = new Dictionary<Type, OnnxModuleConverter>();

    /// <summary>Extra metadata (key, value) written into the model besides the producer's own entries.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (string.IsNullOrEmpty(InputName))
        {
            throw new ArgumentException($"InputName must be a non-empty name; got '{InputName}'.", nameof(InputName));
        }

        if (string.IsNullOrEmpty(OutputName))
        {
            throw new ArgumentException($"OutputName must be a non-empty name; got '{OutputName}'.", nameof(OutputName));
        }

        if (InputName == OutputName)
        {
            throw new ArgumentException($"InputName and OutputName must differ; both are '{InputName}'.", nameof(OutputName));
        }

        if (InputSize is { } size && (size.Channels < 1 || size.Height < 1 || size.Width < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(InputSize), size, $"Every size of InputSize must be at least 1; got {size}.");
        }

        if (Converters is null)
        {
            throw new ArgumentNullException(nameof(Converters));
        }

        if (Metadata is null)
        {
            throw new ArgumentNullException(nameof(Metadata));
        }
    }
}
