// Exports a ResidualNet network (for example the one samples/Classify trained) to ONNX, and writes TorchSharp's
// top-1 prediction for every Fashion-MNIST test image, so that samples/OnnxInference can check ONNX Runtime against it.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32/wide-resnet-6.weights --out out/onnx/model.onnx
// With --int8 it also writes an int8 model (static QDQ quantization, ResidualNet.OnnxRuntime) beside --out and runs it
// in ONNX Runtime on the whole test set: accuracy, and top-1 agreement with TorchSharp fp32.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32-e8/wide-resnet-6.weights --out out/onnx/model.onnx --int8
// The options: --help.
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.OnnxRuntime;
using ResidualNet.Samples;
using ResidualNet.Weights;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

return SampleRunner.Run(token => SampleApp.Run<OnnxExportCommand>(
    "dotnet run -c Release --project samples/OnnxExport --",
    "Exports a network (a registry preset, or a Classify network with its trained weights) to ONNX and writes TorchSharp's top-1 for every Fashion-MNIST test image; with --int8 also an int8 model, checked in ONNX Runtime against TorchSharp.",
    args,
    SampleConsole.System,
    token));

/// <summary>The OnnxExport sample's options.</summary>
internal sealed class OnnxExportSettings : CommandSettings
{
    [CommandOption("--model <NAME>")]
    [Description("A registry preset (ModelRegistry.Default), built for --input-channels and --classes.")]
    [DefaultValue("resnet20")]
    public string Model { get; init; } = "resnet20";

    [CommandOption("--classify-model <NAME>")]
    [Description("Instead of a preset, a network of samples/Classify (resnet-20, wide-resnet-6, wide-resnet-10; samples/Shared/SampleNetworks.cs).")]
    public string? ClassifyModel { get; init; }

    [CommandOption("--weights <FILE>")]
    [Description("TorchSharp, PyTorch or safetensors weights; without them the network is untrained.")]
    public string? Weights { get; init; }

    [CommandOption("--out <FILE>")]
    [Description("The ONNX file.")]
    [DefaultValue("model.onnx")]
    public string Out { get; init; } = "model.onnx";

    [CommandOption("--predictions <FILE>")]
    [Description("TorchSharp's top-1 for every test image, one a line. Default: beside --out (.torchsharp-predictions.txt).")]
    public string? Predictions { get; init; }

    [CommandOption("--data <DIR>")]
    [Description("Fashion-MNIST folder. Default /usr/share/datasets/fashion-mnist.")]
    public string? Data { get; init; }

    [CommandOption("--input-channels <N>")]
    [Description("Input channels of a preset.")]
    [DefaultValue(1)]
    [Between(1, 64)]
    public int InputChannels { get; init; } = 1;

    [CommandOption("--classes <N>")]
    [Description("Classes of a preset.")]
    [DefaultValue(10)]
    [Between(1, 100_000)]
    public int Classes { get; init; } = 10;

    [CommandOption("--keep-batchnorm")]
    [Description("Export BatchNorm layers instead of folding them into the convolutions.")]
    public bool KeepBatchNorm { get; init; }

    [CommandOption("--int8")]
    [Description("Also write an int8 model (FILE.int8.onnx beside --out; static QDQ quantization, ResidualNet.OnnxRuntime) and run it in ONNX Runtime on the whole test set: accuracy, and top-1 agreement with TorchSharp fp32.")]
    public bool Int8 { get; init; }

    [CommandOption("--calibration <N>")]
    [Description("With --int8: training images to calibrate on, chosen at random with seed 1 (at most the training set). Default 500.")]
    [Between(1, int.MaxValue)]
    public int? Calibration { get; init; }

    [CommandOption("--calibration-method <METHOD>")]
    [Description("With --int8: minmax, or percentile (the range holding 99.999% of the values). Default: the library's (minmax).")]
    public CalibrationMethod? CalibrationMethod { get; init; }

