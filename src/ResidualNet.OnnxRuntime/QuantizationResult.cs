using System.Collections.Generic;
using Google.Protobuf;
using Onnx;

namespace ResidualNet.OnnxRuntime;

/// <summary>A quantized model and what the quantizer did to it.</summary>
public sealed class QuantizationResult
{
    internal QuantizationResult(
        ModelProto model,
        int quantizedOperators,
        IReadOnlyList<string> floatOperators,
        IReadOnlyDictionary<string, ActivationRange> activationRanges,
        long calibrationImages,
        QuantizationOptions options)
    {
        Model = model;
        QuantizedOperators = quantizedOperators;
        FloatOperators = floatOperators;
        ActivationRanges = activationRanges;
        CalibrationImages = calibrationImages;
        Options = options;
    }

    /// <summary>The quantized model in QDQ form (serialize it with <see cref="ToByteArray"/>, or run it with <see cref="OnnxRuntimeSession"/>).</summary>
    public ModelProto Model { get; }

    /// <summary>The number of Conv and Gemm operators whose weights became int8.</summary>
    public int QuantizedOperators { get; }

    /// <summary>
    /// The operators the quantizer left in float32, as "type 'name'" (for example a Sigmoid of squeeze-and-excitation,
    /// or every ReLU with <see cref="ActivationQuantization.Int8Symmetric"/>): they receive dequantized inputs. ONNX Runtime
    /// may still fuse some (a ReLU followed by a uint8 QuantizeLinear). Empty for the library's ReLU networks with
    /// BatchNorm folded and uint8 activations.
    /// </summary>
    public IReadOnlyList<string> FloatOperators { get; }

    /// <summary>The calibrated range, scale and zero point of each activation tensor that has its own, by tensor name.</summary>
    public IReadOnlyDictionary<string, ActivationRange> ActivationRanges { get; }

    /// <summary>The number of calibration images.</summary>
    public long CalibrationImages { get; }

    /// <summary>The options used.</summary>
    public QuantizationOptions Options { get; }

    /// <summary>The model as ONNX bytes.</summary>
    /// <returns>A new array.</returns>
    public byte[] ToByteArray() => Model.ToByteArray();
}
