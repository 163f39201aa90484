using System;
using System.Linq;
using FluentAssertions;
using ResidualNet.Analysis;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.UnitTests.Analysis;

public class ModelSummaryTests
{
    private readonly ITestOutputHelper _output;

    public ModelSummaryTests(ITestOutputHelper output) => _output = output;

    /// <summary>torchvision's published multiply-adds (its "GFLOPS" column) at 224x224 and Python's parameter counts.</summary>
    public static TheoryData<string, double, long> TorchvisionFigures => new()
    {
        { "resnet18", 1.81, 11_689_512 },
        { "resnet34", 3.66, 21_797_672 },
        { "resnet50", 4.09, 25_557_032 },
        { "resnet101", 7.80, 44_549_160 },
        { "resnet152", 11.51, 60_192_808 },
    };

    private static Module<Tensor, Tensor> TorchVision(string name) => name switch
    {
        "resnet18" => torchvision.models.resnet18(),
        "resnet34" => torchvision.models.resnet34(),
        "resnet50" => torchvision.models.resnet50(),
        "resnet101" => torchvision.models.resnet101(),
        "resnet152" => torchvision.models.resnet152(),
        _ => throw new ArgumentException(name, nameof(name)),
    };

    [Theory]
    [MemberData(nameof(TorchvisionFigures))]
    public void Multiply_adds_match_torchvision_within_one_percent(string name, double published, long parameters)
    {
        using var model = TorchVision(name);

        var summary = ModelSummary.Create(model, [1, 3, 224, 224]);

        _output.WriteLine($"{name}: {summary.TotalMultiplyAdds:N0} multiply-adds ({summary.GigaMultiplyAdds:F4} G; torchvision {published})");
        summary.GigaMultiplyAdds.Should().BeApproximately(published, published * 0.01);
        summary.TotalParameters.Should().Be(parameters);
        summary.TrainableParameters.Should().Be(parameters);
        summary.OutputShape.Should().Equal(1, 1000);
        summary.Rows.Sum(r => r.Parameters).Should().Be(parameters, "the direct children hold every parameter");
        summary.Rows.Sum(r => r.MultiplyAdds).Should().Be(summary.TotalMultiplyAdds);
    }

    /// <summary>
    /// torchvision's documented multiply-adds ("GFLOPS") at 224x224 and parameter counts for the library's own
    /// presets: the five ResNets (counts checked with Python torchvision) and the ResNeXt / Wide ResNet figures
    /// from torchvision's model documentation.
    /// </summary>
    public static TheoryData<string, double, long> PresetFigures => new()
    {
        { "resnet18", 1.81, 11_689_512 },
        { "resnet34", 3.66, 21_797_672 },
        { "resnet50", 4.09, 25_557_032 },
        { "resnet101", 7.80, 44_549_160 },
        { "resnet152", 11.51, 60_192_808 },
        { "resnext50_32x4d", 4.23, 25_028_904 },
        { "resnext101_32x8d", 16.41, 88_791_336 },
        { "resnext101_64x4d", 15.46, 83_455_272 },
        { "wide_resnet50_2", 11.40, 68_883_240 },
        { "wide_resnet101_2", 22.75, 126_886_696 },
    };

    [Theory]
    [MemberData(nameof(PresetFigures))]
    public void Library_presets_multiply_adds_match_torchvision_within_one_percent(string name, double published, long parameters)
    {
        using var model = Presets.Create(name);

        var summary = ModelSummary.Create(model, [1, 3, 224, 224]);

        _output.WriteLine($"{name}: {summary.TotalMultiplyAdds:N0} multiply-adds ({summary.GigaMultiplyAdds:F4} G; torchvision {published})");
        summary.GigaMultiplyAdds.Should().BeApproximately(published, published * 0.01);
        summary.TotalParameters.Should().Be(parameters);
        summary.OutputShape.Should().Equal(1, 1000);
    }

    [Fact]
    public void Plain_twin_multiply_adds_are_the_residual_network_minus_its_projection_shortcuts()
    {
        using var residual = Presets.Create("resnet18");
        using var plain = Presets.Create("plain_resnet18");

        var r = ModelSummary.Create(residual, [1, 3, 224, 224]);
        var p = ModelSummary.Create(plain, [1, 3, 224, 224]);

        // resnet18's three projection shortcuts: 1x1 convolutions 64->128 at 28x28, 128->256 at 14x14, 256->512 at 7x7.
        long projections = (64 * 128 * 28 * 28) + (128 * 256 * 14 * 14) + (256 * 512 * 7 * 7);
        (r.TotalMultiplyAdds - p.TotalMultiplyAdds).Should().Be(projections);
    }

