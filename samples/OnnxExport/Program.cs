// Exports a ResidualNet network (for example the one samples/Classify trained) to ONNX, and writes TorchSharp's
// top-1 prediction for every Fashion-MNIST test image, so that samples/OnnxInference can check ONNX Runtime against it.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32/wide-resnet-6.weights --out out/onnx/model.onnx
// The options: --help.
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.Samples;
using ResidualNet.Weights;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

return SampleRunner.Run(token => SampleApp.Run<OnnxExportCommand>(
    "dotnet run -c Release --project samples/OnnxExport --",
    "Exports a network (a registry preset, or a Classify network with its trained weights) to ONNX and writes TorchSharp's top-1 for every Fashion-MNIST test image.",
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

    public override ValidationResult Validate() =>
        ClassifyModel is null || SampleNetworks.Classify.Any(n => string.Equals(n.Name, ClassifyModel, StringComparison.OrdinalIgnoreCase))
            ? ValidationResult.Success()
            : ValidationResult.Error($"--classify-model: unknown network '{ClassifyModel}'; choose from {string.Join(", ", SampleNetworks.Classify.Select(n => n.Name))}.");
}

/// <summary>The sample, top to bottom: build, load the weights, export, predict.</summary>
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
        string predictionsPath = settings.Predictions ?? Path.ChangeExtension(settings.Out, ".torchsharp-predictions.txt");
        var predictions = new List<long>(splits.Test.Count);
        long correct = 0;
        var clock = Stopwatch.StartNew();
        using (torch.no_grad())
        {
            foreach (Batch batch in splits.Test.GetBatches(new BatchOptions { BatchSize = 250, Shuffle = false }))
            {
                using var scope = torch.NewDisposeScope();
                Tensor top1 = model.call(batch.Images).argmax(1);
                predictions.AddRange(top1.data<long>().ToArray());
                correct += top1.eq(batch.Labels).sum().item<long>();
            }
        }

        File.WriteAllLines(predictionsPath, predictions.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        output.WriteLine($"TorchSharp: {predictions.Count} test images in {clock.Elapsed.TotalSeconds:F1} s, accuracy {100.0 * correct / predictions.Count:F2}%; predictions in {predictionsPath}");
        return SampleRunner.ExitOk;
    }
}
