using System.Linq;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.Samples;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>The samples train the library's networks: the catalogues' architectures and parameter counts (SampleNetworks).</summary>
public sealed class SampleModelsTests
{
    [Fact]
    public void DegradationCatalogueIsPlainAndResidualTwinsOfDepth20And56()
    {
        var catalog = SampleNetworks.Degradation;
        catalog.Select(m => m.Name).Should().Equal("plain-20", "plain-56", "resnet-20", "resnet-56");

        var nets = catalog.Select(m => m.Create()).ToArray();
        try
        {
            // CIFAR ResNet-20 / 56 with one input channel: 269,722 / 853,018 minus the 288 stem weights of two channels.
            // Option A shortcuts have no parameters, so each plain twin has exactly its residual net's count.
            nets.Select(n => n.parameters().Sum(p => p.numel())).Should().Equal(269_434L, 852_730L, 269_434L, 852_730L);
            nets.Select(n => n.Options.HasShortcut).Should().Equal(false, false, true, true);
            nets.Select(n => n.Blocks.Count).Should().Equal(9, 27, 9, 27);
            nets[0].Options.Should().Be(nets[2].Options.AsPlain());
            nets[1].Options.Should().Be(nets[3].Options.AsPlain());

            using var x = randn(2, 1, 28, 28);
            foreach (var net in nets)
            {
                net.eval();
                using var y = net.call(x);
                y.shape.Should().Equal(2, 10);
            }
        }
        finally
        {
            foreach (var net in nets)
            {
                net.Dispose();
            }
        }
    }

    [Fact]
    public void ClassifyModelsTakeOneChannelAndGiveTenClasses()
    {
        SampleNetworks.Classify.Select(n => n.Name).Should().Equal("resnet-20", "wide-resnet-6", "wide-resnet-10");
        SampleNetworks.Classify.Find("ResNet-20").Options.Should().Be(ResNetPresets.CifarResNet(20) with { InputChannels = 1 });
        using var x = randn(3, 1, 28, 28);
        foreach (var network in SampleNetworks.Classify)
        {
            using var net = network.Create();
            net.eval();
            using var y = net.call(x);
            y.shape.Should().Equal(3, 10);
        }

        using var wide = SampleNetworks.Classify.Find("wide-resnet-6").Create();
        wide.parameters().Sum(p => p.numel()).Should().Be(289_514L);
        FluentActions.Invoking(() => SampleNetworks.Classify.Find("resnet-9000")).Should().Throw<System.ArgumentException>()
            .WithMessage("unknown network 'resnet-9000'; choose from resnet-20, wide-resnet-6, wide-resnet-10.*");
    }
}