    [CommandOption("--activations <CODES>")]
    [Description("With --int8: uint8 (asymmetric; the default) or int8 (symmetric) activations.")]
    public ActivationCodes? Activations { get; init; }

    /// <summary>Calibration images, after the default.</summary>
    public int CalibrationCount => Calibration ?? 500;

    /// <summary>The quantization options these settings describe (the library's defaults for what was not given).</summary>
    /// <param name="export">How the float32 model is exported.</param>
    /// <returns>The options.</returns>
    public QuantizationOptions ToQuantizationOptions(OnnxExportOptions export)
    {
        var defaults = new QuantizationOptions();
        return defaults with
        {
            Calibration = CalibrationMethod ?? defaults.Calibration,
            Activations = Activations switch
            {
                null => defaults.Activations,
                ActivationCodes.Int8 => ActivationQuantization.Int8Symmetric,
                _ => ActivationQuantization.UInt8,
            },
            Export = export,
        };
    }

    public override ValidationResult Validate()
    {
        if (ClassifyModel is not null && !SampleNetworks.Classify.Any(n => string.Equals(n.Name, ClassifyModel, StringComparison.OrdinalIgnoreCase)))
        {
            return ValidationResult.Error($"--classify-model: unknown network '{ClassifyModel}'; choose from {string.Join(", ", SampleNetworks.Classify.Select(n => n.Name))}.");
        }

        string? int8Only = Calibration is not null ? "--calibration" : CalibrationMethod is not null ? "--calibration-method" : Activations is not null ? "--activations" : null;
        return Int8 || int8Only is null ? ValidationResult.Success() : ValidationResult.Error($"{int8Only} needs --int8.");
    }
}

/// <summary>The activation codes of <c>--activations</c>.</summary>
internal enum ActivationCodes
{
    /// <summary>uint8, asymmetric (<see cref="ActivationQuantization.UInt8"/>).</summary>
    UInt8 = 0,

    /// <summary>int8, symmetric (<see cref="ActivationQuantization.Int8Symmetric"/>).</summary>
    Int8 = 1,
}

