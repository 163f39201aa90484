using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using static TorchSharp.torch;

namespace ResidualNet.TestSupport.Reference;

/// <summary>One state_dict entry as Python listed it (dtype as PyTorch names it: float32, int64).</summary>
/// <param name="Name">The key.</param>
/// <param name="Shape">The shape.</param>
/// <param name="DType">The dtype, compared without regard to case (TorchSharp writes Float32, PyTorch float32).</param>
/// <param name="Bits">The checksum of the fixture's formula values (<see cref="FormulaWeights.Bits"/>); null where not recorded.</param>
internal sealed record ReferenceKey(string Name, long[] Shape, string DType, string? Bits = null)
{
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}] {DType.ToLowerInvariant()}";
}

/// <summary>
/// What <c>torchvision_reference.py</c> wrote for one model into a temporary folder (deleted on dispose): the
/// weights (<c>torch.save(state_dict)</c>), optionally the same weights as safetensors, a fixed input, the
/// eval-mode logits for it and the state_dict keys in order with their shapes.
/// </summary>
internal sealed class TorchvisionReference : IDisposable
{
    private TorchvisionReference(string folder, string model, IReadOnlyList<ReferenceKey> keys, long[] inputShape, long[] logitsShape)
    {
        Folder = folder;
        Model = model;
        Keys = keys;
        InputShape = inputShape;
        LogitsShape = logitsShape;
    }

    public string Folder { get; }

    public string Model { get; }

    public string WeightsPath => Path.Combine(Folder, "weights.pt");

    public string SafetensorsPath => Path.Combine(Folder, "weights.safetensors");

    /// <summary>The state_dict keys in Python's order, with shapes and dtypes.</summary>
    public IReadOnlyList<ReferenceKey> Keys { get; }

    public long[] InputShape { get; }

    public long[] LogitsShape { get; }

    /// <summary>Runs the script for a torchvision model name and reads what it wrote.</summary>
    public static TorchvisionReference Create(
        string model, long[]? inputShape = null, int seed = 0, int numClasses = 1000, bool safetensors = false, string? weights = null)
    {
        PythonEnvironment.Require();
        inputShape ??= [1, 3, 64, 64];
        string folder = Path.Combine(Path.GetTempPath(), "residualnet-reference-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var arguments = new List<string>
            {
                PythonEnvironment.Script("torchvision_reference.py"),
                "--model", model,
                "--out", folder,
                "--seed", seed.ToString(CultureInfo.InvariantCulture),
                "--input", string.Join(',', inputShape),
                "--num-classes", numClasses.ToString(CultureInfo.InvariantCulture),
            };
            if (safetensors)
            {
                arguments.Add("--safetensors");
            }

            if (weights is not null)
            {
                arguments.Add("--weights");
                arguments.Add(weights);
            }

            PythonEnvironment.Run(TimeSpan.FromMinutes(5), arguments.ToArray());
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "reference.json")));
            var root = json.RootElement;
            var keys = root.GetProperty("keys").EnumerateArray()
                .Select(k => new ReferenceKey(
                    k.GetProperty("name").GetString()!,
                    k.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                    k.GetProperty("dtype").GetString()!))
                .ToList();
            return new TorchvisionReference(
                folder,
                model,
                keys,
                root.GetProperty("input_shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                root.GetProperty("logits_shape").EnumerateArray().Select(d => d.GetInt64()).ToArray());
        }
        catch
        {
            Directory.Delete(folder, recursive: true);
            throw;
        }
    }

    /// <summary>The fixed input as a new CPU tensor.</summary>
    public Tensor Input() => ReadFloats("input.f32", InputShape);

    /// <summary>Python's eval-mode logits as a new CPU tensor.</summary>
    public Tensor Logits() => ReadFloats("logits.f32", LogitsShape);

    public void Dispose()
    {
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    private Tensor ReadFloats(string fileName, long[] shape)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Folder, fileName));
        float[] values = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        if (values.LongLength != shape.Aggregate(1L, (a, b) => a * b))
        {
            throw new InvalidDataException($"{fileName} holds {values.Length} floats, not the product of [{string.Join(", ", shape)}].");
        }

        return tensor(values, shape);
    }
}
