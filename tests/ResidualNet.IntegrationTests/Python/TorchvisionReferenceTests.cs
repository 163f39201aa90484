using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport.Reference;
using ResidualNet.Weights;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.IntegrationTests.Python;

/// <summary>
/// Issue 3, acceptance item 2, against live Python (Category=Python): for the torchvision families, the state_dict
/// key list (names, order, shapes, dtypes) equals Python torchvision's, and with the weights saved by Python the
/// logits equal Python's within 1e-4. Skipped with the reason where Python with torchvision is missing (failed
/// where RESIDUALNET_REQUIRE_PYTHON=1); the same comparison without Python, on committed fixtures, is
/// <see cref="TorchvisionFixtureTests"/>.
/// </summary>
public class TorchvisionReferenceTests
{
    private static readonly long[] SmallInput = [1, 3, 64, 64];
    private readonly ITestOutputHelper _output;

    public TorchvisionReferenceTests(ITestOutputHelper output) => _output = output;

    /// <summary>Every network of acceptance item 2 (<see cref="ReferenceFixture.AcceptanceModels"/>).</summary>
    public static TheoryData<string> AcceptanceModels => ReferenceFixture.AcceptanceModels;

    /// <summary>The live comparison in the default run (where Python is found): the five smaller networks.</summary>
    public static TheoryData<string> LiveModels => new() { "resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2" };

    /// <summary>
    /// The four largest, live, behind the Slow trait: about 60 s together on the shared 2-core machine, and the
    /// fixtures already check them in every run.
    /// </summary>
    public static TheoryData<string> LargeLiveModels => new() { "resnet101", "resnet152", "resnext101_32x8d", "wide_resnet101_2" };

    /// <summary>The factory under test: ResidualNet's own presets, by registry name.</summary>
    private static Module<Tensor, Tensor> CreateModel(string name) => Presets.Create(name);

    /// <summary>
    /// A registry of the built-in presets only (other tests may register networks in
    /// <see cref="ModelRegistry.Default"/>); the presets are the same values.
    /// </summary>
    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    [SkippableTheory]
    [Trait("Category", "Python")]
    [MemberData(nameof(LiveModels))]
    public void Presets_keys_and_logits_equal_python_torchvision(string model) => CompareLive(model);

    [SkippableTheory]
    [Trait("Category", "Slow")]
    [Trait("Category", "Python")]
    [MemberData(nameof(LargeLiveModels))]
    public void Large_presets_keys_and_logits_equal_python_torchvision(string model) => CompareLive(model);

    [Fact]
    public void The_live_comparison_covers_every_acceptance_model()
    {
        static IEnumerable<string> Names(TheoryData<string> data) => data.Cast<object[]>().Select(row => (string)row[0]);

        Names(LiveModels).Concat(Names(LargeLiveModels)).Should().BeEquivalentTo(Names(AcceptanceModels));
    }

    private void CompareLive(string model)
    {
        PythonEnvironment.Require();
        var result = ReferenceHarness.AssertMatches(model, CreateModel, SmallInput, KeyListing.StateDict);
        result.PythonKeyCount.Should().Be(result.DotNetKeyCount);
        _output.WriteLine($"{model}: {result.PythonKeyCount} keys equal; max |logit difference| {result.MaxAbsLogitDifference:G3} (max |logit| {result.MaxAbsLogit:G3})");
    }

    [Fact]
    public void Default_registry_builds_the_same_networks()
    {
        foreach (var name in (string[])["resnet18", "resnext101_32x8d", "wide_resnet101_2"])
        {
            ModelRegistry.Default.GetOptions(name).Should().Be(Presets.GetOptions(name));
        }
    }

    /// <summary>TorchSharp's TorchVision (.NET) package passes too, compared in PyTorch's key order.</summary>
    [SkippableFact]
    [Trait("Category", "Python")]
    public void TorchVision_dotnet_resnet18_matches_in_pytorch_order()
    {
        PythonEnvironment.Require();
        ReferenceHarness.AssertMatches("resnet18", DotNetTorchVisionModels.Create, SmallInput, KeyListing.PyTorchOrder);
    }

