using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Google.Protobuf;
using Onnx;
using ResidualNet.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.OnnxRuntime;

/// <summary>
/// Static post-training int8 quantization for ONNX Runtime, in ONNX's QDQ format (QuantizeLinear / DequantizeLinear
/// around float operators, which ONNX Runtime fuses into its integer kernels): int8 weights, symmetric, one scale per
/// output channel, for every Conv and Gemm; int32 biases; 8-bit activations whose ranges are calibrated by running the
/// float32 model in ONNX Runtime on a sample of inputs (<see cref="QuantizationOptions"/>).
/// </summary>
public static class OnnxQuantizer
{
    /// <summary>
    /// Exports <paramref name="model"/> (eval-mode semantics, BatchNorm folded by default), calibrates it on
    /// <paramref name="calibrationImages"/>, and writes the quantized model to <paramref name="path"/>.
    /// </summary>
    /// <param name="model">The trained network.</param>
    /// <param name="calibrationImages">
    /// Inputs like the ones the model will see, preprocessed the same way (N, C, H, W), float32; a few hundred training
    /// images are typical. Run in batches of <see cref="QuantizationOptions.CalibrationBatchSize"/>.
    /// </param>
    /// <param name="path">The ONNX file to write.</param>
    /// <param name="options">Calibration and export settings; <c>new QuantizationOptions()</c> when null.</param>
    /// <returns>The quantized model and what was done.</returns>
    /// <exception cref="ArgumentException">
    /// The calibration images are empty, not float32, or do not fit the model's input; <paramref name="path"/> is empty;
    /// an option is out of range or the options ask for float16 weights (<see cref="QuantizationOptions.Validate"/>: the
    /// exception names the property).
    /// </exception>
    /// <exception cref="OnnxExportException">A module of the network cannot be exported; the message names it.</exception>
    /// <exception cref="NotSupportedException">The exported graph holds an operator the quantizer cannot quantize.</exception>
    public static QuantizationResult ExportQuantized(nn.Module<Tensor, Tensor> model, Tensor calibrationImages, string path, QuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new QuantizationOptions();
        options.Validate();

        CheckImagesBeforeExport(calibrationImages);
        ModelProto exported = OnnxExporter.ToModelProto(model, options.Export);
        QuantizationResult result = Quantize(exported, calibrationImages, options);
        using (FileStream file = File.Create(path))
        {
            result.Model.WriteTo(file);
        }

        return result;
    }

    /// <summary>Quantizes an exported float32 model (one input, for example from <see cref="OnnxExporter.ToModelProto"/>); <paramref name="model"/> is not changed.</summary>
    /// <param name="model">The float32 ONNX model.</param>
    /// <param name="calibrationImages">Calibration inputs (N, ...) matching the model's input, float32.</param>
    /// <param name="options">Calibration settings; <c>new QuantizationOptions()</c> when null (<see cref="QuantizationOptions.Export"/> is not used).</param>
    /// <returns>The quantized model and what was done.</returns>
    /// <exception cref="ArgumentException">The model has no single float input, is already quantized or has nothing to quantize; the calibration images are empty, not float32, or do not fit the model's input; an option is out of range (<see cref="QuantizationOptions.Validate"/>: the exception names the property).</exception>
    /// <exception cref="NotSupportedException">A Conv or Gemm takes its weight from something other than a float32 initializer.</exception>
    public static QuantizationResult Quantize(ModelProto model, Tensor calibrationImages, QuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new QuantizationOptions();
        options.Validate();
        if (model.Graph is null || model.Graph.Input.Count != 1)
        {
            throw new ArgumentException($"The quantizer needs a model with one input; this one has {model.Graph?.Input.Count ?? 0}.", nameof(model));
        }

        ValueInfoProto input = model.Graph.Input[0];
        if (input.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Float)
        {
            throw new ArgumentException($"The model's input '{input.Name}' must be a float32 tensor.", nameof(model));
        }

        CheckImages(calibrationImages, input);
        QdqPlan plan = QdqRewriter.Plan(model.Graph, options.Activations);
        if (plan.WeightNodes.Count == 0)
        {
            throw new ArgumentException("The model has no Conv or Gemm operator to quantize.", nameof(model));
        }

        IReadOnlyList<string> calibrated = plan.Calibrated;
        (double Min, double Max)[] observed;
        using (var scope = torch.NewDisposeScope())
        using (var calibrator = new ActivationCalibrator(model, calibrated, options.IntraOpThreads))
        {
            Tensor images = calibrationImages.detach().cpu();
            observed = calibrator.MinMax(images, options.CalibrationBatchSize);
            if (options.Calibration == CalibrationMethod.Percentile)
            {
                observed = calibrator.Percentile(images, options.CalibrationBatchSize, observed, options.Percentile, options.HistogramBins, options.Activations == ActivationQuantization.Int8Symmetric);
            }
        }

        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        for (int i = 0; i < calibrated.Count; i++)
        {
            ranges[calibrated[i]] = ActivationRange.From(observed[i].Min, observed[i].Max, options.Activations);
        }

        ModelProto quantized = QdqRewriter.Write(model, plan, ranges, options.Activations);
        long count = calibrationImages.shape[0];
        quantized.MetadataProps.Add(new StringStringEntryProto { Key = "residualnet.quantization", Value = Describe(options, count) });
        return new QuantizationResult(quantized, plan.WeightNodes.Count, plan.FloatNodes, ranges, count, options);
    }

