using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.TestSupport;
using ResidualNet.TestSupport.Reference;
using ResidualNet.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.IntegrationTests.Python;

/// <summary>Python torchvision's resnet18 (1000 classes, seed 0), saved by Python as .pt and as hand-written safetensors; made on first use.</summary>
public sealed class PythonResNet18Fixture : IDisposable
{
    private readonly Lazy<TorchvisionReference> _reference = new(() =>
        TorchvisionReference.Create("resnet18", [1, 3, 64, 64], seed: 0, numClasses: 1000, safetensors: true));

    internal TorchvisionReference Reference => _reference.Value;

    public void Dispose()
    {
        if (_reference.IsValueCreated)
        {
            _reference.Value.Dispose();
        }
    }
}

/// <summary>
/// Loading files written by live Python (PyTorch 1.13): <c>torch.save(state_dict)</c> and safetensors of a full
/// resnet18, and a .pt written by .NET loading strictly in Python (Category=Python: skipped with the reason where
/// Python with torchvision is missing, failed where RESIDUALNET_REQUIRE_PYTHON=1). The committed Python-written
/// pair that needs no Python is tested in <see cref="PythonFileFixtureTests"/>.
/// </summary>
public class PythonCheckpointTests : IClassFixture<PythonResNet18Fixture>
{
    private readonly PythonResNet18Fixture _fixture;

    public PythonCheckpointTests(PythonResNet18Fixture fixture) => _fixture = fixture;

    private static float MaxAbsDifference(Tensor a, Tensor b)
    {
        using var difference = (a - b).abs().max();
        return difference.item<float>();
    }

    private static Tensor EvalLogits(Module<Tensor, Tensor> model, Tensor input)
    {
        model.eval();
        using var noGrad = no_grad();
        return model.call(input);
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Python_pt_file_loads_with_python_logits_and_trainable_parameters()
    {
        PythonEnvironment.Require();
        var reference = _fixture.Reference;
        using var model = torchvision.models.resnet18();

        var result = ModelWeights.Load(model, reference.WeightsPath);

        result.Format.Should().Be(WeightsFormat.PyTorch);
        result.MatchedKeys.Should().HaveCount(122);
        result.IsExactMatch.Should().BeTrue();
        model.parameters().Should().OnlyContain(p => p.requires_grad, "loading restores nothing to false: parameters stay trainable");
        using var input = reference.Input();
        using var logits = EvalLogits(model, input);
        using var expected = reference.Logits();
        MaxAbsDifference(logits, expected).Should().BeLessThanOrEqualTo(1e-4f);
        using var count = model.state_dict()["layer2.0.bn1.num_batches_tracked"];
        count.item<long>().Should().Be(7, "integer buffers are loaded too");
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Handwritten_safetensors_from_python_load_bit_identical_to_the_pt_file()
    {
        PythonEnvironment.Require();
        var reference = _fixture.Reference;
        using var fromPt = torchvision.models.resnet18();
        using var fromSafetensors = torchvision.models.resnet18();

        ModelWeights.Load(fromPt, reference.WeightsPath);
        var result = ModelWeights.Load(fromSafetensors, reference.SafetensorsPath);

        result.Format.Should().Be(WeightsFormat.Safetensors);
        ModelWeights.ReadEntries(reference.SafetensorsPath).Select(e => e.Key)
            .Should().Equal(reference.Keys.Select(k => k.Name), "safetensors keeps Python's key order");
        foreach (var (key, tensor) in fromPt.state_dict())
        {
            TensorBits.Same(tensor, fromSafetensors.state_dict()[key]).Should().BeTrue(key);
        }
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void PyBridge_load_py_leaves_requires_grad_false_which_ModelWeights_avoids()
    {
        PythonEnvironment.Require();
        using var viaPyBridge = torchvision.models.resnet18();
        TorchSharp.PyBridge.PyBridgeModuleExtensions.load_py(viaPyBridge, _fixture.Reference.WeightsPath);
        viaPyBridge.parameters().Should().OnlyContain(p => !p.requires_grad, "PyBridge copies Python's requires_grad (false in a state_dict)");

        using var viaModelWeights = torchvision.models.resnet18();
        ModelWeights.Load(viaModelWeights, _fixture.Reference.WeightsPath);
        viaModelWeights.parameters().Should().OnlyContain(p => p.requires_grad);
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Python_1000_class_checkpoint_loads_into_a_10_class_network_with_TransferLearning()
    {
        PythonEnvironment.Require();
        var reference = _fixture.Reference;
        using var full = torchvision.models.resnet18();
        ModelWeights.Load(full, reference.WeightsPath);
        using var small = torchvision.models.resnet18(num_classes: 10);

        FluentActions.Invoking(() => ModelWeights.Load(small, reference.WeightsPath))
            .Should().Throw<WeightsMismatchException>()
            .Which.Message.Should().Contain(reference.WeightsPath).And.Contain("fc.weight: module [10, 512] vs file [1000, 512]");
        var result = ModelWeights.Load(small, reference.WeightsPath, WeightsLoadOptions.TransferLearning);

        result.SkippedKeys.Should().BeEquivalentTo("fc.weight", "fc.bias");
        result.MatchedKeys.Should().HaveCount(120);
        foreach (var key in result.MatchedKeys)
        {
            TensorBits.Same(small.state_dict()[key], full.state_dict()[key]).Should().BeTrue(key);
        }

        // The 10-class network runs on Python's input.
        using var input = reference.Input();
        small.eval();
        full.eval();
        using var noGrad = no_grad();
        var smallLogits = small.call(input);
        smallLogits.shape.Should().Equal(1, 10);
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Python_resnet18_file_into_resnet34_lists_the_missing_blocks()
    {
        PythonEnvironment.Require();
        var reference = _fixture.Reference;
        using var model = torchvision.models.resnet34();

        var error = FluentActions.Invoking(() => ModelWeights.Load(model, reference.WeightsPath))
            .Should().Throw<WeightsMismatchException>().Which;

        // resnet34 has 3, 4, 6, 3 blocks; resnet18 2, 2, 2, 2: blocks layer1.2, layer2.2-3, layer3.2-5, layer4.2 are missing.
        error.MissingKeys.Should().HaveCount(218 - 122);
        error.MissingKeys.Select(k => string.Join('.', k.Split('.').Take(2))).Distinct()
            .Should().BeEquivalentTo("layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4", "layer3.5", "layer4.2");
        error.UnexpectedKeys.Should().BeEmpty();
        error.ShapeMismatches.Should().BeEmpty();
        error.Message.Should().Contain("96 missing keys, 0 unexpected keys, 0 shape mismatches").And.Contain("... and 56 more");
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void A_pt_file_written_by_dotnet_loads_strictly_in_python_with_the_same_logits()
    {
        PythonEnvironment.Require();
        using var folder = new TempFolder();
        string path = folder.File("from-dotnet.pt");
        torch.manual_seed(42);
        using var model = torchvision.models.resnet18();
        using (no_grad())
        {
            foreach (var (name, buffer) in model.named_buffers().Where(b => b.name.EndsWith("running_var", StringComparison.Ordinal)))
            {
                buffer.uniform_(0.5, 1.5);
            }
        }

        ModelWeights.Save(model, path).Should().Be(WeightsFormat.PyTorch);

        using var python = TorchvisionReference.Create("resnet18", [1, 3, 64, 64], seed: 3, weights: path);
        using var input = python.Input();
        using var logits = EvalLogits(model, input);
        using var expected = python.Logits();
        MaxAbsDifference(logits, expected).Should().BeLessThanOrEqualTo(1e-4f);
    }
}
