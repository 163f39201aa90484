// Classifies Fashion-MNIST test images with an ONNX model exported by ResidualNet (samples/OnnxExport), using
// ONNX Runtime alone. Usage:
//   dotnet run -c Release --project samples/OnnxInference -- MODEL.onnx [--data DIR] [--expect PREDICTIONS.txt]
// --expect compares every top-1 with the predictions TorchSharp made (written by samples/OnnxExport).
using System.Diagnostics;
using System.IO.Compression;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

const float Mean = 0.2860f, Std = 0.3530f; // Fashion-MNIST training-set statistics, as ResidualNet.Data normalises
string? model = null, expect = null, data = "/usr/share/datasets/fashion-mnist";
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data" when i + 1 < args.Length: data = args[++i]; break;
        case "--expect" when i + 1 < args.Length: expect = args[++i]; break;
        case var a when !a.StartsWith("--", StringComparison.Ordinal) && model is null: model = a; break;
        default: return Fail($"unknown or incomplete option '{args[i]}' (usage: MODEL.onnx [--data DIR] [--expect PREDICTIONS.txt])");
    }
}

if (model is null || !File.Exists(model))
{
    return Fail(model is null ? "give the ONNX file to run (samples/OnnxExport writes one)" : $"model file not found: '{model}'");
}

byte[] images, labels;
try
{
    images = ReadIdx(Path.Combine(data, "t10k-images-idx3-ubyte.gz"), 0x803, 16);
    labels = ReadIdx(Path.Combine(data, "t10k-labels-idx1-ubyte.gz"), 0x801, 8);
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
    return Fail(e.Message);
}

int count = labels.Length, pixels = 28 * 28;
if (images.Length != count * pixels)
{
    return Fail($"{count} labels but {images.Length / pixels} images in '{data}'");
}

using var session = new InferenceSession(model);
string input = session.InputMetadata.Keys.First();
int[] predictions = new int[count];
var clock = Stopwatch.StartNew();
const int BatchSize = 250;
for (int start = 0; start < count; start += BatchSize)
{
    int n = Math.Min(BatchSize, count - start);
    var batch = new DenseTensor<float>(new[] { n, 1, 28, 28 });
    Span<float> values = batch.Buffer.Span;
    for (int j = 0; j < n * pixels; j++)
    {
        values[j] = ((images[(start * pixels) + j] / 255f) - Mean) / Std;
    }

    using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(input, batch) });
    Tensor<float> logits = results[0].AsTensor<float>();
    int classes = logits.Dimensions[1];
    for (int b = 0; b < n; b++)
    {
        int best = 0;
        for (int c = 1; c < classes; c++)
        {
            if (logits[b, c] > logits[b, best])
            {
                best = c;
            }
        }

        predictions[start + b] = best;
    }
}

double seconds = clock.Elapsed.TotalSeconds;
int correct = predictions.Where((p, i) => p == labels[i]).Count();
Console.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}: {count} test images in {seconds:F1} s, accuracy {100.0 * correct / count:F2}%");
if (expect is not null)
{
    int[] expected = File.ReadAllLines(expect).Where(l => l.Length > 0).Select(int.Parse).ToArray();
    if (expected.Length != count)
    {
        return Fail($"'{expect}' holds {expected.Length} predictions, the test set {count}");
    }

    int same = predictions.Where((p, i) => p == expected[i]).Count();
    Console.WriteLine($"top-1 equal to TorchSharp's on {same} of {count} images ({100.0 * same / count:F2}%)");
    return same == count ? 0 : 1;
}

return 0;

static int Fail(string message)
{
    Console.Error.WriteLine($"OnnxInference: {message}");
    return 2;
}

// Reads an IDX file (gzip), checking its magic number, and returns the bytes after the header.
static byte[] ReadIdx(string path, int magic, int header)
{
    if (!File.Exists(path))
    {
        throw new FileNotFoundException($"not found: '{path}' (pass --data DIR)");
    }

    using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var memory = new MemoryStream();
    gzip.CopyTo(memory);
    byte[] all = memory.ToArray();
    int found = all.Length >= 4 ? (all[0] << 24) | (all[1] << 16) | (all[2] << 8) | all[3] : -1;
    if (found != magic)
    {
        throw new InvalidDataException($"'{path}': magic number 0x{found:X8}, expected 0x{magic:X8}");
    }

    return all[header..];
}
