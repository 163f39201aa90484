using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Performance;
using TorchSharp;
using ResidualNet.TestSupport;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Models;

/// <summary>Issue 14, defects 5, 6, 9 (networks) and 12: clear errors at the network's edges; the builder keeps its word.</summary>
public class ModelReliabilityTests
{
    // ---- Defect 5: dtype and device checked at the network's entry. ----

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Byte)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.ComplexFloat32)]
    [InlineData(ScalarType.BFloat16)]
    public void Defect5_InputOfAnotherDtype_IsAnArgumentExceptionNamingBothDtypes(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var net = ModelRegistry.Default.Create("resnet20");
        var x = zeros(1, 3, 8, 8).to(dtype);
        var act = () => net.call(x);
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "input")
            .WithMessage($"*dtype Float32 on cpu*got dtype {dtype} on cpu*");
        var features = () => net.ForwardFeatures(x);
        features.Should().Throw<ArgumentException>().WithMessage($"*got dtype {dtype}*");
    }

    [Fact]
    public void Defect5_Float32IntoABFloat16Model_IsAnArgumentException()
    {
        using var scope = NewDisposeScope();
        using var net = ModelRegistry.Default.Create("resnet20");
        net.to(ScalarType.BFloat16);
        var act = () => net.call(zeros(1, 3, 8, 8));
        act.Should().Throw<ArgumentException>().WithMessage("*dtype BFloat16 on cpu*got dtype Float32*");
        net.call(zeros(1, 3, 8, 8, dtype: ScalarType.BFloat16)).shape.Should().Equal(1, 10);
    }

    // ---- Defect 6: oversized options are rejected against stated limits before anything is allocated. ----

    [Fact]
    public void Defect6_OversizedOptions_AreArgumentOutOfRange_NamingValueAndLimit()
    {
        void Rejects(Func<ResNetOptions> build, string param, string message)
        {
            var act = () => new ResNet(build());
            act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == param).WithMessage(message);
        }

        var basic = new ResNetBuilder().WithStem(StemKind.Cifar, 16).WithClasses(10);
        Rejects(() => new ResNetBuilder().AddStage(BlockKind.Basic, int.MaxValue, 16).Build(), "Blocks", $"*at most {ResNetOptions.MaxBlocks}; got {int.MaxValue}*");
        Rejects(() => new ResNetBuilder().AddStage(BlockKind.Basic, 6000, 1).AddStage(BlockKind.Basic, 6000, 1).Build(), "Stages", "*12000 blocks*limit is 10000*");
        Rejects(() => new ResNetBuilder().AddStage(BlockKind.Basic, 1, 1L << 40).Build(), "Planes", "*at most 65536; got 1099511627776*");
        Rejects(() => new ResNetBuilder().WithStem(StemKind.ImageNet, 1L << 40).AddStage(BlockKind.Basic, 1, 1).Build(), "StemWidth", "*at most 65536*");
        Rejects(() => new ResNetBuilder().WithClasses(1L << 40).AddStage(BlockKind.Basic, 1, 1).Build(), "NumClasses", "*at most 16777216*");
        Rejects(() => new ResNetBuilder().ConfigureBlocks(o => o with { WidthMultiplier = 1e12 }).AddStage(BlockKind.Basic, 1, 1).Build(), "WidthMultiplier", "*at most 64*");
        Rejects(() => new ResNetBuilder().ConfigureBlocks(o => o with { Dilation = 1 << 30 }).AddStage(BlockKind.Basic, 1, 1).Build(), "Dilation", "*at most 1024*");
        Rejects(
            () => ResNetPresets.ResNet(50) with
            {
                Stages = Enumerable.Range(0, 12).Select(_ => new StageOptions(BlockKind.Bottleneck, 1, 64, 8, Dilate: true)).ToArray(),
            },
            "Stages", "*dilation of*limit is 1024*");
        Rejects(() => new ResNetBuilder().AddStage(BlockKind.Basic, 100, 60000).Build(), "Stages", "*parameters*limit is 2147483648*");
        basic.AddStage(BlockKind.Basic, 1, 16).Build().BlockCount.Should().Be(1);
        (ResNetPresets.ResNet(18) with { Stages = new[] { new StageOptions(BlockKind.Basic, int.MaxValue, 1), new StageOptions(BlockKind.Basic, int.MaxValue, 1) } })
            .BlockCount.Should().Be(int.MaxValue, "the count saturates instead of overflowing");
    }

    // ---- Defect 9 (networks): a disposed network says so. ----

    [Fact]
    public void Defect9_CallingADisposedNetworkOrBlock_IsObjectDisposed()
    {
        var net = ModelRegistry.Default.Create("resnet20");
        var block = net.Blocks[0].Module;
        net.Dispose();
        var act = () => net.call(zeros(1, 3, 8, 8));
        act.Should().Throw<ObjectDisposedException>().WithMessage("*ResNet*");
        var blockCall = () => block.call(zeros(1, 16, 8, 8));
        blockCall.Should().Throw<ObjectDisposedException>().WithMessage("*BasicBlock*");
    }

    // ---- Defect 12: the builder's network-wide settings reach stages with their own options; folding state. ----

    [Fact]
    public void Defect12_WithoutShortcutsActivationAndNorm_ReachStagesWithTheirOwnOptions()
    {
        var own = BlockOptions.Default with { Groups = 1 };
        var options = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 8)
            .AddStage(BlockKind.Basic, 1, 8, options: own)
            .WithoutShortcuts()
            .WithActivation(ActivationFactory.Tanh)
            .WithNorm(NormFactory.None)
            .AddStage(BlockKind.Basic, 1, 16, stride: 2, options: own)
            .WithClasses(3)
            .Build();
        options.HasShortcut.Should().BeFalse();
        options.Stages.Should().OnlyContain(s => s.Options!.HasShortcut == false
            && s.Options.Activation == ActivationFactory.Tanh && s.Options.Norm == NormFactory.None);
        options.Should().Be(options.AsPlain());
    }

    [Fact]
    public void Defect12_IsBatchNormFolded_CoversTheBlocks_NotOnlyTheStem()
    {
        // A CIFAR stem before pre-activation blocks has no BatchNorm of its own; the basic blocks of stage 2 fold.
        using var net = new ResNet(new ResNetBuilder().WithStem(StemKind.Cifar, 8)
            .AddStage(BlockKind.PreActBasic, 1, 8).AddStage(BlockKind.Basic, 1, 16, stride: 2).WithClasses(3).Build());
        net.eval();
        net.IsBatchNormFolded.Should().BeFalse();
        BatchNormFolding.FoldAndCountPairs(net).Should().BeGreaterThan(0);
        net.IsBatchNormFolded.Should().BeTrue();

        // Pre-activation blocks have no convolution followed by its BatchNorm: nothing folds, and the flag says so.
        using var preAct = new ResNet(ResNetPresets.CifarPreActResNet(20, bottleneck: false));
        preAct.eval();
        BatchNormFolding.FoldAndCountPairs(preAct).Should().Be(0);
        preAct.IsBatchNormFolded.Should().BeFalse();
    }
}
