using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using FluentAssertions;
using ResidualNet.Analysis;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Weights;
using TorchSharp;
using Xunit;

namespace ResidualNet.IntegrationTests.Docs;

/// <summary>
/// docs/architecture.md: every C# block of the page appears verbatim (up to indentation and <c>using</c>
/// directives) in this file, so it compiles against the current API; the first and the summary example also run.
/// </summary>
public class ArchitecturePageSnippetTests
{
    [Fact]
    public void Every_code_block_of_the_page_is_in_this_file()
    {
        string page = File.ReadAllText(RepositoryFile("docs/architecture.md"));
        string source = Normalise(File.ReadAllText(ThisFile()));
        var blocks = Regex.Matches(page, "```csharp\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();

        blocks.Should().HaveCount(3);
        foreach (var block in blocks)
        {
            source.Should().Contain(Normalise(block));
        }
    }

    [Fact]
    public void Introduction_example_runs()
    {
        using var resnet50 = ModelRegistry.Default.Create("resnet50");                       // torchvision-exact
        using var plain34 = ModelRegistry.Default.Create("plain_resnet34");                  // its plain twin
        using var fashion = new ResNet(ModelRegistry.Default.GetOptions("resnet20") with { InputChannels = 1 });
        var custom = new ResNetBuilder()
            .WithStem(StemKind.Cifar, 16)
            .AddStage(BlockKind.PreActBasic, 9, 16)
            .AddStage(BlockKind.PreActBasic, 9, 32, stride: 2)
            .WithActivation(ActivationFactory.Sigmoid)
            .WithNorm(NormFactory.None)
            .WithClasses(10)
            .Build();                                                                         // a ResNetOptions
        using var network = new ResNet(custom);

        using var x = torch.randn(2, 1, 28, 28);
        using var y = fashion.call(x);
        y.shape.Should().Equal(2, 10);
        network.Blocks.Should().HaveCount(18);
        plain34.Options.HasShortcut.Should().BeFalse();
    }

    [Fact]
    public void Summary_example_runs()
    {
        using var model = ModelRegistry.Default.Create("resnet18");

        var summary = ModelSummary.Create(model, [1, 3, 224, 224], new ModelSummaryOptions { Depth = 2 });
        Console.Write(summary.Format());     // table: module, output shape, parameters, multiply-adds; totals
        Console.WriteLine($"{summary.TotalParameters:N0} parameters, {summary.GigaMultiplyAdds:F2} G multiply-adds");

        summary.TotalParameters.Should().Be(11_689_512);
    }

    /// <summary>The weights example, compiled (it needs files, so it is not run here; ModelWeightsTests runs the API).</summary>
    private static void WeightsExample(ResNet model)
    {
        ModelWeights.Save(model, "resnet50.dat");                 // TorchSharp's format (module.save)
        ModelWeights.Save(model, "resnet50.pt");                  // PyTorch: torch.load(...) in Python gives the state_dict
        ModelWeights.Save(model, "resnet50.safetensors");         // safetensors
        ModelWeights.Load(model, "resnet50.pth");                 // format detected from the file's first bytes; strict
        ModelWeights.Load(model, "imagenet.pt", WeightsLoadOptions.TransferLearning);   // skip "fc." (another class count)
        var comparison = ModelWeights.Compare(model, "other.pt"); // missing / unexpected keys, shape mismatches; loads nothing
        GC.KeepAlive(comparison);
    }

    private static string Normalise(string code) => string.Join("\n", code.Split('\n')
        .Select(l => l.Trim())
        .Where(l => l.Length > 0 && !Regex.IsMatch(l, @"^using (static )?[A-Za-z0-9_.]+;$")));

    private static string ThisFile([CallerFilePath] string path = "") => path;

    private static string RepositoryFile(string relative, [CallerFilePath] string path = "")
        => Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", relative);
}
