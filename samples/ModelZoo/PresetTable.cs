using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.Analysis;
using ResidualNet.Blocks;
using ResidualNet.Models;
using TorchSharp;

namespace ResidualNet.Samples.ModelZoo;

/// <summary>
/// The markdown table of a registry's presets, computed by the library: family, input size, parameters,
/// multiply-adds (<see cref="ModelSummary"/>, batch 1, 224x224 for the ImageNet stems, 32x32 for the CIFAR stem) and
/// state_dict entries. docs/architecture.md holds its output for <see cref="ModelRegistry.Default"/>.
/// </summary>
public static class PresetTable
{
    /// <summary>The table's two header lines.</summary>
    public static readonly string[] Header =
    [
        "| name | family | input | parameters | multiply-adds | state_dict entries |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ];

    /// <summary>The names matching <paramref name="pattern"/>, residual presets first, each followed by its plain twin.</summary>
    public static IReadOnlyList<string> OrderedNames(ModelRegistry registry, string pattern)
    {
        var names = registry.List(pattern);
        return names.Where(n => !n.StartsWith(ModelRegistry.PlainPrefix, StringComparison.Ordinal))
            .OrderBy(n => Rank(registry.GetOptions(n))).ThenBy(Depth).ThenBy(n => n, StringComparer.Ordinal)
            .SelectMany(n => new[] { n, ModelRegistry.PlainPrefix + n })
            .Where(names.Contains)
            .Concat(names.Where(n => n.StartsWith(ModelRegistry.PlainPrefix, StringComparison.Ordinal)
                                     && !names.Contains(n[ModelRegistry.PlainPrefix.Length..])))
            .ToList();
    }

    /// <summary>One table row for a registered name (builds the network and runs one forward pass).</summary>
    public static string Row(ModelRegistry registry, string name)
    {
        var options = registry.GetOptions(name);
        long side = options.Stem == StemKind.Cifar ? 32 : 224;
        using var scope = torch.NewDisposeScope();
        using var network = registry.Create(name);
        var summary = ModelSummary.Create(network, [1, options.InputChannels, side, side]);
        int entries = network.state_dict().Count;
        return string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {Family(options)} | {side}x{side} | {summary.TotalParameters:N0} | {FormatMacs(summary.TotalMultiplyAdds)} | {entries} |");
    }

    /// <summary>Writes the header and one row per matching preset; returns the number of rows.</summary>
    public static int Write(ModelRegistry registry, string pattern, TextWriter output)
    {
        var names = OrderedNames(registry, pattern);
        foreach (var line in Header)
        {
            output.WriteLine(line);
        }

        foreach (var name in names)
        {
            output.WriteLine(Row(registry, name));
        }

        return names.Count;
    }

    private static string FormatMacs(long macs) => macs >= 1_000_000_000
        ? string.Create(CultureInfo.InvariantCulture, $"{macs / 1e9:0.00} G")
        : string.Create(CultureInfo.InvariantCulture, $"{macs / 1e6:0.0} M");

    private static int Rank(ResNetOptions o) => (o.Stem == StemKind.Cifar ? 10 : 0)
        + (o.Stages[0].Kind.IsPreActivation() ? 5 : 0) + (o.Block.Groups > 1 ? 1 : 0) + (o.Block.BaseWidth > 64 && o.Block.Groups == 1 ? 2 : 0);

    private static int Depth(string name) =>
        int.TryParse(new string(name.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray()), CultureInfo.InvariantCulture, out int d) ? d : 0;

    private static string Family(ResNetOptions o)
    {
        bool cifar = o.Stem == StemKind.Cifar;
        bool preAct = o.Stages[0].Kind.IsPreActivation();
        string family = (cifar, preAct) switch
        {
            (true, true) => "CIFAR pre-activation ResNet",
            (true, false) => $"CIFAR ResNet (option {(o.Block.Shortcut == ShortcutKind.ZeroPad ? "A" : "B")})",
            (false, true) => "pre-activation ResNet",
            _ when o.Block.Groups > 1 => $"ResNeXt ({o.Block.Groups}x{o.Block.BaseWidth}d)",
            _ when o.Block.BaseWidth > 64 => $"Wide ResNet (x{o.Block.BaseWidth / 64})",
            _ => "ResNet",
        };
        string blocks = o.Stages[0].Kind.Expansion() > 1 ? "bottleneck" : "basic";
        return o.HasShortcut ? $"{family}, {blocks}" : $"plain twin: {family}, {blocks}";
    }
}
