using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.TestSupport.Reference;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.UnitTests.Reference;

/// <summary>
/// Issue 3, acceptance item 2, without Python: for every reference model, ResidualNet's preset has the state_dict
/// keys (names, order, shapes, dtypes) that Python torchvision 0.14 recorded in the committed fixture
/// (Reference/Fixtures, written by make_fixtures.py), and with the formula weights its eval-mode logits for the
/// formula input equal Python's within 1e-4. The same check against live Python is
/// <see cref="TorchvisionReferenceTests"/> (Category=Python).
/// </summary>
public class TorchvisionFixtureTests
{
    private readonly ITestOutputHelper _output;

    public TorchvisionFixtureTests(ITestOutputHelper output) => _output = output;

    /// <summary>The models with a committed fixture: the same set as the live comparison.</summary>
    public static TheoryData<string> FixtureModels => ReferenceFixture.AcceptanceModels;

    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    [Theory]
    [MemberData(nameof(FixtureModels))]
    public void Presets_keys_and_logits_equal_the_torchvision_fixture(string model)
    {
        var result = ReferenceHarness.AssertMatchesFixture(model, name => Presets.Create(name));

        result.PythonKeyCount.Should().Be(result.DotNetKeyCount);
        _output.WriteLine(
            $"{model}: {result.PythonKeyCount} keys equal; max |logit difference| {result.MaxAbsLogitDifference:G3} (max |logit| {result.MaxAbsLogit:G3})");
    }

    [Fact]
    public void Every_reference_model_has_a_fixture_and_no_fixture_is_left_over()
    {
        var models = FixtureModels.Cast<object[]>().Select(row => (string)row[0]).ToList();
        var files = Directory.GetFiles(ReferenceFixture.Folder, "*.json").Select(Path.GetFileNameWithoutExtension).ToList();

        files.Should().BeEquivalentTo(models.Append("basic_block"));
        foreach (var model in models)
        {
            var fixture = ReferenceFixture.Load(model);
            fixture.Model.Should().Be(model);
            fixture.Versions.Should().StartWith("torch 1.13").And.Contain("torchvision 0.14");
            fixture.OutputShape.Should().Equal(2, 1000);
        }
    }

    /// <summary>TorchSharp's TorchVision (.NET) package passes too, compared in PyTorch's key order.</summary>
    [Fact]
    public void TorchVision_dotnet_resnet18_matches_the_fixture_in_pytorch_order() =>
        ReferenceHarness.AssertMatchesFixture("resnet18", DotNetTorchVisionModels.Create, KeyListing.PyTorchOrder);

    [Fact]
    public void Formula_weights_equal_the_values_python_wrote_bit_for_bit()
    {
        // The checksums of every entry that Python filled (make_fixtures.py) equal those of FormulaWeights.Fill.
        var fixture = ReferenceFixture.Load("resnet50");
        using var network = Presets.Create("resnet50");

        var written = FormulaWeights.Fill(network);

        written.Select(w => w.Name).Should().Equal(fixture.Keys.Select(k => k.Name));
        ReferenceHarness.DescribeWeightDifference(fixture.Keys, written).Should().BeNull();
        ReferenceHarness.DescribeWeightDifference(fixture.Keys, [.. written.Take(3), ("layer1.0.conv1.weight", "1")])
            .Should().Contain("1 entries differ").And.Contain("layer1.0.conv1.weight");
    }

    [Fact]
    public void Fixture_harness_catches_a_renamed_key_and_a_changed_logit()
    {
        var fixture = ReferenceFixture.Load("resnet18");
        using var network = Presets.Create("resnet18");

        var renamed = ReferenceHarness.Compare(fixture.WithKeyRenamed(7, "layer1.0.bn1.gamma"), network);
        var changed = ReferenceHarness.Compare(fixture.WithOutputChanged(123, 1e-3f), network);
        var original = ReferenceHarness.Compare(fixture, network);

        renamed.KeysEqual.Should().BeFalse();
        renamed.KeyDifference.Should().Contain("first difference at index 7").And.Contain("only in Python (1): layer1.0.bn1.gamma")
            .And.Contain("only in .NET (1): layer1.0.bn1.weight");
        changed.KeysEqual.Should().BeTrue();
        changed.MaxAbsLogitDifference.Should().BeGreaterThan(ReferenceHarness.LogitTolerance);
        original.MaxAbsLogitDifference.Should().BeLessThanOrEqualTo(ReferenceHarness.LogitTolerance);
    }