    /// <summary>The committed fixture is what make_fixtures.py writes today: same keys, checksums and logits.</summary>
    [SkippableFact]
    [Trait("Category", "Python")]
    public void Committed_fixture_is_what_make_fixtures_writes()
    {
        PythonEnvironment.Require();
        var committed = ReferenceFixture.Load("resnet18");
        string folder = Directory.CreateTempSubdirectory("residualnet-fixture-").FullName;
        try
        {
            PythonEnvironment.Run(TimeSpan.FromMinutes(5), PythonEnvironment.Script("make_fixtures.py"), "--out", folder, "--model", "resnet18");
            var regenerated = ReferenceFixture.Read(Path.Combine(folder, "resnet18.json"));

            regenerated.Keys.Select(k => k.ToString() + " " + k.Bits).Should().Equal(committed.Keys.Select(k => k.ToString() + " " + k.Bits));
            regenerated.InputShape.Should().Equal(committed.InputShape);
            using var now = regenerated.Outputs();
            using var then = committed.Outputs();
            using var difference = (now - then).abs().max();
            difference.item<float>().Should().BeLessThanOrEqualTo(1e-5f, $"the logits were written by {committed.Versions}, now {regenerated.Versions}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Harness_catches_a_wrong_key_list()
    {
        PythonEnvironment.Require();
        // TorchVision (.NET) 0.107's resnext101_32x8d builds ResNeXt-50 depths: 6 blocks in layer3, not 23.
        var result = ReferenceHarness.Compare(
            "resnext101_32x8d", DotNetTorchVisionModels.BuggyResNext101_32x8d, SmallInput, KeyListing.PyTorchOrder);

        result.KeysEqual.Should().BeFalse();
        result.PythonKeyCount.Should().Be(626);
        result.DotNetKeyCount.Should().Be(320);
        result.KeyDifference.Should().Contain("layer3.6.conv1.weight").And.Contain("only in Python (306)");
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Harness_catches_wrong_logits_with_equal_keys()
    {
        PythonEnvironment.Require();
        // Same layers and keys, different arithmetic: batch-norm epsilon 0.1 instead of 1e-5.
        using var reference = TorchvisionReference.Create("resnet18", SmallInput);
        using var network = TorchSharp.Modules.ResNet.ResNet18(norm_layer: c => BatchNorm2d(c, eps: 0.1));

        var result = ReferenceHarness.Compare(reference, network, KeyListing.PyTorchOrder);

        result.KeysEqual.Should().BeTrue();
        result.MaxAbsLogitDifference.Should().BeGreaterThan(ReferenceHarness.LogitTolerance * 10);
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Harness_catches_a_wrong_key_order()
    {
        PythonEnvironment.Require();
        // TorchSharp's Module.state_dict() lists every parameter before any buffer; Python lists module by module.
        using var reference = TorchvisionReference.Create("resnet18", SmallInput);
        using var network = DotNetTorchVisionModels.Create("resnet18");

        var asIs = ReferenceHarness.Compare(reference, network, KeyListing.StateDict);
        var reordered = ReferenceHarness.Compare(reference, network, KeyListing.PyTorchOrder);

        asIs.KeysEqual.Should().BeFalse();
        asIs.KeyDifference.Should().Contain("index 3: Python bn1.running_mean [64] float32 vs .NET layer1.0.conv1.weight")
            .And.Contain("only in Python (0)").And.Contain("only in .NET (0)");
        reordered.KeysEqual.Should().BeTrue();
        reordered.MaxAbsLogitDifference.Should().BeLessThanOrEqualTo(ReferenceHarness.LogitTolerance);
    }

    [SkippableFact]
    [Trait("Category", "Python")]
    public void Reference_logits_depend_on_the_loaded_weights()
    {
        PythonEnvironment.Require();
        // Without loading Python's weights the logits must differ: the comparison is not vacuous.
        using var reference = TorchvisionReference.Create("resnet18", SmallInput);
        using var network = CreateModel("resnet18");
        network.eval();
        using var noGrad = no_grad();
        using var logits = network.call(reference.Input());
        using var expected = reference.Logits();
        using var difference = (logits - expected).abs().max();
        difference.item<float>().Should().BeGreaterThan(1e-2f);

        ModelWeights.Load(network, reference.WeightsPath);
        using var loaded = network.call(reference.Input());
        using var after = (loaded - expected).abs().max();
        after.item<float>().Should().BeLessThanOrEqualTo((float)ReferenceHarness.LogitTolerance);
    }
}
