using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Blocks;
using ResidualNet.Models;
using Xunit;

namespace ResidualNet.UnitTests.Models;

public class ModelRegistryTests
{
    [Fact]
    public void GlobListsMatchingNamesSorted()
    {
        var names = ModelTestUtil.Presets.List("resnet*");
        names.Should().Equal("resnet101", "resnet110", "resnet1202", "resnet152", "resnet18", "resnet20", "resnet32",
            "resnet34", "resnet44", "resnet50", "resnet56");
        ModelTestUtil.Presets.List("resnext*").Should().Equal("resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d");
        ModelTestUtil.Presets.List("preact_resnet1??").Should().Equal("preact_resnet101", "preact_resnet110", "preact_resnet152", "preact_resnet164");
        ModelTestUtil.Presets.List("RESNET18").Should().Equal("resnet18");
        ModelTestUtil.Presets.List("nothing*").Should().BeEmpty();
    }

    [Fact]
    public void EveryPresetHasAPlainTwinUnderThePlainPrefix()
    {
        var all = ModelTestUtil.Presets.List();
        var residual = all.Where(n => !n.StartsWith("plain_", StringComparison.Ordinal)).ToList();
        residual.Should().HaveCount(24);
        ModelTestUtil.Presets.List("plain_*").Should().BeEquivalentTo(residual.Select(n => "plain_" + n));
        foreach (var name in residual)
        {
            ModelRegistry.Default.GetOptions("plain_" + name).Should().Be(ModelRegistry.Default.GetOptions(name).AsPlain());
            ModelRegistry.Default.GetOptions(name).HasShortcut.Should().BeTrue();
            ModelRegistry.Default.GetOptions("plain_" + name).HasShortcut.Should().BeFalse();
        }
    }

    [Fact]
    public void TheDefaultRegistryHoldsEveryPreset()
    {
        ModelRegistry.Default.List().Should().Contain(ModelTestUtil.Presets.List());
    }

    [Fact]
    public void PresetsAreValuesAndVariantsAreMadeWithWith()
    {
        ModelRegistry.Default.GetOptions("resnet18").Should().Be(ResNetPresets.ResNet(18));
        ModelRegistry.Default.GetOptions("resnet20").Should().Be(ResNetPresets.CifarResNet(20));
        ModelRegistry.Default.GetOptions("resnext50_32x4d").Should().Be(ResNetPresets.ResNeXt(50, 32, 4));
        (ResNetPresets.ResNet(18) with { NumClasses = 10 }).Should().NotBe(ResNetPresets.ResNet(18));
        ResNetPresets.ResNet(18).GetHashCode().Should().Be(ResNetPresets.ResNet(18).GetHashCode());
    }

    [Fact]
    public void AVariantIsAWithExpressionOnTheRegisteredOptions()
    {
        using var model = new ResNet(ModelRegistry.Default.GetOptions("resnet20") with { NumClasses = 7, InputChannels = 1 });
        model.Options.NumClasses.Should().Be(7);
        using var x = TorchSharp.torch.randn(2, 1, 28, 28);
        using var y = model.call(x);
        y.shape.Should().Equal(2, 7);
    }

    [Fact]
    public void UnknownNameThrowsNamingTheValueAndSuggestingCloseNames()
    {
        var act = () => ModelRegistry.Default.Create("resnet51");
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "name" && e.Message.Contains("'resnet51'") && e.Message.Contains("resnet50"));

        var far = () => ModelRegistry.Default.GetOptions("transformer");
        far.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("'transformer'") && !e.Message.Contains("Did you mean"));
    }

    [Fact]
    public void TheDefaultRegistryIsReadOnlyAndSaysHowToAddAName()
    {
        int count = ModelRegistry.Default.Count;
        ModelRegistry.Default.IsReadOnly.Should().BeTrue();

        var act = () => ModelRegistry.Default.Register("my_net", ResNetPresets.CifarResNet(8));

        act.Should().Throw<InvalidOperationException>()
            .WithMessage("ModelRegistry.Default is read-only*'my_net'*ModelRegistry.CreateWithPresets()*");
        ModelRegistry.Default.Count.Should().Be(count);
        ModelRegistry.Default.Contains("my_net").Should().BeFalse();
    }

    [Fact]
    public void UsersRegisterTheirOwnAndDuplicatesAreRejected()
    {
        var registry = new ModelRegistry();
        registry.Count.Should().Be(0);
        var mine = ResNetPresets.CifarResNet(8) with { InputChannels = 1 };
        registry.Register("my_net", mine);
        registry.Contains("MY_NET").Should().BeTrue();
        registry.GetOptions("my_net").Should().Be(mine);

        var duplicate = () => registry.Register("My_Net", mine);
        duplicate.Should().Throw<ArgumentException>().Where(e => e.ParamName == "name" && e.Message.Contains("My_Net"));

        var builtIn = () => ModelRegistry.CreateWithPresets().Register("resnet18", mine);
        builtIn.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("resnet18"));
        ModelRegistry.CreateWithPresets().IsReadOnly.Should().BeFalse("a registry of one's own accepts names");

        var badName = () => registry.Register("has space", mine);
        badName.Should().Throw<ArgumentException>().Where(e => e.ParamName == "name" && e.Message.Contains("has space"));

        var invalid = () => registry.Register("broken", mine with { NumClasses = 0 });
        invalid.Should().Throw<ArgumentException>().Where(e => e.Message.Contains("NumClasses"));
        registry.Contains("broken").Should().BeFalse();
    }

    [Fact]
    public void CifarPresetUsesOptionAByDefaultAndOptionBOnRequest()
    {
        ResNetPresets.CifarResNet(20).Block.Shortcut.Should().Be(ShortcutKind.ZeroPad);
        ResNetPresets.CifarResNet(20, ShortcutKind.Projection).Block.Shortcut.Should().Be(ShortcutKind.Projection);
    }
}
