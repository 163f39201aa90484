using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport;
using ResidualNet.TestSupport.Reference;
using ResidualNet.Weights;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ResidualNet.IntegrationTests.ScaleOut;

/// <summary>
/// Proves <see cref="TorchvisionPortability"/>'s verdicts in Python: for each case the Python code it produced
/// (constructor and edits) is run by Python torchvision, its state_dict keys and shapes must equal the .NET network's
/// (names, order, shapes), the .NET weights must load strictly, and its eval logits must equal .NET's within 1e-4.
/// Keys alone would not catch a wrong forward (dilation, a missing max-pool), so the logits are compared too.
/// </summary>
[Trait("Category", "Python")]
public sealed class TorchvisionPortabilityPythonTests
{
    private const double LogitTolerance = 1e-4;
    private readonly ITestOutputHelper _output;

    public TorchvisionPortabilityPythonTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// One preset of each portable family built by its named builder (basic ResNet, bottleneck ResNet, ResNeXt), and
    /// every kind of argument or edit the check emits, on small networks: the generic <c>ResNet(...)</c> constructor
    /// with groups, width_per_group (a wide network) and dilation, zero_init_residual, GroupNorm and no normalisation
    /// as norm_layer, a new conv1 for one channel, the CIFAR stem. The Wide ResNet presets (68M and more parameters)
    /// are in the slow test below.
    /// </summary>
    [SkippableFact]
    public void Each_portable_family_and_each_edit_builds_the_same_network_in_python()
    {
        PythonRequirement.SkipUnlessAvailable();
        var registry = ModelRegistry.CreateWithPresets();
        var cases = new[] { "resnet18", "resnet50", "resnext50_32x4d" }
            .Select(name => (name, registry.GetOptions(name)))
            .Concat(new[]
            {
                "one channel, 10 classes", "CIFAR stem", "zero init, basic blocks", "GroupNorm", "no normalisation",
                "custom layers", "custom ResNeXt", "custom wide, dilated",
            }.Select(name => (name, PortableVariations.Options(name))))
            .ToArray();

        AssertSameInPython(cases);
    }

