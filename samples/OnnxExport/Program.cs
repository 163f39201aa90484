// Exports a ResidualNet network (for example the one samples/Classify trained) to ONNX, and writes TorchSharp's
// top-1 prediction for every Fashion-MNIST test image, so that samples/OnnxInference can check ONNX Runtime against it.
//   dotnet run -c Release --project samples/OnnxExport -- --classify-model wide-resnet-6 \
//       --weights out/classify-fp32/wide-resnet-6.weights --out out/onnx/model.onnx
// Options: --model NAME (a registry preset, default resnet20), --classify-model NAME (a network of samples/Classify,
// such as wide-resnet-6 or resnet-20, instead of a preset), --input-channels N (default 1), --classes N
// (default 10), --weights FILE (TorchSharp, PyTorch or safetensors weights; without it the network is untrained),
// --out FILE (default model.onnx), --predictions FILE (default: beside --out), --data DIR, --keep-batchnorm.
using System.Diagnostics;
using System.Globalization;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.Samples;
using ResidualNet.Weights;
using TorchSharp;
using static TorchSharp.torch;

string modelName = "resnet20", output = "model.onnx";
string? weights = null, predictionsPath = null, data = null, classifyModel = null;
long inputChannels = 1, classes = 10;
bool keepBatchNorm = false;
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
            default: throw new ArgumentException($"unknown option '{args[i]}'");
        }
    }

    torch.set_num_threads(Math.Min(Environment.ProcessorCount, 2));
    NamedNetwork? classifyNetwork = classifyModel is null ? null : SampleNetworks.Classify.Find(classifyModel);
    using ResNet model = classifyModel is null
        ? ModelRegistry.Default.Create(modelName, o => o with { InputChannels = inputChannels, NumClasses = classes })
        : classifyNetwork!.Create();
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
    predictionsPath ??= Path.ChangeExtension(output, ".torchsharp-predictions.txt");
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
    Console.WriteLine($"TorchSharp: {predictions.Count} test images in {clock.Elapsed.TotalSeconds:F1} s, accuracy {100.0 * correct / predictions.Count:F2}%; predictions in {predictionsPath}");
    return 0;
}
catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or OnnxExportException)
{
    Console.Error.WriteLine($"OnnxExport: {e.Message.Split('\n')[0]}");
    return 2;
}
