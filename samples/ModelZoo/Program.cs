// Prints the table of every preset in ModelRegistry.Default, computed by the library itself: family, parameters,
// multiply-adds (ModelSummary, batch 1, 224x224 for the ImageNet stems, 32x32 for the CIFAR stem) and state_dict
// entries. docs/architecture.md holds its output.
//
//   dotnet run -c Release --project samples/ModelZoo [-- GLOB]      (GLOB filters names, for example "resnet*")
using System;
using System.Globalization;
using System.Linq;
using ResidualNet.Analysis;
using ResidualNet.Blocks;
using ResidualNet.Models;
using TorchSharp;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string pattern = args.Length > 0 ? args[0] : "*";
if (args.Length > 1 || pattern is "-h" or "--help")
{
    Console.Error.WriteLine("usage: ModelZoo [GLOB]   (prints a markdown table of the registry's presets whose name matches GLOB)");
    Environment.Exit(args.Length > 1 ? 2 : 0);
}

var registry = ModelRegistry.Default;
var names = registry.List(pattern);
if (names.Count == 0)
{
    Console.Error.WriteLine($"No preset matches '{pattern}'; ModelRegistry.Default holds {registry.Count}.");
    Environment.Exit(1);
}

torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));
Console.WriteLine("| name | family | input | parameters | multiply-adds | state_dict entries |");
Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: |");

// Residual presets first, each followed by its plain twin.
var ordered = names.Where(n => !n.StartsWith(ModelRegistry.PlainPrefix, StringComparison.Ordinal))
    .OrderBy(n => Rank(registry.GetOptions(n))).ThenBy(n => Depth(n)).ThenBy(n => n, StringComparer.Ordinal)
    .SelectMany(n => new[] { n, ModelRegistry.PlainPrefix + n })
    .Where(names.Contains)
    .Concat(names.Where(n => n.StartsWith(ModelRegistry.PlainPrefix, StringComparison.Ordinal)
                             && !names.Contains(n[ModelRegistry.PlainPrefix.Length..])))
    .ToList();
foreach (var name in ordered)
{
    var options = registry.GetOptions(name);
    long side = options.Stem == StemKind.Cifar ? 32 : 224;
    using var scope = torch.NewDisposeScope();
    using var network = registry.Create(name);
    var summary = ModelSummary.Create(network, [1, options.InputChannels, side, side]);
    int entries = network.state_dict().Count;
    Console.WriteLine(
        $"| {name} | {Family(options)} | {side}x{side} | {summary.TotalParameters:N0} | {FormatMacs(summary.TotalMultiplyAdds)} | {entries} |");
}

static string FormatMacs(long macs) => macs >= 1_000_000_000 ? $"{macs / 1e9:0.00} G" : $"{macs / 1e6:0.0} M";

static int Rank(ResNetOptions o) => (o.Stem == StemKind.Cifar ? 10 : 0)
    + (o.Stages[0].Kind.IsPreActivation() ? 5 : 0) + (o.Block.Groups > 1 ? 1 : 0) + (o.Block.BaseWidth > 64 && o.Block.Groups == 1 ? 2 : 0);

static int Depth(string name) => int.TryParse(new string(name.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray()), out int d) ? d : 0;

static string Family(ResNetOptions o)
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
