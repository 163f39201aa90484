// Exports a ResidualNet network (for example the one samples/Classify trained) to ONNX, and writes TorchSharp's
// top-1 prediction for every Fashion-MNIST test image, so that samples/OnnxInference can check ONNX Runtime against it.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32/wide-resnet-6.weights --out out/onnx/model.onnx
// Options: --model NAME (a registry preset, default resnet20), --classify-model NAME (a network of samples/Classify,
// such as wide-resnet-6 or resnet-20, instead of a preset), --input-channels N (default 1), --classes N
// (default 10), --weights FILE (TorchSharp, PyTorch or safetensors weights; without it the network is untrained),
// --out FILE (default model.onnx), --predictions FILE (default: beside --out), --data DIR, --keep-batchnorm.
// --int8 also writes an int8 model (FILE.int8.onnx beside --out; static QDQ quantization, ResidualNet.OnnxRuntime)
// calibrated on --calibration N training images (default 500, chosen at random with seed 1), and runs it in ONNX
// Runtime on the whole test set: accuracy, and top-1 agreement with TorchSharp fp32. With --int8:
// --calibration-method minmax|percentile (default: the library's), --activations uint8|int8.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32-e8/wide-resnet-6.weights --out out/onnx/model.onnx --int8
using System.Diagnostics;
using System.Globalization;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.OnnxRuntime;
using ResidualNet.Weights;
using TorchSharp;
using static TorchSharp.torch;

string modelName = "resnet20", output = "model.onnx";
string? weights = null, predictionsPath = null, data = null, classifyModel = null;
long inputChannels = 1, classes = 10;
bool keepBatchNorm = false, int8 = false;
int calibrationCount = 500;
var quantization = new QuantizationOptions();
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option {args[i]} needs a value");
        long Count(string option)
        {
            string v = Value();
            return long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 1 ? n : throw new ArgumentException($"{option} must be a whole number of 1 or more; got '{v}'");
        }

        switch (args[i])
        {
            case "--model": modelName = Value(); break;
            case "--classify-model": classifyModel = Value(); break;
            case "--weights": weights = Value(); break;
            case "--out": output = Value(); break;
            case "--predictions": predictionsPath = Value(); break;
            case "--data": data = Value(); break;
            case "--input-channels": inputChannels = Count("--input-channels"); break;
            case "--classes": classes = Count("--classes"); break;
            case "--keep-batchnorm": keepBatchNorm = true; break;
            case "--int8": int8 = true; break;
            case "--calibration": calibrationCount = checked((int)Count("--calibration")); break;
            case "--calibration-method":
                quantization = quantization with
                {
                    Calibration = Value() switch
                    {
                        "minmax" => CalibrationMethod.MinMax,
                        "percentile" => CalibrationMethod.Percentile,
                        var v => throw new ArgumentException($"--calibration-method must be minmax or percentile; got '{v}'"),
                    },
                };
                break;
            case "--activations":
                quantization = quantization with
                {
                    Activations = Value() switch
                    {
                        "uint8" => ActivationQuantization.UInt8,
                        "int8" => ActivationQuantization.Int8Symmetric,
                        var v => throw new ArgumentException($"--activations must be uint8 or int8; got '{v}'"),
                    },
                };
                break;
            default: throw new ArgumentException($"unknown option '{args[i]}'");
        }
    }

    torch.set_num_threads(Math.Min(Environment.ProcessorCount, 2));
    if (classifyModel is not null && !ResidualNet.Samples.Classify.Models.Names.Contains(classifyModel, StringComparer.OrdinalIgnoreCase))
    {
        throw new ArgumentException($"--classify-model: unknown network '{classifyModel}'; choose from {string.Join(", ", ResidualNet.Samples.Classify.Models.Names)}");
    }

    using ResNet model = classifyModel is null
        ? ModelRegistry.Default.Create(modelName, o => o with { InputChannels = inputChannels, NumClasses = classes })
        : ResidualNet.Samples.Classify.Models.Create(classifyModel);
    modelName = classifyModel ?? modelName;
    if (weights is null)
    {
        Console.WriteLine("No --weights given: exporting an untrained network.");
    }
    else
    {
        ModelWeights.Load(model, weights);
    }

    model.eval();
    var options = new OnnxExportOptions
    {
        FoldBatchNorm = !keepBatchNorm,
        InputName = "image",
        OutputName = "logits",
        Metadata = new Dictionary<string, string> { ["residualnet.preset"] = modelName, ["residualnet.normalization"] = "mean 0.2860, std 0.3530" },
    };
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    OnnxExporter.Export(model, output, options);
    Console.WriteLine($"Wrote {output} ({new FileInfo(output).Length / 1024.0 / 1024.0:F1} MiB, opset {OnnxExportOptions.Opset}, BatchNorm {(keepBatchNorm ? "kept" : "folded")}).");

    using DataSplits splits = FashionMnist.Load(data);
    OnnxRuntimeSession? quantized = null;
    if (int8)
    {
        string int8Path = Path.ChangeExtension(output, ".int8.onnx");
        using ImageDataSet calibration = splits.Train.RandomSubset(Math.Min(calibrationCount, splits.Train.Count), seed: 1);
        var quantizeClock = Stopwatch.StartNew();
        QuantizationResult result = OnnxQuantizer.ExportQuantized(model, calibration.Images, int8Path, quantization with { Export = options });
        Console.WriteLine(
            $"Wrote {int8Path} ({new FileInfo(int8Path).Length / 1024.0 / 1024.0:F2} MiB): {result.QuantizedOperators} Conv/Gemm with int8 weights, "
            + $"{result.Model.MetadataProps.Single(p => p.Key == "residualnet.quantization").Value}; {quantizeClock.Elapsed.TotalSeconds:F1} s.");
        quantized = new OnnxRuntimeSession(int8Path, new OnnxRuntimeSessionOptions { IntraOpThreads = torch.get_num_threads() });
    }

    predictionsPath ??= Path.ChangeExtension(output, ".torchsharp-predictions.txt");
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
    Console.WriteLine($"TorchSharp: {predictions.Count} test images in {clock.Elapsed.TotalSeconds:F1} s, accuracy {100.0 * correct / total:F2}%; predictions in {predictionsPath}");
    if (quantized is not null)
    {
        Console.WriteLine(
            $"ONNX Runtime int8: accuracy {100.0 * int8Correct / total:F2}% ({int8Correct}/{predictions.Count}; fp32 {100.0 * correct / total:F2}%, difference {100.0 * (int8Correct - correct) / total:+0.00;-0.00;0.00} points), "
            + $"top-1 agreement with TorchSharp fp32 {100.0 * agree / total:F2}% ({agree}/{predictions.Count}); int8 passes {int8Clock.Elapsed.TotalSeconds:F1} s.");
        quantized.Dispose();
    }

    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or OnnxExportException or NotSupportedException)
{
    Console.Error.WriteLine($"OnnxExport: {e.Message.Split('\n')[0]}");
    return 2;
}
