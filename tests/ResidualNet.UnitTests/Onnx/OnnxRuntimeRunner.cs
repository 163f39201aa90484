using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using Onnx;
using ResidualNet.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Onnx;

/// <summary>Exports a module, runs the file in ONNX Runtime and compares with TorchSharp in eval mode.</summary>
internal static class OnnxRuntimeRunner
{
    internal static float[] Run(byte[] onnx, Tensor input, out long[] shape)
    {
        using var session = new InferenceSession(onnx);
        using var x = input.detach().cpu().contiguous();
        var dense = new DenseTensor<float>(x.data<float>().ToArray(), x.shape.Select(d => (int)d).ToArray());
        string inputName = session.InputMetadata.Keys.Single();
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(inputName, dense) });
        Microsoft.ML.OnnxRuntime.Tensors.Tensor<float> output = results.Single().AsTensor<float>();
        shape = output.Dimensions.ToArray().Select(d => (long)d).ToArray();
        return output.ToArray();
    }

    /// <summary>The largest absolute difference between TorchSharp's eval-mode output and ONNX Runtime's, for each batch size.</summary>
    internal static double MaxDifference(nn.Module<Tensor, Tensor> model, long[] imageShape, OnnxExportOptions? options = null, params int[] batchSizes) =>
        Compare(model, imageShape, options, batchSizes).OnnxVsTorchSharp;

    /// <summary>
    /// Runs TorchSharp in float32, ONNX Runtime on the exported file, and TorchSharp in float64 as the exact reference;
    /// returns the largest absolute differences between them over the batch sizes.
    /// </summary>
    internal static Comparison Compare(nn.Module<Tensor, Tensor> model, long[] imageShape, OnnxExportOptions? options = null, params int[] batchSizes)
    {
        model.eval();
        byte[] onnx = OnnxExporter.ToModelProto(model, options).ToByteArray();
        double onnxVsTorch = 0, onnxVsExact = 0, torchVsExact = 0;
        foreach (int batch in batchSizes.Length == 0 ? new[] { 1, 3 } : batchSizes)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            Tensor x = torch.randn(new[] { (long)batch }.Concat(imageShape).ToArray());
            Tensor expected = model.call(x).contiguous();
            float[] actual = Run(onnx, x, out long[] shape);
            if (!shape.SequenceEqual(expected.shape))
            {
                throw new InvalidOperationException($"shape {string.Join("x", shape)} != {string.Join("x", expected.shape)}");
            }

            model.to(ScalarType.Float64);
            Tensor exact = model.call(x.to(ScalarType.Float64)).contiguous();
            model.to(ScalarType.Float32);

            Tensor onnxOut = torch.tensor(actual, expected.shape);
            onnxVsTorch = Math.Max(onnxVsTorch, (onnxOut - expected).abs().max().item<float>());
            onnxVsExact = Math.Max(onnxVsExact, (onnxOut.to(ScalarType.Float64) - exact).abs().max().item<double>());
            torchVsExact = Math.Max(torchVsExact, (expected.to(ScalarType.Float64) - exact).abs().max().item<double>());
        }

        return new Comparison(onnxVsTorch, onnxVsExact, torchVsExact);
    }

    /// <summary>Largest absolute differences: ONNX Runtime against TorchSharp (float32), and each against TorchSharp in float64.</summary>
    internal readonly record struct Comparison(double OnnxVsTorchSharp, double OnnxVsExact, double TorchSharpVsExact);
}