    private static ResidualNet.Models.ModelRegistry Presets { get; } = ResidualNet.Models.ModelRegistry.CreateWithPresets();

    [Fact]
    public void ResNet18_rows_are_the_direct_children_with_exact_counts()
    {
        using var model = torchvision.models.resnet18();

        var summary = ModelSummary.Create(model, [1, 3, 224, 224]);
        _output.WriteLine(summary.ToString());

        summary.Rows.Select(r => r.Name).Should().Equal(
            "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "flatten", "fc");
        var conv1 = summary.Rows[0];
        conv1.TypeName.Should().Be("Conv2d");
        conv1.Depth.Should().Be(1);
        conv1.OutputShape.Should().Equal(1, 64, 112, 112);
        conv1.Parameters.Should().Be(64 * 3 * 7 * 7);
        conv1.MultiplyAdds.Should().Be(64L * 112 * 112 * 3 * 7 * 7);   // 118,013,952
        summary.Rows.Single(r => r.Name == "bn1").MultiplyAdds.Should().Be(0, "normalisation is not counted");
        summary.Rows.Single(r => r.Name == "fc").MultiplyAdds.Should().Be(512 * 1000);
        summary.Rows.Single(r => r.Name == "fc").Parameters.Should().Be(512 * 1000 + 1000);
        summary.Rows.Single(r => r.Name == "layer3").OutputShape.Should().Equal(1, 256, 14, 14);
        // layer1: four 3x3 convolutions 64->64 on 56x56.
        summary.Rows.Single(r => r.Name == "layer1").MultiplyAdds.Should().Be(4L * 56 * 56 * 64 * 64 * 9);
        summary.TotalMultiplyAdds.Should().Be(1_814_073_344);
        summary.CountedLayerCalls.Should().Be(21);
    }

    [Fact]
    public void Depth_two_adds_the_blocks_under_each_stage()
    {
        using var model = torchvision.models.resnet50();

        var summary = ModelSummary.Create(model, [1, 3, 64, 64], ModelSummaryOptions.Default with { Depth = 2 });

        var names = summary.Rows.Select(r => r.Name).ToList();
        names.Should().ContainInOrder("layer1", "layer1.0", "layer1.1", "layer1.2", "layer2", "layer2.0");
        summary.Rows.Single(r => r.Name == "layer1.0").Depth.Should().Be(2);
        var layer2 = summary.Rows.Single(r => r.Name == "layer2");
        var blocks = summary.Rows.Where(r => r.Name.StartsWith("layer2.", StringComparison.Ordinal)).ToList();
        blocks.Should().HaveCount(4);
        blocks.Sum(b => b.Parameters).Should().Be(layer2.Parameters);
        blocks.Sum(b => b.MultiplyAdds).Should().Be(layer2.MultiplyAdds);
        summary.Rows.Where(r => r.Depth == 1).Sum(r => r.MultiplyAdds).Should().Be(summary.TotalMultiplyAdds);
        summary.Format().Should().Contain(Environment.NewLine + "  layer1.0 (Bottleneck)");
    }

    [Fact]
    public void Hand_computed_counts_for_plain_grouped_transposed_convolutions_and_linear()
    {
        using var model = Sequential(
            ("conv", Conv2d(3, 8, 3, padding: 1)),                     // [2,8,10,10]: 1600 outputs x 3*9
            ("grouped", Conv2d(8, 16, 3, padding: 1, groups: 4)),      // [2,16,10,10]: 3200 outputs x 2*9
            ("up", ConvTranspose2d(16, 4, 2, stride: 2)),              // input 3200 elements x 4*4
            ("pool", AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("head", Linear(4, 5)));                                    // 10 outputs x 4

        var summary = ModelSummary.Create(model, [2, 3, 10, 10]);

        summary.Rows.Select(r => (r.Name, r.MultiplyAdds)).Should().Equal(
            ("conv", 1600L * 27), ("grouped", 3200L * 18), ("up", 3200L * 16), ("pool", 0L), ("flatten", 0L), ("head", 10L * 4));
        summary.Rows.Single(r => r.Name == "up").OutputShape.Should().Equal(2, 4, 20, 20);
        summary.TotalParameters.Should().Be((8 * 27 + 8) + (16 * 18 + 16) + (16 * 4 * 4 + 4) + (5 * 4 + 5));
        summary.TotalMultiplyAdds.Should().Be(43_200 + 57_600 + 51_200 + 40);
    }

    [Fact]
    public void Frozen_parameters_are_counted_as_non_trainable()
    {
        using var model = Sequential(("a", Linear(10, 20)), ("b", Linear(20, 3)));
        foreach (var parameter in model.named_parameters().Where(p => p.name.StartsWith("a.", StringComparison.Ordinal)))
        {
            parameter.parameter.requires_grad = false;
        }

        var summary = ModelSummary.Create(model, [4, 10]);

        summary.TotalParameters.Should().Be(220 + 63);
        summary.TrainableParameters.Should().Be(63);
        summary.NonTrainableParameters.Should().Be(220);
        summary.Rows[0].TrainableParameters.Should().Be(0);
        summary.Format().Should().Contain("Non-trainable parameters: 220");
    }

    [Fact]
    public void Training_modes_parameters_and_hooks_are_left_as_they_were()
    {
        using var model = torchvision.models.resnet18();
        model.train();
        var frozenNorm = model.named_modules().Single(m => m.name == "layer2.0.bn1").module;
        frozenNorm.eval();
        using var runningMean = model.state_dict()["bn1.running_mean"].clone();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        ModelSummary.Create(model, [2, 3, 32, 32]);
        var second = ModelSummary.Create(model, [2, 3, 32, 32]);

        DisposeScopeManager.Statistics.ThreadTotalLiveCount.Should().Be(live, "the summary disposes its tensors");
        model.training.Should().BeTrue();
        frozenNorm.training.Should().BeFalse();
        model.named_modules().Where(m => m.name != "layer2.0.bn1").Should().OnlyContain(m => m.module.training);
        torch.allclose(model.state_dict()["bn1.running_mean"], runningMean, 0, 0).Should().BeTrue("eval mode: running statistics unchanged");
        second.CountedLayerCalls.Should().Be(21, "hooks of the first summary were removed, so calls are not counted twice");
    }

    [Fact]
    public void Format_is_a_table_with_totals()
    {
        using var model = Sequential(("features", Conv2d(1, 4, 3)), ("flatten", Flatten()), ("classifier", Linear(4 * 26 * 26, 10)));

        string table = ModelSummary.Create(model, [1, 1, 28, 28]).ToString();
        _output.WriteLine(table);

        var lines = table.Split(Environment.NewLine);
        lines[0].Should().Be("Sequential, input [1, 1, 28, 28]");
        lines[2].Should().MatchRegex(@"^Layer \(type\) +Output shape +Parameters +Mult-adds$");
        lines[4].Should().MatchRegex(@"^features \(Conv2d\) +\[1, 4, 26, 26\] +40 +24,336$");
        lines[6].Should().MatchRegex(@"^classifier \(Linear\) +\[1, 10\] +27,050 +27,040$");
        table.Should().Contain("Total parameters: 27,090").And.Contain("Total mult-adds: 51,376 (0.00 G").And.Contain("Output shape: [1, 10]");
    }

    [Theory]
    [InlineData(new long[0], "[]")]
    [InlineData(new long[] { 1, 0, 28, 28 }, "[1, 0, 28, 28]")]
    [InlineData(new long[] { 1, 1, -3, 28 }, "[1, 1, -3, 28]")]
    public void Bad_input_shapes_are_refused_with_the_value(long[] shape, string shown)
    {
        using var model = Sequential(Conv2d(1, 2, 3));
        FluentActions.Invoking(() => ModelSummary.Create(model, shape))
            .Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "inputShape" && e.Message.Contains("received " + shown));
    }

    [Fact]
    public void Depth_below_one_is_refused_with_the_value()
    {
        using var model = Sequential(Conv2d(1, 2, 3));
        FluentActions.Invoking(() => ModelSummary.Create(model, [1, 1, 8, 8], new ModelSummaryOptions { Depth = 0 }))
            .Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "Depth" && e.Message.Contains("got 0"));
    }
}