/// <summary>The sample, top to bottom: build, load the weights, export, quantize (with --int8), predict.</summary>
internal sealed class OnnxExportCommand : Command<OnnxExportSettings>
{
    public override int Execute(CommandContext context, OnnxExportSettings settings, CancellationToken cancellationToken)
    {
        var output = ((SampleConsole)context.Data!).Out;
        torch.set_num_threads(Math.Min(Environment.ProcessorCount, 2));
        using ResNet model = settings.ClassifyModel is { } name
            ? SampleNetworks.Classify.Find(name).Create()
            : new ResNet(ModelRegistry.Default.GetOptions(settings.Model) with { InputChannels = settings.InputChannels, NumClasses = settings.Classes });
        string modelName = settings.ClassifyModel ?? settings.Model;
        if (settings.Weights is null)
        {
            output.WriteLine("No --weights given: exporting an untrained network.");
        }
        else
        {
            ModelWeights.Load(model, settings.Weights);
        }

        model.eval();
        var options = new OnnxExportOptions
        {
            FoldBatchNorm = !settings.KeepBatchNorm,
            InputName = "image",
            OutputName = "logits",
            Metadata = new Dictionary<string, string> { ["residualnet.preset"] = modelName, ["residualnet.normalization"] = "mean 0.2860, std 0.3530" },
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.Out))!);
        try
        {
            OnnxExporter.Export(model, settings.Out, options);
        }
        catch (OnnxExportException e)
        {
            throw new SampleException(e.Message, e);
        }

        output.WriteLine($"Wrote {settings.Out} ({new FileInfo(settings.Out).Length / 1024.0 / 1024.0:F1} MiB, opset {OnnxExportOptions.Opset}, BatchNorm {(settings.KeepBatchNorm ? "kept" : "folded")}).");

        using DataSplits splits = FashionMnist.Load(settings.Data);
        using OnnxRuntimeSession? quantized = settings.Int8 ? Quantize(model, splits, options, settings, output) : null;
        string predictionsPath = settings.Predictions ?? Path.ChangeExtension(settings.Out, ".torchsharp-predictions.txt");
        var predictions = new List<long>(splits.Test.Count);
        long correct = 0, int8Correct = 0, agree = 0;
        var clock = Stopwatch.StartNew();
        var int8Clock = new Stopwatch();
        using (torch.no_grad())
        {
            foreach (Batch batch in splits.Test.GetBatches(new BatchOptions { BatchSize = 250, Shuffle = false }))
            {
                using var scope = torch.NewDisposeScope();
                Tensor top1 = model.call(batch.Images).argmax(1);
                predictions.AddRange(top1.data<long>().ToArray());
                correct += top1.eq(batch.Labels).sum().item<long>();
                if (quantized is not null)
                {
                    int8Clock.Start();
                    Tensor int8Top1 = quantized.Run(batch.Images).argmax(1);
                    int8Clock.Stop();
                    int8Correct += int8Top1.eq(batch.Labels).sum().item<long>();
                    agree += int8Top1.eq(top1).sum().item<long>();
                }
            }
        }

        File.WriteAllLines(predictionsPath, predictions.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        double total = predictions.Count;
        output.WriteLine($"TorchSharp: {predictions.Count} test images in {clock.Elapsed.TotalSeconds:F1} s, accuracy {100.0 * correct / total:F2}%; predictions in {predictionsPath}");
        if (quantized is not null)
        {
            output.WriteLine(
                $"ONNX Runtime int8: accuracy {100.0 * int8Correct / total:F2}% ({int8Correct}/{predictions.Count}; fp32 {100.0 * correct / total:F2}%, difference {100.0 * (int8Correct - correct) / total:+0.00;-0.00;0.00} points), "
                + $"top-1 agreement with TorchSharp fp32 {100.0 * agree / total:F2}% ({agree}/{predictions.Count}); int8 passes {int8Clock.Elapsed.TotalSeconds:F1} s.");
        }

        return SampleRunner.ExitOk;
    }

    /// <summary>
    /// Writes the int8 model beside <see cref="OnnxExportSettings.Out"/> (FILE.int8.onnx), calibrated on a seeded random
    /// subset of the training images, says what was written, and opens it in ONNX Runtime.
    /// </summary>
    /// <exception cref="SampleException">The network cannot be exported or quantized (a module or an operator the
    /// exporter or the quantizer does not support).</exception>
    private static OnnxRuntimeSession Quantize(ResNet model, DataSplits splits, OnnxExportOptions export, OnnxExportSettings settings, TextWriter output)
    {
        string int8Path = Path.ChangeExtension(settings.Out, ".int8.onnx");
        using ImageDataSet calibration = splits.Train.RandomSubset(Math.Min(settings.CalibrationCount, splits.Train.Count), seed: 1);
        var clock = Stopwatch.StartNew();
        QuantizationResult result;
        try
        {
            result = OnnxQuantizer.ExportQuantized(model, calibration.Images, int8Path, settings.ToQuantizationOptions(export));
        }
        catch (Exception e) when (e is OnnxExportException or NotSupportedException)
        {
            throw new SampleException($"--int8: {SampleRunner.OneLine(e)}", e);
        }

        output.WriteLine(
            $"Wrote {int8Path} ({new FileInfo(int8Path).Length / 1024.0 / 1024.0:F2} MiB): {result.QuantizedOperators} Conv/Gemm with int8 weights, "
            + $"{result.Model.MetadataProps.Single(p => p.Key == "residualnet.quantization").Value}; {clock.Elapsed.TotalSeconds:F1} s.");
        return new OnnxRuntimeSession(int8Path, new OnnxRuntimeSessionOptions { IntraOpThreads = torch.get_num_threads() });
    }
}
