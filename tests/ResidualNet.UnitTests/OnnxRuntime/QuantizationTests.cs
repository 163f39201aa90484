using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using Google.Protobuf;
using Onnx;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.OnnxRuntime;
using ResidualNet.TestSupport;
using ResidualNet.UnitTests.Onnx;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.OnnxRuntime;

/// <summary>
/// Static int8 quantization (<see cref="OnnxQuantizer"/>): outputs close to float32, ONNX Runtime running every
/// convolution, addition and the classifier as integer kernels, deterministic calibration, and bad inputs rejected.
/// </summary>
public class QuantizationTests
{
    private static readonly long[] CifarImage = { 3, 32, 32 };
    private readonly ITestOutputHelper _output;

    public QuantizationTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// CIFAR resnet20 (random weights, BatchNorm statistics measured on random data), calibrated on 64 random images and
    /// compared with TorchSharp float32 on 64 others. Stated tolerance: the largest logit error at most 5% of the largest
    /// |logit| (measured: 2.05% min-max, 1.73% percentile), and the same top-1 class on at least 58 of the 64 images
    /// (measured: 61 and 63; random weights leave small margins between the top logits, a trained network agrees on
    /// 99.8% of Fashion-MNIST, see docs/onnx.md).
    /// </summary>
    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    public void QuantizedOutput_IsWithinToleranceOfFloat32(CalibrationMethod method)
    {
        using ResNet model = CifarNetwork(seed: 5);
        using var calibration = torch.randn(new[] { 64L }.Concat(CifarImage).ToArray());
        using var test = torch.randn(new[] { 64L }.Concat(CifarImage).ToArray());
        QuantizationResult result = OnnxQuantizer.Quantize(OnnxExporter.ToModelProto(model), calibration, new QuantizationOptions { Calibration = method });
        result.QuantizedOperators.Should().Be(20, "19 convolutions and the classifier");

        using var session = new OnnxRuntimeSession(result.ToByteArray());
        using var quantized = session.Run(test);
        using var noGrad = torch.no_grad();
        using var expected = model.call(test);
        float error = (quantized - expected).abs().max().item<float>();
        float largest = expected.abs().max().item<float>();
        long agree = quantized.argmax(1).eq(expected.argmax(1)).sum().item<long>();
        _output.WriteLine($"{method}: largest logit error {error:G3} = {100 * error / largest:F2}% of the largest |logit| {largest:G3}; same top-1 on {agree} of 64");
        error.Should().BeLessThan(0.05f * largest, $"{method}: the int8 logits must stay within 5% of the largest |logit| ({largest})");
        agree.Should().BeGreaterThanOrEqualTo(58);
    }

    /// <summary>
    /// ONNX Runtime fuses the QDQ patterns the quantizer writes into its integer kernels (the graph it runs is written
    /// with <see cref="OnnxRuntimeSessionOptions.OptimizedModelPath"/>): resnet18's 20 convolutions become QLinearConv,
    /// its 8 residual additions QLinearAdd, the classifier QGemm, and no float convolution, addition or Gemm is left.
    /// </summary>
    [Fact]
    public void OnnxRuntime_RunsEveryConvolutionAdditionAndTheClassifierAsIntegerKernels()
    {
        torch.manual_seed(6);
        using var model = new ResNet(ModelRegistry.Default.GetOptions("resnet18") with { NumClasses = 10 });
        OnnxNetworkExportTests.Calibrate(model, CifarImage);
        using var calibration = torch.randn(16, 3, 32, 32);
        QuantizationResult result = OnnxQuantizer.Quantize(OnnxExporter.ToModelProto(model), calibration);
        result.FloatOperators.Should().BeEmpty();

        using var folder = new TempFolder();
        string optimized = Path.Combine(folder.Path, "optimized.onnx");
        using (var session = new OnnxRuntimeSession(result.ToByteArray(), new OnnxRuntimeSessionOptions { OptimizedModelPath = optimized }))
        {
            using var output = session.Run(calibration);
        }

        var ops = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        ops.GetValueOrDefault("QLinearConv").Should().Be(20);
        ops.GetValueOrDefault("QLinearAdd").Should().Be(8);
        ops.GetValueOrDefault("QGemm").Should().Be(1);
        ops.GetValueOrDefault("QLinearGlobalAveragePool").Should().Be(1);
        ops.Keys.Should().NotContain(new[] { "Conv", "Add", "Gemm", "Relu", "GlobalAveragePool" });
    }