    /// <summary>The other seven portable presets (the large ones, Wide ResNet among them), each by its named builder.</summary>
    [SkippableFact]
    [Trait("Category", "Slow")]
    public void The_large_portable_presets_build_the_same_network_in_python()
    {
        PythonRequirement.SkipUnlessAvailable();
        var registry = ModelRegistry.CreateWithPresets();
        AssertSameInPython(new[] { "resnet34", "resnet101", "resnet152", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2" }
            .Select(name => (name, registry.GetOptions(name))).ToArray());
    }

    private void AssertSameInPython(IReadOnlyList<(string Name, ResNetOptions Options)> cases)
    {
        using var folder = new TempFolder();
        var expected = new Dictionary<string, (List<ReferenceKey> Keys, float[] Logits, long[] LogitsShape)>();
        var written = new List<Dictionary<string, object>>();
        for (int i = 0; i < cases.Count; i++)
        {
            var (name, options) = cases[i];
            var result = TorchvisionPortability.Check(options);
            result.IsPortable.Should().BeTrue($"{name}: {result}");
            string weights = folder.File($"case{i}.pt");
            string input = folder.File($"case{i}.input.f32");
            using var scope = NewDisposeScope();
            manual_seed(100 + i);
            using var network = new ResNet(options);
            RandomiseNormalisation(network);
            network.eval();
            ModelWeights.Save(network, weights, WeightsFormat.PyTorch);
            long[] inputShape = [2, options.InputChannels, 64, 64];
            var x = randn(inputShape);
            File.WriteAllBytes(input, MemoryMarshal.AsBytes(x.data<float>().ToArray().AsSpan()).ToArray());
            Tensor logits;
            using (no_grad())
            {
                logits = network.call(x);
            }

            expected[name] = (
                network.state_dict().Select(kv => new ReferenceKey(kv.Key, kv.Value.shape, kv.Value.dtype.ToString())).ToList(),
                logits.data<float>().ToArray(),
                logits.shape);
            written.Add(new Dictionary<string, object> { ["name"] = name, ["python"] = result.PythonCode!, ["weights"] = weights, ["input"] = input, ["input_shape"] = inputShape });
        }

        string casesPath = folder.File("cases.json");
        string resultsPath = folder.File("results.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(written));
        PythonEnvironment.Run(TimeSpan.FromMinutes(10), Path.Combine(AppContext.BaseDirectory, "ScaleOut", "torchvision_portability.py"), casesPath, resultsPath);

        using var results = JsonDocument.Parse(File.ReadAllBytes(resultsPath));
        var failures = new List<string>();
        for (int i = 0; i < cases.Count; i++)
        {
            string name = cases[i].Name;
            var python = results.RootElement.GetProperty(name);
            var pythonKeys = python.GetProperty("keys").EnumerateArray()
                .Select(k => new ReferenceKey(k[0].GetString()!, k[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), k[2].GetString()!))
                .ToList();
            var (keys, logits, logitsShape) = expected[name];
            if (ReferenceHarness.DescribeKeyDifference(pythonKeys, keys) is { } difference)
            {
                failures.Add($"{name}: {difference}");
                continue;
            }

            if (python.GetProperty("load_error").GetString() is { } loadError)
            {
                failures.Add($"{name}: the .NET weights did not load strictly in Python: {loadError}");
                continue;
            }

            float[] pythonLogits = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(folder.File($"case{i}.input.f32.logits.f32"))).ToArray();
            python.GetProperty("logits_shape").EnumerateArray().Select(d => d.GetInt64()).Should().Equal(logitsShape, name);
            double maxDifference = logits.Zip(pythonLogits, (a, b) => (double)Math.Abs(a - b)).Max();
            double maxLogit = pythonLogits.Max(v => Math.Abs(v));
            _output.WriteLine($"{name}: {keys.Count} keys equal; {TorchvisionPortability.Check(cases[i].Options)}; max |logit difference| {maxDifference:G3} (max |logit| {maxLogit:G3})");
            if (!(maxDifference <= LogitTolerance))
            {
                failures.Add($"{name}: max |logit difference| {maxDifference:G3} > {LogitTolerance:G1} (max |logit| {maxLogit:G3})");
            }
        }

        failures.Should().BeEmpty();
    }

    /// <summary>
    /// Gives every normalisation layer statistics and affine values that matter (so that loading each buffer counts),
    /// and the last normalisation of each residual branch a small scale, so that the logits of deep networks stay of
    /// order 1 and 1e-4 stays a meaningful tolerance (as torchvision_reference.py does).
    /// </summary>
    private static void RandomiseNormalisation(ResNet network)
    {
        string lastNorm = network.Options.Stages[0].Kind == ResidualNet.Blocks.BlockKind.Bottleneck ? "bn3" : "bn2";
        using var noGrad = no_grad();
        foreach (var (name, parameter) in network.named_parameters())
        {
            bool isLast = name.StartsWith("layer", StringComparison.Ordinal) && name.EndsWith($".{lastNorm}.weight", StringComparison.Ordinal);
            if (isLast)
            {
                parameter.uniform_(0.05, 0.3);
            }
            else if (name.Contains(".bn", StringComparison.Ordinal) || name.StartsWith("bn1.", StringComparison.Ordinal) || name.Contains("downsample.1.", StringComparison.Ordinal))
            {
                _ = name.EndsWith(".weight", StringComparison.Ordinal) ? parameter.uniform_(0.5, 1.5) : parameter.normal_(0.0, 0.1);
            }
        }

        foreach (var (name, buffer) in network.named_buffers())
        {
            if (name.EndsWith("running_mean", StringComparison.Ordinal))
            {
                buffer.normal_(0.0, 0.1);
            }
            else if (name.EndsWith("running_var", StringComparison.Ordinal))
            {
                buffer.uniform_(0.5, 1.5);
            }
        }
    }
}
