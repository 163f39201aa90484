using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.TestSupport;
using ResidualNet.TestSupport.Reference;
using ResidualNet.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Weights;

/// <summary>
/// Loading files that Python (PyTorch 1.13) wrote, without Python at test time: the committed pair
/// Reference/Fixtures/basic_block.pt (<c>torch.save(state_dict)</c>) and basic_block.safetensors of torchvision's
/// BasicBlock(8, 16, stride 2) with a projection shortcut and formula weights (make_fixtures.py), loaded into
/// ResidualNet's <see cref="BasicBlock"/>. The live-Python versions on a full resnet18 are
/// <see cref="PythonCheckpointTests"/> (Category=Python).
/// </summary>
public class PythonFileFixtureTests
{
    private static readonly ReferenceFixture Block = ReferenceFixture.Load("basic_block");

    private static string PtPath => Path.Combine(ReferenceFixture.Folder, "basic_block.pt");

    private static string SafetensorsPath => Path.Combine(ReferenceFixture.Folder, "basic_block.safetensors");

    private static BasicBlock NewBlock(long inChannels = 8, long planes = 16, long stride = 2)
    {
        var block = new BasicBlock(inChannels, planes, stride);
        block.eval();
        return block;
    }

    [Fact]
    public void Python_pt_file_loads_strictly_with_pythons_values_and_output()
    {
        using var block = NewBlock();

        var result = ModelWeights.Load(block, PtPath);

        result.Format.Should().Be(WeightsFormat.PyTorch);
        result.IsExactMatch.Should().BeTrue();
        result.MatchedKeys.Should().Equal(Block.Keys.Select(k => k.Name));
        block.parameters().Should().OnlyContain(p => p.requires_grad, "loading leaves parameters trainable");
        var state = block.state_dict();
        foreach (var key in Block.Keys)
        {
            FormulaWeights.Bits(state[key.Name]).Should().Be(key.Bits, $"{key.Name} must hold the values Python saved");
        }

        state["downsample.1.num_batches_tracked"].item<long>().Should().Be(FormulaWeights.CountValue("downsample.1.num_batches_tracked"), "integer buffers are loaded too");
        using var noGrad = no_grad();
        using var input = Block.Input();
        using var expected = Block.Outputs();
        using var output = block.call(input);
        output.shape.Should().Equal(Block.OutputShape);
        using var difference = (output - expected).abs().max();
        difference.item<float>().Should().BeLessThanOrEqualTo(1e-5f, "the block computes what torchvision's computed in Python");
    }

    [Fact]
    public void Python_safetensors_file_loads_bit_identical_to_the_pt_file()
    {
        using var fromPt = NewBlock();
        using var fromSafetensors = NewBlock();

        ModelWeights.Load(fromPt, PtPath);
        var result = ModelWeights.Load(fromSafetensors, SafetensorsPath);

        result.Format.Should().Be(WeightsFormat.Safetensors);
        result.IsExactMatch.Should().BeTrue();
        var safetensorsState = fromSafetensors.state_dict();
        foreach (var (key, tensor) in fromPt.state_dict())
        {
            TensorBits.Same(tensor, safetensorsState[key]).Should().BeTrue(key);
        }
    }

    [Theory]
    [InlineData("basic_block.pt", WeightsFormat.PyTorch)]
    [InlineData("basic_block.safetensors", WeightsFormat.Safetensors)]
    public void ReadEntries_lists_pythons_keys_with_shapes_and_dtypes(string fileName, WeightsFormat format)
    {
        string path = Path.Combine(ReferenceFixture.Folder, fileName);

        ModelWeights.DetectFormat(path).Should().Be(format);
        var entries = ModelWeights.ReadEntries(path);

        // Documented: safetensors entries come in the file's order (Python's), PyTorch ones in ordinal key order.
        var expected = format == WeightsFormat.PyTorch
            ? Block.Keys.OrderBy(k => k.Name, System.StringComparer.Ordinal).ToList()
            : Block.Keys.ToList();
        entries.Select(e => e.Key).Should().Equal(expected.Select(k => k.Name));
        foreach (var (entry, key) in entries.Zip(expected))
        {
            entry.Shape.Should().Equal(key.Shape, key.Name);
            entry.DType.ToString().Should().BeEquivalentTo(key.DType, key.Name);
        }
    }

    [Fact]
    public void Python_pt_file_into_other_blocks_lists_the_shape_mismatches_and_unexpected_keys()
    {
        using var wider = NewBlock(planes: 32);
        using var noShortcut = NewBlock(inChannels: 16, stride: 1);

        var widerError = FluentActions.Invoking(() => ModelWeights.Load(wider, PtPath)).Should().Throw<WeightsMismatchException>().Which;
        var noShortcutError = FluentActions.Invoking(() => ModelWeights.Load(noShortcut, PtPath)).Should().Throw<WeightsMismatchException>().Which;

        widerError.Message.Should().Contain(PtPath).And.Contain("conv1.weight: module [32, 8, 3, 3] vs file [16, 8, 3, 3]");
        widerError.MissingKeys.Should().BeEmpty();
        widerError.UnexpectedKeys.Should().BeEmpty();
        widerError.ShapeMismatches.Select(m => m.Key).Should().Contain(["conv1.weight", "bn1.weight", "conv2.weight", "downsample.0.weight"]);
        noShortcutError.UnexpectedKeys.Should().BeEquivalentTo(
            "downsample.0.weight", "downsample.1.weight", "downsample.1.bias", "downsample.1.running_mean", "downsample.1.running_var", "downsample.1.num_batches_tracked");
        noShortcutError.ShapeMismatches.Select(m => m.Key).Should().Equal("conv1.weight");
    }

    [Fact]
    public void PyBridge_load_py_leaves_requires_grad_false_which_ModelWeights_avoids()
    {
        using var viaPyBridge = NewBlock();
        TorchSharp.PyBridge.PyBridgeModuleExtensions.load_py(viaPyBridge, PtPath);
        viaPyBridge.parameters().Should().OnlyContain(p => !p.requires_grad, "PyBridge copies Python's requires_grad (false in a state_dict)");

        using var viaModelWeights = NewBlock();
        ModelWeights.Load(viaModelWeights, PtPath);
        viaModelWeights.parameters().Should().OnlyContain(p => p.requires_grad);
    }
}