    private static string Describe(QuantizationOptions options, long images)
    {
        string calibration = options.Calibration == CalibrationMethod.Percentile
            ? string.Create(CultureInfo.InvariantCulture, $"percentile {options.Percentile} ({options.HistogramBins} bins)")
            : "min-max";
        string activations = options.Activations == ActivationQuantization.UInt8 ? "uint8 asymmetric" : "int8 symmetric";
        return $"static QDQ; weights int8 symmetric per output channel, biases int32; activations {activations}, calibration {calibration} on {images} images";
    }

    private static void CheckImagesBeforeExport(Tensor calibrationImages)
    {
        ArgumentNullException.ThrowIfNull(calibrationImages);
        if (calibrationImages.dtype != ScalarType.Float32)
        {
            throw new ArgumentException($"calibrationImages must be float32; got {calibrationImages.dtype}.", nameof(calibrationImages));
        }

        if (calibrationImages.dim() == 0 || calibrationImages.shape[0] == 0)
        {
            throw new ArgumentException($"calibrationImages holds no images (shape {Shapes.Format(calibrationImages.shape)}); give a sample of inputs, a few hundred are typical.", nameof(calibrationImages));
        }
    }

    private static void CheckImages(Tensor calibrationImages, ValueInfoProto input)
    {
        CheckImagesBeforeExport(calibrationImages);
        IReadOnlyList<TensorShapeProto.Types.Dimension> dims = input.Type.TensorType.Shape?.Dim ?? (IReadOnlyList<TensorShapeProto.Types.Dimension>)Array.Empty<TensorShapeProto.Types.Dimension>();
        long[] expected = dims.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1).ToArray();
        string[] labels = dims.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue.ToString(CultureInfo.InvariantCulture) : (string.IsNullOrEmpty(d.DimParam) ? "?" : d.DimParam)).ToArray();
        Shapes.Check(calibrationImages.shape, expected, labels, input.Name, nameof(calibrationImages));
    }
}

/// <summary>Shape checks with messages that show both shapes.</summary>
internal static class Shapes
{
    internal static string Format(IEnumerable<long> shape) => "[" + string.Join(", ", shape.Select(size => size.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="actual"/> fits <paramref name="expected"/> (-1: any size).</summary>
    internal static void Check(long[] actual, long[] expected, string[] labels, string inputName, string parameterName)
    {
        if (expected.Length == 0)
        {
            return; // the model does not say
        }

        string model = "[" + string.Join(", ", labels) + "]";
        if (actual.Length != expected.Length)
        {
            throw new ArgumentException($"{parameterName} has shape {Format(actual)} ({actual.Length} dimensions); the model's input '{inputName}' is {model} ({expected.Length} dimensions).", parameterName);
        }

        for (int i = 0; i < actual.Length; i++)
        {
            if (expected[i] >= 0 && actual[i] != expected[i])
            {
                throw new ArgumentException($"{parameterName} has shape {Format(actual)}; the model's input '{inputName}' is {model}: dimension {i} must be {expected[i]}, not {actual[i]}.", parameterName);
            }
        }
    }
}
