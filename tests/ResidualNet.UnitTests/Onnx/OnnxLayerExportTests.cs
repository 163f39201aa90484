using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using Google.Protobuf;
using Onnx;
using ResidualNet.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Onnx;

/// <summary>TorchSharp's own layers, exported and run in ONNX Runtime, against TorchSharp's eval-mode outputs.</summary>
public class OnnxLayerExportTests
{
    /// <summary>A small CNN with trained-looking BatchNorm statistics (random running mean and variance).</summary>
    private static Sequential SmallCnn(nn.Module<Tensor, Tensor> activation, nn.Module<Tensor, Tensor>? norm = null)
    {
        torch.manual_seed(7);
        var model = nn.Sequential(
            ("conv1", nn.Conv2d(3, 8, 3, stride: 2, padding: 1, bias: false)),
            ("bn1", nn.BatchNorm2d(8)),
            ("act", activation),
            ("pool", nn.MaxPool2d(3, stride: 2, padding: 1)),
            ("conv2", nn.Conv2d(8, 16, 3, padding: 2, dilation: 2, groups: 4)),
            ("norm2", norm ?? nn.BatchNorm2d(16)),
            ("avg", nn.AvgPool2d(2, stride: 1)),
            ("gap", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("drop", nn.Dropout(0.5)),
            ("fc", nn.Linear(16, 5)));
        Randomize(model);
        return model;
    }

    internal static void Randomize(nn.Module model)
    {
        using var noGrad = torch.no_grad();
        foreach (BatchNorm2d bn in model.modules().OfType<BatchNorm2d>())
        {
            bn.running_mean!.copy_(torch.randn(bn.running_mean.shape) * 0.5);
            bn.running_var!.copy_(torch.rand(bn.running_var.shape) + 0.5);
            bn.weight!.copy_(torch.rand(bn.weight.shape) + 0.5);
            bn.bias!.copy_(torch.randn(bn.bias.shape) * 0.1);
        }
    }

    public static IEnumerable<object[]> Activations() => new[]
    {
        new object[] { "relu" }, new object[] { "sigmoid" }, new object[] { "tanh" }, new object[] { "gelu" },
        new object[] { "gelu-tanh" }, new object[] { "silu" }, new object[] { "leaky" },
    };

    private static nn.Module<Tensor, Tensor> Activation(string name) => name switch
    {
        "relu" => nn.ReLU(),
        "sigmoid" => nn.Sigmoid(),
        "tanh" => nn.Tanh(),
        "gelu" => nn.GELU(),
        "gelu-tanh" => nn.GELU(GELU.Approximate.tanh),
        "silu" => nn.SiLU(),
        "leaky" => nn.LeakyReLU(0.1),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void EveryActivation_MatchesTorchSharp(string activation)
    {
        using var model = SmallCnn(Activation(activation));
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 20, 20 }).Should().BeLessThan(1e-4);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm_FoldedOrKept_MatchesTorchSharp(bool fold)
    {
        using var model = SmallCnn(nn.ReLU());
        var options = new OnnxExportOptions { FoldBatchNorm = fold };
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 16, 16 }, options).Should().BeLessThan(1e-4);

        ModelProto proto = OnnxExporter.ToModelProto(model, options);
        proto.Graph.Node.Count(n => n.OpType == "BatchNormalization").Should().Be(fold ? 0 : 2);
    }

    [Fact]
    public void GroupNorm_MatchesTorchSharp()
    {
        using var model = SmallCnn(nn.ReLU(), nn.GroupNorm(4, 16));
        using (torch.no_grad())
        {
            var gn = model.modules().OfType<GroupNorm>().Single();
            gn.weight!.copy_(torch.rand(16) + 0.5);
            gn.bias!.copy_(torch.randn(16));
        }

        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 16, 16 }).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void Float16Weights_HalveTheFile_AndStayClose()
    {
        using var model = SmallCnn(nn.ReLU());
        long full = OnnxExporter.ToModelProto(model).Graph.Initializer.Sum(i => (long)i.RawData.Length);
        long half = OnnxExporter.ToModelProto(model, new OnnxExportOptions { Float16Weights = true }).Graph.Initializer.Sum(i => (long)i.RawData.Length);
        half.Should().Be(full / 2, "every float32 weight is stored as float16");
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 16, 16 }, new OnnxExportOptions { Float16Weights = true }).Should().BeLessThan(2e-2);
    }

    [Fact]
    public void Model_HasNamedInputAndOutput_DynamicBatch_OpsetAndProducer()
    {
        using var model = SmallCnn(nn.ReLU());
        var options = new OnnxExportOptions { InputName = "image", OutputName = "logits", InputSize = (3, 32, 32), Metadata = new Dictionary<string, string> { ["preset"] = "test" } };
        ModelProto proto = OnnxExporter.ToModelProto(model, options);

        proto.Graph.Input.Single().Name.Should().Be("image");
        proto.Graph.Output.Single().Name.Should().Be("logits");
        var dims = proto.Graph.Input.Single().Type.TensorType.Shape.Dim;
        dims[0].DimParam.Should().Be("batch");
        dims.Skip(1).Select(d => d.DimValue).Should().Equal(3, 32, 32);
        proto.OpsetImport.Single().Version.Should().Be(OnnxExportOptions.Opset);
        proto.ProducerName.Should().Be("ResidualNet.Onnx");
        proto.ProducerVersion.Should().NotBeNullOrEmpty();
        proto.MetadataProps.Should().Contain(p => p.Key == "preset" && p.Value == "test");
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 32, 32 }, options, 1, 3).Should().BeLessThan(1e-4);
    }

    [Fact]
    public void UnknownModule_NamesTheModuleAndItsPath()
    {
        using var model = nn.Sequential(("stem", nn.Conv2d(3, 4, 3)), ("body", nn.Sequential(("odd", new OddModule()))));
        Action export = () => OnnxExporter.ToModelProto(model);
        export.Should().Throw<OnnxExportException>()
            .Where(e => e.ModulePath == "body.odd" && e.ModuleType.Contains(nameof(OddModule)))
            .WithMessage("*body.odd*OddModule*");
    }

    [Fact]
    public void UserConverter_TakesAUserModule()
    {
        using var model = nn.Sequential(("stem", nn.Conv2d(3, 4, 3)), ("odd", new OddModule()));
        var options = new OnnxExportOptions
        {
            Converters = new Dictionary<Type, OnnxModuleConverter>
            {
                [typeof(OddModule)] = (c, m, p, x) => c.Graph.AddNode("Neg", p + "/Neg", new[] { x }),
            },
        };
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 8, 8 }, options).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void Export_WritesAFileOnnxRuntimeOpens()
    {
        using var model = SmallCnn(nn.ReLU());
        string path = Path.Combine(Path.GetTempPath(), $"residualnet-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(model, path);
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
            session.InputMetadata.Keys.Should().Equal("input");
            session.ModelMetadata.ProducerName.Should().Be("ResidualNet.Onnx");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class OddModule : nn.Module<Tensor, Tensor>
    {
        public OddModule()
            : base(nameof(OddModule))
        {
        }

        public override Tensor forward(Tensor input) => input.neg();
    }
}
