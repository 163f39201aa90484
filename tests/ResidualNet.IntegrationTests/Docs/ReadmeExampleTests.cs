using System;
using System.IO;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Models;
using TorchSharp;
using Xunit;

namespace ResidualNet.IntegrationTests.Docs;

/// <summary>The README's short example, as written there, compiled and run.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExample_RunsAndReportsEveryBlock()
    {
        var output = new StringWriter();

        // --- README.md, "A short example" (Console replaced by a writer) ---
        var options = ResNetPresets.CifarResNet(20) with { InputChannels = 1 };
        using var resnet = new ResNet(options);
        using var plain = new ResNet(options.AsPlain());

        using var monitor = GradientFlowMonitor.Attach(plain);
        using var x = torch.randn(16, 1, 28, 28);
        using var y = torch.randint(0, 10, 16);
        torch.nn.functional.cross_entropy(plain.call(x), y).backward();
        GradientFlowStep step = monitor.RecordStep()!;
        output.WriteLine(GradientFlowReport.ToText(step));
        // --- end of the example ---

        step.Blocks.Should().HaveCount(9, "ResNet-20 has nine blocks");
        output.ToString().Should().Contain("layer1.0").And.Contain("layer3.2");
        File.ReadAllText(FindReadme()).Should().Contain("var options = ResNetPresets.CifarResNet(20) with { InputChannels = 1 };")
            .And.Contain("GradientFlowStep step = monitor.RecordStep()!;");
    }

    private static string FindReadme()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "README.md");
            if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "ResidualNet.sln")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("README.md of the repository");
    }
}
