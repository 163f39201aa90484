using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using static TorchSharp.torch;

namespace ResidualNet.TestSupport.Reference;

/// <summary>
/// A committed fixture written once by <c>make_fixtures.py</c> with Python torchvision (Reference/Fixtures, copied
/// next to the test assembly): a model's state_dict keys in order with shapes, dtypes and the checksum of their
/// formula values (<see cref="FormulaWeights"/>), and the eval-mode outputs for the formula input. Reading it needs
/// no Python.
/// </summary>
internal sealed class ReferenceFixture
{
    private readonly float[] _outputs;

    private ReferenceFixture(string model, string path, IReadOnlyList<ReferenceKey> keys, long[] inputShape, long[] outputShape, float[] outputs, string versions)
    {
        Model = model;
        Path = path;
        Keys = keys;
        InputShape = inputShape;
        OutputShape = outputShape;
        _outputs = outputs;
        Versions = versions;
    }

    /// <summary>
    /// Every network of acceptance item 2, by torchvision name: the unit tests compare all of them with the committed
    /// fixtures (TorchvisionFixtureTests), the integration tests with live Python (TorchvisionReferenceTests).
    /// </summary>
    public static Xunit.TheoryData<string> AcceptanceModels => new()
    {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
    };

    /// <summary>The folder of the fixtures next to the test assembly.</summary>
    public static string Folder => System.IO.Path.Combine(AppContext.BaseDirectory, "Reference", "Fixtures");

    /// <summary>The model name (torchvision's), or what the file-format fixture holds.</summary>
    public string Model { get; }

    /// <summary>The fixture file.</summary>
    public string Path { get; }

    /// <summary>The state_dict keys in Python's order, with shapes, dtypes and checksums.</summary>
    public IReadOnlyList<ReferenceKey> Keys { get; }

    public long[] InputShape { get; }

    /// <summary>The shape of the logits (models) or of the block's output (file-format fixture).</summary>
    public long[] OutputShape { get; }

    /// <summary>The torch, torchvision and numpy versions that wrote the fixture.</summary>
    public string Versions { get; }

    /// <summary>Reads <c>Fixtures/&lt;name&gt;.json</c>.</summary>
    public static ReferenceFixture Load(string name) => Read(System.IO.Path.Combine(Folder, name + ".json"));

    /// <summary>Reads a fixture file; refuses one made with another formula.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a fixture of this formula, or its values do not fit its shapes.</exception>
    public static ReferenceFixture Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No reference fixture at {path}; make it with Reference/make_fixtures.py.", path);
        }

        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = json.RootElement;
        string formula = root.GetProperty("formula").GetString()!;
        if (formula != FormulaWeights.Formula)
        {
            throw new InvalidDataException($"{path} was made with the formula '{formula}', the tests compute '{FormulaWeights.Formula}'.");
        }

        var keys = root.GetProperty("keys").EnumerateArray()
            .Select(k => new ReferenceKey(
                k.GetProperty("name").GetString()!,
                k.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                k.GetProperty("dtype").GetString()!,
                k.GetProperty("bits").GetString()!))
            .ToList();
        long[] inputShape = Shape(root.GetProperty("input_shape"));
        long[] outputShape;
        float[] outputs;
        if (root.TryGetProperty("logits", out var logits))
        {
            var rows = logits.EnumerateArray().Select(row => row.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray()).ToList();
            outputShape = [rows.Count, rows.Count == 0 ? 0 : rows[0].Length];
            outputs = rows.SelectMany(r => r).ToArray();
        }
        else
        {
            outputShape = Shape(root.GetProperty("output_shape"));
            outputs = root.GetProperty("output").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
        }

        if (outputs.LongLength != outputShape.Aggregate(1L, (a, b) => a * b))
        {
            throw new InvalidDataException($"{path} holds {outputs.Length} output values, not the product of [{string.Join(", ", outputShape)}].");
        }

        string versions = string.Create(
            CultureInfo.InvariantCulture,
            $"torch {root.GetProperty("torch_version").GetString()}, torchvision {root.GetProperty("torchvision_version").GetString()}, numpy {root.GetProperty("numpy_version").GetString()}");
        return new ReferenceFixture(root.GetProperty("model").GetString()!, path, keys, inputShape, outputShape, outputs, versions);
    }

    /// <summary>The formula input as a new CPU tensor.</summary>
    public Tensor Input() => FormulaWeights.Input(InputShape);

    /// <summary>Python's outputs (logits) as a new CPU tensor.</summary>
    public Tensor Outputs() => tensor(_outputs, OutputShape);

    /// <summary>A copy with one key renamed and one output changed: what the harness must refuse (a test of the test).</summary>
    public ReferenceFixture Tampered(int renameKeyAt, string newName, int changeOutputAt, float delta)
    {
        var keys = Keys.ToList();
        keys[renameKeyAt] = keys[renameKeyAt] with { Name = newName };
        var outputs = (float[])_outputs.Clone();
        outputs[changeOutputAt] += delta;
        return new ReferenceFixture(Model, Path, keys, InputShape, OutputShape, outputs, Versions);
    }

    /// <summary>A copy with one output changed only.</summary>
    public ReferenceFixture WithOutputChanged(int index, float delta) => Tampered(0, Keys[0].Name, index, delta);

    /// <summary>A copy with one key renamed only.</summary>
    public ReferenceFixture WithKeyRenamed(int index, string newName) => Tampered(index, newName, 0, 0f);

    private static long[] Shape(JsonElement element) => element.EnumerateArray().Select(d => d.GetInt64()).ToArray();
}
