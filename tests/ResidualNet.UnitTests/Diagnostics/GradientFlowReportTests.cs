using System;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Diagnostics;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Diagnostics;

public class GradientFlowReportTests
{
    private static readonly GradientFlowStep Step = new(
        4,
        new[]
        {
            new ParameterGradientStats("stem.weight", 0, 432, 1e-9, 2e-11, 5e-10, 0) { IsWeight = true, UpdateToWeightRatio = 0.25 },
            new ParameterGradientStats("fc,odd\"name", 1, 10, double.NaN, double.NaN, double.PositiveInfinity, 3) { IsWeight = true },
        },
        new[]
        {
            new BlockGradientStats("blocks.block0", 0, null, 0.5, new ActivationStats(0.1, 2, 0.5)),
            new BlockGradientStats("blocks.block1", 1, 0.25, 0.125, null),
        });

    [Fact]
    public void CsvHasOneRowPerBlockAndParameterWithRoundTripNumbers()
    {
        var lines = GradientFlowReport.ToCsv(new[] { Step }).TrimEnd('\n').Split('\n');
        lines.Should().HaveCount(5);
        lines[0].Should().StartWith("step,kind,depth,name,elements,input_grad_norm");
        lines[1].Should().Be("4,block,0,blocks.block0,,,0.5,0.1,2,0.5,,,,,");
        lines[2].Should().Be("4,block,1,blocks.block1,,0.25,0.125,,,,,,,,");
        lines[3].Should().Be("4,parameter,0,stem.weight,432,,,,,,1E-09,2E-11,5E-10,0,0.25");
        lines[4].Should().Be("4,parameter,1,\"fc,odd\"\"name\",10,,,,,,NaN,NaN,Infinity,3,");
    }

    [Fact]
    public void JsonRoundTripsIncludingNaNAndInfinity()
    {
        var json = GradientFlowReport.ToJson(new[] { Step });
        json.Should().Contain("\"inputGradientNorm\": null").And.Contain("\"NaN\"").And.Contain("\"Infinity\"");
        var back = GradientFlowReport.FromJson(json);
        back.Should().HaveCount(1);
        back[0].Parameters[0].Should().Be(Step.Parameters[0]);
        back[0].Blocks[0].Should().Be(Step.Blocks[0]);
        double.IsNaN(back[0].Parameters[1].L2Norm).Should().BeTrue();
    }

    [Fact]
    public void TextTableShowsDiagnosisBlocksAndParameters()
    {
        var text = GradientFlowReport.ToText(Step);
        var lines = text.TrimEnd('\n').Split('\n');
        lines[0].Should().Be("step 4: NonFinite (1 norm(s) from BlockInputs)");
        lines.Should().Contain(l => l.Contains("blocks.block1") && l.Contains("2.500E-01") && l.Contains("1.250E-01"));
        lines.Should().Contain(l => l.Contains("stem.weight") && l.Contains("1.000E-09") && l.Contains("2.500E-01"));
    }

    [Fact]
    public void TensorBoardLoggerWritesHistogramsAndScalars()
    {
        using var scope = torch.NewDisposeScope();
        var dir = Path.Combine(Path.GetTempPath(), "residualnet-tb-" + Guid.NewGuid().ToString("N"));
        try
        {
            var model = nn.Sequential(("a", nn.Linear(3, 4)), ("b", nn.Linear(4, 1)));
            using var monitor = GradientFlowMonitor.Attach(model);
            model.call(torch.randn(5, 3)).sum().backward();
            var step = monitor.RecordStep()!;
            var writer = torch.utils.tensorboard.SummaryWriter(dir);
            var before = EventBytes(dir);
            TensorBoardGradientLogger.LogGradientHistograms(writer, model, 0).Should().Be(4);
            var afterHistograms = EventBytes(dir);
            // Block "a" sees the raw input (no input gradient) and one block input gives no ratio: 1 + 2 + 4 scalars.
            TensorBoardGradientLogger.LogStep(writer, step).Should().Be(7);
            afterHistograms.Should().BeGreaterThan(before + 4 * 100, "four histograms with their buckets");
            EventBytes(dir).Should().BeGreaterThan(afterHistograms);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static long EventBytes(string dir) =>
        Directory.GetFiles(dir, "events.out.tfevents.*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
}
