using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Layers;
using ResidualNet.TestSupport;
using ResidualNet.Weights;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.UnitTests.Weights;

/// <summary>Saving and loading in every format, strict checking, options and bad files, without Python.</summary>
public class ModelWeightsTests
{
    public static TheoryData<WeightsFormat, string> Formats => new()
    {
        { WeightsFormat.TorchSharp, "weights.bin" },
        { WeightsFormat.PyTorch, "weights.pt" },
        { WeightsFormat.Safetensors, "weights.safetensors" },
    };

    private static Module<Tensor, Tensor> Mlp(long seed, params long[] widths)
    {
        torch.manual_seed(seed);
        var layers = new System.Collections.Generic.List<Module<Tensor, Tensor>>();
        for (int i = 0; i + 1 < widths.Length; i++)
        {
            if (i > 0)
            {
                layers.Add(ReLU());
            }

            layers.Add(Linear(widths[i], widths[i + 1]));
        }

        return Sequential(layers);
    }

    private static void AssertBitIdentical(Module a, Module b)
    {
        var left = a.state_dict();
        var right = b.state_dict();
        right.Keys.Should().Equal(left.Keys);
        foreach (var (key, tensor) in left)
        {
            tensor.dtype.Should().Be(right[key].dtype, key);
            TensorBits.Bits(tensor).Should().Equal(TensorBits.Bits(right[key]), $"{key} must be bit-identical");
        }
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Round_trip_is_bit_identical(WeightsFormat format, string fileName)
    {
        using var folder = new TempFolder();
        using var source = torchvision.models.resnet18();
        using var target = torchvision.models.resnet18();
        using (no_grad())
        {
            // Buffers must travel too: give them values that the constructor would not produce.
            foreach (var (name, buffer) in source.named_buffers())
            {
                if (name.EndsWith("running_mean", StringComparison.Ordinal)) { buffer.normal_(0, 0.1); }
                if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) { buffer.fill_(11); }
            }
        }

        string path = folder.File(fileName);
        ModelWeights.Save(source, path).Should().Be(format, "Auto picks the format from the extension");
        ModelWeights.DetectFormat(path).Should().Be(format);

        var result = ModelWeights.Load(target, path);

        result.Format.Should().Be(format);
        result.MatchedKeys.Should().HaveCount(122).And.Equal(source.state_dict().Keys);
        result.IsExactMatch.Should().BeTrue();
        AssertBitIdentical(source, target);
    }

    [Theory]
    [InlineData(64)]    // 128 entries: TorchSharp's count begins 0x80 0x01
    [InlineData(128)]   // 256 entries: 0x80 0x02, a pickle's protocol-2 header
    public void TorchSharp_files_whose_count_looks_like_a_pickle_header_still_load(int layers)
    {
        using var folder = new TempFolder();
        torch.manual_seed(1);
        using var source = Sequential(Enumerable.Range(0, layers).Select(_ => (Module<Tensor, Tensor>)Linear(2, 2)).ToArray());
        torch.manual_seed(2);
        using var target = Sequential(Enumerable.Range(0, layers).Select(_ => (Module<Tensor, Tensor>)Linear(2, 2)).ToArray());
        string path = folder.File("many.bin");
        ModelWeights.Save(source, path);

        ModelWeights.DetectFormat(path).Should().Be(WeightsFormat.TorchSharp);
        ModelWeights.Load(target, path).MatchedKeys.Should().HaveCount(2 * layers);
        AssertBitIdentical(source, target);
    }