    [Fact]
    public void Fixture_harness_catches_a_wrong_key_list()
    {
        // TorchVision (.NET) 0.107's resnext101_32x8d builds ResNeXt-50 depths: 6 blocks in layer3, not 23.
        var fixture = ReferenceFixture.Load("resnext101_32x8d");
        using var network = DotNetTorchVisionModels.BuggyResNext101_32x8d("resnext101_32x8d");

        var result = ReferenceHarness.Compare(fixture, network, KeyListing.PyTorchOrder);

        result.KeysEqual.Should().BeFalse();
        result.PythonKeyCount.Should().Be(626);
        result.DotNetKeyCount.Should().Be(320);
        result.KeyDifference.Should().Contain("layer3.6.conv1.weight").And.Contain("only in Python (306)");
    }

    [Fact]
    public void Fixture_harness_catches_a_wrong_dtype()
    {
        var fixture = ReferenceFixture.Load("resnet18");
        using var network = DotNetTorchVisionModels.Create("resnet18");
        network.to(ScalarType.Float64);

        var result = ReferenceHarness.Compare(fixture, network, KeyListing.PyTorchOrder);

        result.KeysEqual.Should().BeFalse();
        result.KeyDifference.Should().Contain("index 0: Python conv1.weight [64, 3, 7, 7] float32 vs .NET conv1.weight [64, 3, 7, 7] float64");
    }

    [Fact]
    public void Fixture_harness_catches_wrong_logits_with_equal_keys()
    {
        // Same layers and keys, different arithmetic: batch-norm epsilon 0.1 instead of 1e-5.
        var fixture = ReferenceFixture.Load("resnet18");
        using var network = TorchSharp.Modules.ResNet.ResNet18(norm_layer: c => BatchNorm2d(c, eps: 0.1));

        var result = ReferenceHarness.Compare(fixture, network, KeyListing.PyTorchOrder);

        result.KeysEqual.Should().BeTrue();
        result.WeightDifference.Should().BeNull();
        result.MaxAbsLogitDifference.Should().BeGreaterThan(ReferenceHarness.LogitTolerance * 10);
    }

    [Fact]
    public void Fixture_harness_catches_a_wrong_key_order()
    {
        // TorchSharp's Module.state_dict() lists every parameter before any buffer; Python lists module by module.
        var fixture = ReferenceFixture.Load("resnet18");
        using var network = DotNetTorchVisionModels.Create("resnet18");

        var asIs = ReferenceHarness.Compare(fixture, network, KeyListing.StateDict);
        var reordered = ReferenceHarness.Compare(fixture, network, KeyListing.PyTorchOrder);

        asIs.KeysEqual.Should().BeFalse();
        asIs.KeyDifference.Should().Contain("index 3: Python bn1.running_mean [64] float32 vs .NET layer1.0.conv1.weight")
            .And.Contain("only in Python (0)").And.Contain("only in .NET (0)");
        reordered.KeysEqual.Should().BeTrue();
        reordered.MaxAbsLogitDifference.Should().BeLessThanOrEqualTo(ReferenceHarness.LogitTolerance);
    }

    [Fact]
    public void Fixture_logits_depend_on_the_formula_weights()
    {
        // Without the formula weights (the preset's own initialisation) the logits differ: the comparison is not vacuous.
        var fixture = ReferenceFixture.Load("resnet18");
        using var network = Presets.Create("resnet18");
        network.eval();
        using var noGrad = no_grad();
        using var input = fixture.Input();
        using var expected = fixture.Outputs();
        using var logits = network.call(input);
        using var difference = (logits - expected).abs().max();

        difference.item<float>().Should().BeGreaterThan(1e-2f);
    }
}
