using System;
using System.Collections.Generic;
using System.Linq;
using FluentAssertions;
using Onnx;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Onnx;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Onnx;

/// <summary>ResidualNet's networks exported to ONNX and run in ONNX Runtime, against TorchSharp, for batch sizes 1 and 3.</summary>
public class OnnxNetworkExportTests
{
    private const double Tolerance = 1e-4;

    /// <summary>A representative subset of the registry for the default run: every block kind, stem and shortcut.</summary>
    public static IEnumerable<object[]> DefaultPresets() =>
        new[] { "resnet18", "resnext50_32x4d", "resnet20", "plain_resnet20", "plain_resnet50", "preact_resnet18" }
            .Select(n => new object[] { n });

    /// <summary>Every other preset of the registry (run with the Slow trait).</summary>
    public static IEnumerable<object[]> OtherPresets() =>
        ModelRegistry.Default.List().Except(DefaultPresets().Select(p => (string)p[0])).Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(DefaultPresets))]
    public void Preset_MatchesTorchSharp(string name) => CheckPreset(name);

    [Theory]
    [Trait("Category", "Slow")]
    [MemberData(nameof(OtherPresets))]
    public void EveryOtherPreset_MatchesTorchSharp(string name) => CheckPreset(name);

    private static void CheckPreset(string name)
    {
        torch.manual_seed(3);
        using ResNet model = ModelRegistry.Default.Create(name);
        long[] image = model.Options.Stem == StemKind.Cifar ? new long[] { model.Options.InputChannels, 32, 32 } : new long[] { model.Options.InputChannels, 48, 48 };
        Calibrate(model, image);
        OnnxRuntimeRunner.Comparison c = OnnxRuntimeRunner.Compare(model, image, null, 1, 3);

        // Within 1e-4 of TorchSharp; where a deep network amplifies float32 rounding beyond that (deep plain networks
        // with BatchNorm do), the ONNX output must be as close to the exact float64 result as TorchSharp's own float32 is.
        if (c.OnnxVsTorchSharp >= Tolerance)
        {
            c.OnnxVsExact.Should().BeLessThan(2 * c.TorchSharpVsExact, $"{name}: ONNX vs TorchSharp {c.OnnxVsTorchSharp:G3} exceeds {Tolerance}, so it must be float32 rounding");
        }
    }

    public static IEnumerable<object[]> Variants() => new[]
    {
        new object[] { "gelu+groupnorm+se", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithActivation(ActivationFactory.GELU).WithNorm(NormFactory.GroupNorm(4)).WithSqueezeExcitation(4)) },
        new object[] { "silu+kept-bn+droppath", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithActivation(ActivationFactory.SiLU).WithDropPath(0.2)) },
        new object[] { "sigmoid+no-norm+plain", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithActivation(ActivationFactory.Sigmoid).WithNorm(NormFactory.None).WithoutShortcuts()) },
        new object[] { "tanh+avgpool-projection", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithActivation(ActivationFactory.Tanh).WithShortcut(ShortcutKind.AvgPoolProjection)) },
        new object[] { "leaky+zeropad+deep-stem", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithActivation(ActivationFactory.LeakyReLU).WithShortcut(ShortcutKind.ZeroPad).WithStem(StemKind.Deep)) },
        new object[] { "feature-extractor", (Func<ResNetBuilder, ResNetBuilder>)(b => b.WithoutHead()) },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Variant_MatchesTorchSharp(string description, Func<ResNetBuilder, ResNetBuilder> configure)
    {
        description.Should().NotBeEmpty();
        torch.manual_seed(5);
        ResNetOptions options = configure(new ResNetBuilder()
            .WithStem(StemKind.ImageNet, 16)
            .WithInputChannels(2)
            .WithClasses(7)
            .AddStage(BlockKind.Basic, 1, 16)
            .AddStage(BlockKind.Bottleneck, 2, 8, stride: 2)
            .AddStage(BlockKind.PreActBasic, 1, 48, stride: 2)).Build();
        using var model = new ResNet(options);
        Calibrate(model, new long[] { 2, 40, 40 });
        foreach (bool fold in new[] { true, false })
        {
            OnnxRuntimeRunner.MaxDifference(model, new long[] { 2, 40, 40 }, new OnnxExportOptions { FoldBatchNorm = fold }, 1, 3).Should().BeLessThan(Tolerance, $"{description}, fold {fold}");
        }
    }

    [Fact]
    public void Dilation_MatchesTorchSharp()
    {
        torch.manual_seed(9);
        ResNetOptions options = new ResNetBuilder().WithStem(StemKind.Cifar, 8).WithClasses(3)
            .AddStage(BlockKind.Bottleneck, 1, 4)
            .AddStage(BlockKind.Bottleneck, 2, 8, stride: 2, BlockOptions.Default with { Dilation = 2 }).Build();
        using var model = new ResNet(options);
        Calibrate(model, new long[] { 3, 24, 24 });
        OnnxRuntimeRunner.MaxDifference(model, new long[] { 3, 24, 24 }, null, 1, 3).Should().BeLessThan(Tolerance);
    }

    /// <summary>
    /// Gives every normalisation layer non-trivial parameters and running statistics measured on data, as training
    /// would, so that eval-mode activations keep a realistic scale through deep networks.
    /// </summary>
    internal static void Calibrate(nn.Module<Tensor, Tensor> model, long[] image)
    {
        using var scope = torch.NewDisposeScope();
        using (torch.no_grad())
        {
            foreach (var norm in model.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
            {
                norm.weight!.copy_(torch.rand(norm.weight.shape) + 0.5);
                norm.bias!.copy_(torch.randn(norm.bias.shape) * 0.1);
                norm.momentum = null; // a cumulative average: the statistics of the calibration batches
            }

            model.train();
            for (int i = 0; i < 3; i++)
            {
                model.call(torch.randn(new[] { 4L }.Concat(image).ToArray()));
            }
        }

        model.eval();
    }

    [Fact]
    public void Metadata_DescribesTheArchitecture()
    {
        using ResNet model = ModelRegistry.Default.Create("plain_resnet20");
        ModelProto proto = OnnxExporter.ToModelProto(model, new OnnxExportOptions { Metadata = new Dictionary<string, string> { ["residualnet.preset"] = "plain_resnet20" } });
        var metadata = proto.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        metadata["residualnet.model_type"].Should().Be(typeof(ResNet).FullName);
        metadata["residualnet.preset"].Should().Be("plain_resnet20");
        metadata["residualnet.architecture"].Should().Contain("stem Cifar").And.Contain("none (plain twin)");
    }

    [Fact]
    public void UserBlockInsideANetwork_IsNamedWithItsPath()
    {
        ResNetOptions options = new ResNetBuilder().WithStem(StemKind.Cifar, 8).WithClasses(3).AddStage(BlockKind.Basic, 2, 8).Build();
        using var model = new ResNet(options);
        // Swap in a user module through a custom activation factory: its path names the block.
        ResNetOptions custom = options with { Block = options.Block with { Activation = ActivationFactory.Custom("Mish", () => new Mish()) } };
        using var withUserModule = new ResNet(custom);
        Action export = () => OnnxExporter.ToModelProto(withUserModule);
        export.Should().Throw<OnnxExportException>().Where(e => e.ModulePath == "act1" && e.Message.Contains(nameof(Mish)));
    }

    private sealed class Mish : nn.Module<Tensor, Tensor>
    {
        public Mish()
            : base(nameof(Mish))
        {
        }

        public override Tensor forward(Tensor input) => input * torch.tanh(nn.functional.softplus(input));
    }
}
