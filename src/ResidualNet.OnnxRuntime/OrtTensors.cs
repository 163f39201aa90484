using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace ResidualNet.OnnxRuntime;

/// <summary>Moves float32 data between TorchSharp tensors and ONNX Runtime values.</summary>
internal static class OrtTensors
{
    /// <summary>
    /// An ONNX Runtime value over the memory of <paramref name="contiguous"/> (a contiguous float32 CPU tensor), without
    /// copying: keep the tensor alive while the value is used.
    /// </summary>
    internal static unsafe OrtValue Wrap(Tensor contiguous)
    {
        Span<byte> bytes = contiguous.bytes; // the tensor's own (native, unmovable) memory
        return OrtValue.CreateTensorValueWithData(
            OrtMemoryInfo.DefaultInstance,
            TensorElementType.Float,
            contiguous.shape,
            (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes)),
            bytes.Length);
    }

    /// <summary>A new float32 CPU tensor holding a copy of <paramref name="value"/>'s data (one copy).</summary>
    internal static Tensor Copy(OrtValue value)
    {
        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        if (info.ElementDataType != TensorElementType.Float)
        {
            throw new NotSupportedException($"The model's output is {info.ElementDataType}; only float32 outputs are supported.");
        }

        Tensor result = torch.empty(info.Shape, ScalarType.Float32);
        value.GetTensorDataAsSpan<float>().CopyTo(MemoryMarshal.Cast<byte, float>(result.bytes));
        return result;
    }
}
