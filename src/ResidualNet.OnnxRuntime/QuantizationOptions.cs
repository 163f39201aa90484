using System;
using ResidualNet.Onnx;

namespace ResidualNet.OnnxRuntime;

/// <summary>How the range of each activation tensor is chosen from the calibration images.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: nothing is clipped, but one outlier widens the step for every value.</summary>
    MinMax,

    /// <summary>
    /// The range that holds <see cref="QuantizationOptions.Percentile"/> percent of the values seen (read from a
    /// histogram of <see cref="QuantizationOptions.HistogramBins"/> bins; the rest is cut equally from both tails, or
    /// from the top of |x| for symmetric activations): a few outliers are clipped, and the step is finer for the rest.
    /// </summary>
    Percentile,
}

/// <summary>The 8-bit type of quantized activations (weights are always int8, symmetric, per output channel).</summary>
public enum ActivationQuantization
{
    /// <summary>
    /// uint8 with a zero point (asymmetric): the whole 0-255 range covers [min, max]. A ReLU output gets zero point 0,
    /// so the QuantizeLinear clamp computes the ReLU and ONNX Runtime drops the ReLU node (its ReluQuantFusion).
    /// </summary>
#pragma warning disable CA1720 // the member names the 8-bit type it selects, as ONNX Runtime's QuantType does
    UInt8,
#pragma warning restore CA1720

    /// <summary>
    /// int8 with zero point 0 (symmetric, [-127, 127] covers [-max|x|, max|x|]): half of the codes go unused for
    /// ReLU outputs, and each ReLU stays a float operator between a DequantizeLinear and a QuantizeLinear. On x64
    /// CPUs without AVX-VNNI-INT8, ONNX Runtime converts int8 activations to uint8 (zero point 128) before fusing.
    /// </summary>
    Int8Symmetric,
}

/// <summary>
/// How <see cref="OnnxQuantizer"/> quantizes a network. Every property has a documented default; make variants
/// with <c>with</c>.
/// </summary>
public sealed record QuantizationOptions
{
    /// <summary>How activation ranges are calibrated. Default: <see cref="CalibrationMethod.MinMax"/> (see docs/onnx.md for the measurement behind this choice).</summary>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.MinMax;

    /// <summary>The percentage of values the range keeps with <see cref="CalibrationMethod.Percentile"/>, in (0, 100]. Default: 99.999.</summary>
    public double Percentile { get; init; } = 99.999;

    /// <summary>Bins of each activation's histogram with <see cref="CalibrationMethod.Percentile"/>, 16 or more. Default: 2048.</summary>
    public int HistogramBins { get; init; } = 2048;

    /// <summary>The 8-bit type of activations. Default: <see cref="ActivationQuantization.UInt8"/> (measured faster in ONNX Runtime on x64, see docs/onnx.md).</summary>
    public ActivationQuantization Activations { get; init; } = ActivationQuantization.UInt8;

    /// <summary>
    /// Images per ONNX Runtime call during calibration, 1 or more. Default: 8 (every calibrated tensor of a batch is held
    /// at once: resnet50 at 224x224 holds about 60 MB of activations per image). The ranges do not depend on it.
    /// </summary>
    public int CalibrationBatchSize { get; init; } = 8;

    /// <summary>ONNX Runtime intra-op threads during calibration; 0 (the default) lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// How <see cref="OnnxQuantizer.ExportQuantized"/> exports the network before quantizing it. Default:
    /// <c>new OnnxExportOptions()</c> (BatchNorm folded). <see cref="OnnxExportOptions.Float16Weights"/> must stay false:
    /// the quantizer reads float32 weights.
    /// </summary>
    public OnnxExportOptions Export { get; init; } = new();

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range (an <see cref="ArgumentOutOfRangeException"/> for a number or
    /// an enum value), <see cref="Export"/> is null or asks for float16 weights, or <see cref="Export"/> fails its own
    /// <see cref="OnnxExportOptions.Validate"/>; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (!(Percentile > 0 && Percentile <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, $"Percentile must be in (0, 100]; got {Percentile}.");
        }

        if (HistogramBins < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(HistogramBins), HistogramBins, $"HistogramBins must be 16 or more; got {HistogramBins}.");
        }

        if (CalibrationBatchSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(CalibrationBatchSize), CalibrationBatchSize, $"CalibrationBatchSize must be 1 or more; got {CalibrationBatchSize}.");
        }

        if (IntraOpThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, $"IntraOpThreads must be 0 (ONNX Runtime's choice) or more; got {IntraOpThreads}.");
        }

        if (!Enum.IsDefined(Calibration))
        {
            throw new ArgumentOutOfRangeException(nameof(Calibration), Calibration, $"Calibration must be a CalibrationMethod; got {Calibration}.");
        }

        if (!Enum.IsDefined(Activations))
        {
            throw new ArgumentOutOfRangeException(nameof(Activations), Activations, $"Activations must be an ActivationQuantization; got {Activations}.");
        }

        if (Export is null)
        {
            throw new ArgumentNullException(nameof(Export), "Export must be export options; got null.");
        }

        if (Export.Float16Weights)
        {
            throw new ArgumentException("Export.Float16Weights must be false: the quantizer reads the float32 weights and stores int8 ones; got true.", nameof(Export));
        }

        Export.Validate();
    }
}