    [Theory]
    [InlineData(CalibrationMethod.MinMax)]
    [InlineData(CalibrationMethod.Percentile)]
    public void Calibration_IsDeterministic_SameInputsGiveTheSameBytes(CalibrationMethod method)
    {
        using ResNet model = CifarNetwork(seed: 7);
        using var calibration = torch.randn(40, 3, 32, 32);
        var options = new QuantizationOptions { Calibration = method, CalibrationBatchSize = 16 };
        ModelProto exported = OnnxExporter.ToModelProto(model);
        byte[] first = OnnxQuantizer.Quantize(exported, calibration, options).ToByteArray();
        byte[] second = OnnxQuantizer.Quantize(exported, calibration.clone(), options).ToByteArray();
        second.Should().Equal(first);

        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "model.int8.onnx");
        OnnxQuantizer.ExportQuantized(model, calibration, path, options);
        File.ReadAllBytes(path).Should().Equal(first, "the one-call API exports with the same default options");
    }

    [Fact]
    public void ExportQuantized_WritesAModelOnnxRuntimeLoads_WithItsDescriptionInTheMetadata()
    {
        using ResNet model = CifarNetwork(seed: 8);
        using var calibration = torch.randn(8, 3, 32, 32);
        using var folder = new TempFolder();
        string path = Path.Combine(folder.Path, "model.int8.onnx");
        QuantizationResult result = OnnxQuantizer.ExportQuantized(model, calibration, path, new QuantizationOptions { Calibration = CalibrationMethod.Percentile });
        result.CalibrationImages.Should().Be(8);
        result.ActivationRanges.Values.Should().OnlyContain(r => r.Scale > 0 && r.Min <= 0 && r.Max >= 0 && r.ZeroPoint >= 0 && r.ZeroPoint <= 255);

        ModelProto written = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        written.MetadataProps.Single(p => p.Key == "residualnet.quantization").Value.Should().Contain("uint8").And.Contain("percentile 99.999").And.Contain("8 images");
        written.Graph.Initializer.Count(i => i.DataType == (int)TensorProto.Types.DataType.Int8 && i.Dims.Count >= 2).Should().Be(20, "one int8 weight per Conv and Gemm");
        written.Graph.Initializer.Should().NotContain(i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Count >= 2, "no float32 weight is left");
        new FileInfo(path).Length.Should().BeLessThan(OnnxExporter.ToModelProto(model).CalculateSize() / 3, "int8 weights take a quarter of the float32 bytes");

        using var session = new OnnxRuntimeSession(path);
        using var output = session.Run(calibration);
        output.shape.Should().Equal(8, 10);
    }

    [Fact]
    public void Int8SymmetricActivations_AreWrittenAndStayClose()
    {
        using ResNet model = CifarNetwork(seed: 9);
        using var calibration = torch.randn(32, 3, 32, 32);
        QuantizationResult result = OnnxQuantizer.Quantize(OnnxExporter.ToModelProto(model), calibration, new QuantizationOptions { Activations = ActivationQuantization.Int8Symmetric });
        result.ActivationRanges.Values.Should().OnlyContain(r => r.ZeroPoint == 0 && r.Min == -r.Max);
        result.FloatOperators.Should().Contain(o => o.StartsWith("Relu", StringComparison.Ordinal), "a symmetric quantizer cannot absorb a ReLU");

        using var session = new OnnxRuntimeSession(result.ToByteArray());
        using var quantized = session.Run(calibration);
        using var noGrad = torch.no_grad();
        using var expected = model.call(calibration);
        float error = (quantized - expected).abs().max().item<float>(), largest = expected.abs().max().item<float>();
        _output.WriteLine($"int8 symmetric activations: largest logit error {100 * error / largest:F2}% of the largest |logit|");
        error.Should().BeLessThan(0.05f * largest);
    }

    [Fact]
    public void EmptyCalibrationSet_IsRejected()
    {
        using ResNet model = CifarNetwork(seed: 1);
        using var none = torch.empty(0, 3, 32, 32);
        Action quantize = () => OnnxQuantizer.Quantize(OnnxExporter.ToModelProto(model), none);
        quantize.Should().Throw<ArgumentException>().Where(e => e.ParamName == "calibrationImages" && e.Message.Contains("holds no images"));
    }

    [Fact]
    public void CalibrationImagesOfTheWrongShapeOrType_AreRejected()
    {
        using ResNet model = CifarNetwork(seed: 1);
        ModelProto exported = OnnxExporter.ToModelProto(model);
        using var grey = torch.randn(4, 1, 32, 32);
        using var flat = torch.randn(4, 3072);
        using var doubles = torch.randn(4, 3, 32, 32, ScalarType.Float64);

        Action channels = () => OnnxQuantizer.Quantize(exported, grey);
        channels.Should().Throw<ArgumentException>().Where(e => e.ParamName == "calibrationImages" && e.Message.Contains("[4, 1, 32, 32]") && e.Message.Contains("dimension 1 must be 3, not 1"));
        Action rank = () => OnnxQuantizer.Quantize(exported, flat);
        rank.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("[batch, 3, height, width]"));
        Action type = () => OnnxQuantizer.Quantize(exported, doubles);
        type.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("float32") && e.Message.Contains("Float64"));
        Action oneCall = () => OnnxQuantizer.ExportQuantized(model, grey, Path.Combine(Path.GetTempPath(), "never-written.onnx"));
        oneCall.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("dimension 1 must be 3"));
        File.Exists(Path.Combine(Path.GetTempPath(), "never-written.onnx")).Should().BeFalse();
    }

    [Fact]
    public void UnsupportedOperators_AreRejectedWithTheirNames()
    {
        // A module the exporter has no converter for stops the one-call API, named with its path.
        ResNetOptions options = new ResNetBuilder().WithStem(StemKind.Cifar, 8).WithClasses(3).AddStage(BlockKind.Basic, 1, 8).Build();
        using var custom = new ResNet(options with { Block = options.Block with { Activation = ActivationFactory.Custom("Swish", () => new Swish()) } });
        using var images = torch.randn(2, 3, 8, 8);
        Action export = () => OnnxQuantizer.ExportQuantized(custom, images, Path.Combine(Path.GetTempPath(), "never-written.onnx"));
        export.Should().Throw<OnnxExportException>().Where(e => e.ModulePath == "act1");

        // A convolution whose weight is computed (float16 weights behind a Cast) cannot be quantized.
        using var plain = new ResNet(options);
        ModelProto half = OnnxExporter.ToModelProto(plain, new OnnxExportOptions { Float16Weights = true });
        Action quantizeHalf = () => OnnxQuantizer.Quantize(half, images);
        quantizeHalf.Should().Throw<NotSupportedException>().Where(e => e.Message.Contains("Conv node 'conv1/Conv'") && e.Message.Contains("Float16Weights = false"));
        Action halfOption = () => OnnxQuantizer.ExportQuantized(plain, images, "x.onnx", new QuantizationOptions { Export = new OnnxExportOptions { Float16Weights = true } });
        halfOption.Should().Throw<ArgumentException>().Where(e => e.ParamName == "Export" && e.Message.Contains("Float16Weights must be false"));

        // A model that is already quantized.
        ModelProto quantized = OnnxQuantizer.Quantize(OnnxExporter.ToModelProto(plain), images).Model;
        Action twice = () => OnnxQuantizer.Quantize(quantized, images);
        twice.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("already quantized"));
    }

    [Fact]
    public void OptionsOutOfRange_AreRejected()
    {
        using ResNet model = CifarNetwork(seed: 1);
        ModelProto exported = OnnxExporter.ToModelProto(model);
        using var images = torch.randn(2, 3, 32, 32);
        foreach ((QuantizationOptions bad, string property, string value) in new[]
        {
            (new QuantizationOptions { Percentile = 0 }, "Percentile", "got 0."),
            (new QuantizationOptions { Percentile = 100.5 }, "Percentile", "got 100.5."),
            (new QuantizationOptions { HistogramBins = 4 }, "HistogramBins", "got 4."),
            (new QuantizationOptions { CalibrationBatchSize = 0 }, "CalibrationBatchSize", "got 0."),
            (new QuantizationOptions { IntraOpThreads = -1 }, "IntraOpThreads", "got -1."),
            (new QuantizationOptions { Calibration = (CalibrationMethod)7 }, "Calibration", "got 7."),
            (new QuantizationOptions { Activations = (ActivationQuantization)9 }, "Activations", "got 9."),
        })
        {
            Action quantize = () => OnnxQuantizer.Quantize(exported, images, bad);
            quantize.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == property && e.Message.Contains(value));
        }

        Action badExport = () => OnnxQuantizer.Quantize(exported, images, new QuantizationOptions { Export = new OnnxExportOptions { InputName = string.Empty } });
        badExport.Should().Throw<ArgumentException>().Where(e => e.ParamName == "InputName");
    }

    /// <summary>Random weights and BatchNorm statistics measured on random data (see <see cref="OnnxNetworkExportTests.Calibrate"/>).</summary>
    private static ResNet CifarNetwork(int seed)
    {
        torch.manual_seed(seed);
        ResNet model = ModelRegistry.Default.Create("resnet20");
        OnnxNetworkExportTests.Calibrate(model, CifarImage);
        return model;
    }

    private sealed class Swish : nn.Module<Tensor, Tensor>
    {
        public Swish()
            : base(nameof(Swish))
        {
        }

        public override Tensor forward(Tensor input) => input * torch.sigmoid(input);
    }
}
