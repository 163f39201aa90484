using System;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using FluentAssertions;
using ResidualNet.Models;
using ResidualNet.Samples.ModelZoo;
using Xunit;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>samples/ModelZoo: the preset table is computed by the library, and docs/architecture.md holds its output.</summary>
public class ModelZooTests
{
    private static ModelRegistry Presets { get; } = ModelRegistry.CreateWithPresets();

    [Fact]
    public void Rows_hold_the_exact_counts()
    {
        var writer = new StringWriter();
        int rows = PresetTable.Write(Presets, "*resnet20", writer);

        rows.Should().Be(2);
        writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Should().Equal(
            PresetTable.Header[0],
            PresetTable.Header[1],
            "| resnet20 | CIFAR ResNet (option A), basic | 32x32 | 269,722 | 40.6 M | 116 |",
            "| plain_resnet20 | plain twin: CIFAR ResNet (option A), basic | 32x32 | 269,722 | 40.6 M | 116 |");
    }

    [Fact]
    public void Every_preset_is_listed_in_the_architecture_page_in_the_generated_order()
    {
        string page = File.ReadAllText(RepositoryFile("docs/architecture.md"));
        var documented = page.Split('\n').Select(l => l.TrimEnd('\r'))
            .SkipWhile(l => l != PresetTable.Header[0]).Skip(2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => l.Split('|')[1].Trim()).ToList();

        documented.Should().Equal(PresetTable.OrderedNames(Presets, "*"));
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("plain_resnet56")]
    [InlineData("preact_resnet110")]
    public void Documented_rows_equal_freshly_generated_ones(string name)
    {
        string page = File.ReadAllText(RepositoryFile("docs/architecture.md"));
        string row = PresetTable.Row(Presets, name);

        page.Split('\n').Select(l => l.TrimEnd('\r')).Should().Contain(row);
    }

    private static string RepositoryFile(string relative, [CallerFilePath] string path = "")
        => Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", relative);
}