    [Fact]
    public void Saving_twice_writes_identical_files()
    {
        using var folder = new TempFolder();
        using var model = Mlp(3, 5, 7, 2);
        ModelWeights.Save(model, folder.File("a.bin"));
        ModelWeights.Save(model, folder.File("b.bin"));
        File.ReadAllBytes(folder.File("a.bin")).Should().Equal(File.ReadAllBytes(folder.File("b.bin")));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Strict_mismatch_lists_missing_unexpected_and_shapes_and_loads_nothing(WeightsFormat format, string fileName)
    {
        using var folder = new TempFolder();
        string path = folder.File(fileName);
        // File: 0.weight [8,4], 0.bias [8], 2.weight [2,8], 2.bias [2].
        using (var saved = Mlp(1, 4, 8, 2))
        {
            ModelWeights.Save(saved, path, format);
        }

        // Module: 0.* as in the file, 2.weight [3,8], 2.bias [3], 4.weight [1,3], 4.bias [1].
        using var module = Mlp(2, 4, 8, 3, 1);
        using var before = module.state_dict()["0.weight"].clone();

        var act = () => ModelWeights.Load(module, path);

        var error = act.Should().Throw<WeightsMismatchException>().Which;
        error.Should().BeAssignableTo<ArgumentException>();
        error.ParamName.Should().Be("path");
        error.FilePath.Should().Be(Path.GetFullPath(path));
        error.MissingKeys.Should().Equal("4.weight", "4.bias");
        error.UnexpectedKeys.Should().BeEmpty();
        error.ShapeMismatches.Select(m => m.Key).Should().Equal("2.weight", "2.bias");
        error.ShapeMismatches[0].ModuleShape.Should().Equal(3, 8);
        error.ShapeMismatches[0].FileShape.Should().Equal(2, 8);
        error.Message.Should().Contain(Path.GetFullPath(path))
            .And.Contain("2 missing keys, 0 unexpected keys, 2 shape mismatches")
            .And.Contain("Missing keys (in the module, not in the file): 4.weight, 4.bias")
            .And.Contain("2.weight: module [3, 8] vs file [2, 8]")
            .And.Contain("2.bias: module [3] vs file [2]");
        TensorBits.Same(module.state_dict()["0.weight"], before).Should().BeTrue("a refused file must not change the module");
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Strict_mismatch_lists_unexpected_keys(WeightsFormat format, string fileName)
    {
        using var folder = new TempFolder();
        string path = folder.File(fileName);
        using (var saved = Mlp(1, 4, 8, 2))
        {
            ModelWeights.Save(saved, path, format);
        }

        using var module = Mlp(2, 4, 8);

        var error = FluentActions.Invoking(() => ModelWeights.Load(module, path))
            .Should().Throw<WeightsMismatchException>().Which;

        error.MissingKeys.Should().BeEmpty();
        error.UnexpectedKeys.Should().BeEquivalentTo("2.weight", "2.bias");
        error.ShapeMismatches.Should().BeEmpty();
        error.Message.Should().Contain("0 missing keys, 2 unexpected keys, 0 shape mismatches").And.Contain("Unexpected keys (in the file, not in the module): ");
    }

    [Fact]
    public void Non_strict_loads_the_common_keys_and_reports_the_rest()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.bin");
        using var saved = Mlp(1, 4, 8, 2, 5);   // 0.*, 2.* [2,8], 4.* [5,2]
        ModelWeights.Save(saved, path);
        using var module = Mlp(2, 4, 8, 2);      // 0.*, 2.* [2,8]
        using var extra = Mlp(3, 4, 8);

        var result = ModelWeights.Load(module, path, WeightsLoadOptions.Default with { Strict = false });

        result.MatchedKeys.Should().Equal("0.weight", "0.bias", "2.weight", "2.bias");
        result.UnexpectedKeys.Should().Equal("4.weight", "4.bias");
        result.MissingKeys.Should().BeEmpty();
        AssertBitIdentical(module, Sequential(saved.children().Take(3).Cast<Module<Tensor, Tensor>>().ToArray()));

        // Missing keys keep their values when not strict.
        var loose = ModelWeights.Load(extra, folder.File("w.bin"), WeightsLoadOptions.Default with { Strict = false });
        loose.MissingKeys.Should().BeEmpty();
        loose.UnexpectedKeys.Should().HaveCount(4);
    }

    [Fact]
    public void Non_strict_still_refuses_shape_mismatches()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.bin");
        using (var saved = Mlp(1, 4, 8, 2)) { ModelWeights.Save(saved, path); }
        using var module = Mlp(2, 4, 8, 3);

        var error = FluentActions.Invoking(() => ModelWeights.Load(module, path, WeightsLoadOptions.Default with { Strict = false }))
            .Should().Throw<WeightsMismatchException>().Which;
        error.ShapeMismatches.Select(m => m.ToString()).Should().Equal("2.weight: module [3, 8] vs file [2, 8]", "2.bias: module [3] vs file [2]");
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Skip_classifier_loads_a_1000_class_checkpoint_into_a_10_class_network(WeightsFormat format, string fileName)
    {
        using var folder = new TempFolder();
        string path = folder.File(fileName);
        torch.manual_seed(5);
        using var imagenet = torchvision.models.resnet18(num_classes: 1000);
        ModelWeights.Save(imagenet, path, format);
        torch.manual_seed(6);
        using var small = torchvision.models.resnet18(num_classes: 10);
        using var fcBefore = small.state_dict()["fc.weight"].clone();

        FluentActions.Invoking(() => ModelWeights.Load(small, path)).Should().Throw<WeightsMismatchException>()
            .Which.ShapeMismatches.Select(m => m.ToString())
            .Should().Equal("fc.weight: module [10, 512] vs file [1000, 512]", "fc.bias: module [10] vs file [1000]");

        var result = ModelWeights.Load(small, path, WeightsLoadOptions.TransferLearning);

        result.SkippedKeys.Should().Equal("fc.weight", "fc.bias");
        result.MatchedKeys.Should().HaveCount(120);
        TensorBits.Same(small.state_dict()["fc.weight"], fcBefore).Should().BeTrue("the classifier keeps its own initialisation");
        TensorBits.Same(small.state_dict()["conv1.weight"], imagenet.state_dict()["conv1.weight"]).Should().BeTrue();
        TensorBits.Same(small.state_dict()["layer4.1.bn2.running_var"], imagenet.state_dict()["layer4.1.bn2.running_var"]).Should().BeTrue();
    }

    [Fact]
    public void Skip_classifier_uses_a_configurable_prefix_and_ignores_file_only_classifier_keys()
    {
        using var folder = new TempFolder();
        string path = folder.File("w.safetensors");
        using (var saved = Mlp(1, 4, 8, 2, 7)) { ModelWeights.Save(saved, path); }   // 0.*, 2.*, 4.* [7,2]
        using var module = Mlp(2, 4, 8, 2);                                             // 0.*, 2.*

        var result = ModelWeights.Load(module, path, new WeightsLoadOptions { SkipClassifier = true, ClassifierPrefix = "4." });

        result.SkippedKeys.Should().Equal("4.weight", "4.bias");
        result.UnexpectedKeys.Should().BeEmpty();
        result.MatchedKeys.Should().Equal("0.weight", "0.bias", "2.weight", "2.bias");
    }

    [Fact]
    public void Skip_classifier_with_an_empty_prefix_is_refused()
    {
        using var folder = new TempFolder();
        using var module = Mlp(2, 4, 8);
        ModelWeights.Save(module, folder.File("w.bin"));

        FluentActions.Invoking(() => ModelWeights.Load(module, folder.File("w.bin"), new WeightsLoadOptions { SkipClassifier = true, ClassifierPrefix = "" }))
            .Should().Throw<ArgumentException>().Where(e => e.ParamName == "ClassifierPrefix" && e.Message.Contains("got ''"));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void Loading_keeps_requires_grad_and_the_parameter_objects(WeightsFormat format, string fileName)
    {
        using var folder = new TempFolder();
        string path = folder.File(fileName);
        using (var saved = Mlp(1, 4, 8, 2)) { ModelWeights.Save(saved, path, format); }
        using var module = Mlp(2, 4, 8, 2);
        var parameters = module.named_parameters().ToList();
        parameters[0].parameter.requires_grad = false;   // a frozen layer stays frozen

        ModelWeights.Load(module, path);

        var after = module.named_parameters().ToList();
        after.Select(p => p.parameter.requires_grad).Should().Equal(false, true, true, true);
        after.Select(p => p.parameter.Handle).Should().Equal(parameters.Select(p => p.parameter.Handle), "tensors are overwritten in place");
    }

    [Fact]
    public void Loading_leaves_no_live_tensors_behind()
    {
        using var folder = new TempFolder();
        using var module = Mlp(2, 16, 32, 4);
        foreach (var format in new[] { WeightsFormat.TorchSharp, WeightsFormat.PyTorch, WeightsFormat.Safetensors })
        {
            string path = folder.File("w." + format);
            ModelWeights.Save(module, path, format);
            ModelWeights.Load(module, path);   // warm-up
            long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 5; i++)
            {
                ModelWeights.Load(module, path);
                ModelWeights.Compare(module, path);
            }

            DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(live, $"{format} loading must dispose what it creates");
        }
    }

    [Fact]
    public void ReadEntries_lists_keys_shapes_and_dtypes_in_file_order()
    {
        using var folder = new TempFolder();
        using var model = torchvision.models.resnet18();
        ModelWeights.Save(model, folder.File("w.bin"));
        ModelWeights.Save(model, folder.File("w.safetensors"));
        ModelWeights.Save(model, folder.File("w.pt"));
        var expected = model.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape), kv.Value.dtype)).ToList();

        foreach (var name in new[] { "w.bin", "w.safetensors" })
        {
            ModelWeights.ReadEntries(folder.File(name)).Select(e => (e.Key, string.Join(",", e.Shape), e.DType))
                .Should().Equal(expected, name);
        }

        ModelWeights.ReadEntries(folder.File("w.pt")).Select(e => (e.Key, string.Join(",", e.Shape), e.DType))
            .Should().Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal));
        var entry = ModelWeights.ReadEntries(folder.File("w.bin")).Single(e => e.Key == "layer1.0.bn1.num_batches_tracked");
        entry.DType.Should().Be(ScalarType.Int64);
        entry.Shape.Should().BeEmpty();
        entry.ToString().Should().Be("layer1.0.bn1.num_batches_tracked [] Int64");
    }

    [Fact]
    public void Missing_file_throws_FileNotFound_naming_the_full_path()
    {
        using var module = Mlp(1, 2, 2);
        string path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "w.pt");

        var error = FluentActions.Invoking(() => ModelWeights.Load(module, path)).Should().Throw<FileNotFoundException>().Which;
        error.FileName.Should().Be(path);
        error.Message.Should().Contain(path);
    }

    [Fact]
    public void A_directory_is_refused_with_its_path()
    {
        using var folder = new TempFolder();
        using var module = Mlp(1, 2, 2);
        FluentActions.Invoking(() => ModelWeights.Load(module, folder.Path))
            .Should().Throw<ArgumentException>().Where(e => e.ParamName == "path" && e.Message.Contains(folder.Path));
    }

    public static TheoryData<string, byte[], string> BadFiles
    {
        get
        {
            var truncatedZip = new byte[] { 0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
            var legacyPickle = new byte[] { 0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46 };
            var badSafetensorsJson = new byte[] { 4, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x', (byte)'x', (byte)'}' };
            var text = System.Text.Encoding.ASCII.GetBytes("hello, this is not a weights file\n");
            return new()
            {
                { "empty", Array.Empty<byte>(), "the file is empty" },
                { "text", text, "TorchSharp" },
                { "corrupt zip", truncatedZip, "PyTorch's reader failed" },
                { "legacy pickle", legacyPickle, "legacy format" },
                { "bad safetensors header", badSafetensorsJson, "JSON header is malformed" },
            };
        }
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_corrupt_file_throws_WeightsFileException_naming_the_path(string description, byte[] content, string expected)
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.weights");
        File.WriteAllBytes(path, content);
        using var module = Mlp(1, 2, 2);

        var error = FluentActions.Invoking(() => ModelWeights.Load(module, path)).Should().Throw<WeightsFileException>(description).Which;

        error.Should().BeAssignableTo<CorruptFileException>().And.BeAssignableTo<IOException>();
        error.FilePath.Should().Be(path);
        error.Message.Should().Be($"The file '{path}' cannot be read as {error.Format} weights: {error.Reason}");
        error.Message.Should().Contain(expected);
    }

    [Fact]
    public void A_truncated_file_is_reported_in_every_format()
    {
        using var folder = new TempFolder();
        using var module = Mlp(1, 16, 16);
        foreach (var format in new[] { WeightsFormat.TorchSharp, WeightsFormat.PyTorch, WeightsFormat.Safetensors })
        {
            string path = folder.File("t." + format);
            ModelWeights.Save(module, path, format);
            byte[] bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);

            FluentActions.Invoking(() => ModelWeights.Load(module, path, WeightsLoadOptions.Default with { Format = format }))
                .Should().Throw<WeightsFileException>(format.ToString()).Which.Message.Should().Contain(path);
        }
    }

    [Fact]
    public void Undefined_format_is_refused_with_its_value()
    {
        using var folder = new TempFolder();
        using var module = Mlp(1, 2, 2);
        FluentActions.Invoking(() => ModelWeights.Save(module, folder.File("w"), (WeightsFormat)42))
            .Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "format" && e.Message.Contains("42"));
    }

    [Fact]
    public void StateDictOrder_lists_each_module_parameters_then_buffers_then_children()
    {
        using var model = torchvision.models.resnet18();
        var keys = StateDictOrder.InPyTorchOrder(model).Keys.ToList();

        keys.Take(8).Should().Equal(
            "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
            "layer1.0.conv1.weight", "layer1.0.bn1.weight");
        keys.Should().HaveCount(122).And.BeEquivalentTo(model.state_dict().Keys);
        keys.TakeLast(2).Should().Equal("fc.weight", "fc.bias");
        model.state_dict().Keys.ElementAt(3).Should().Be("layer1.0.conv1.weight", "TorchSharp lists every parameter before any buffer");
        StateDictOrder.InPyTorchOrder(model, prefix: "backbone").Keys.First().Should().Be("backbone.conv1.weight");
    }
}
