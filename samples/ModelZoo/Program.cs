// Prints the table of every preset in ModelRegistry.Default, computed by the library itself (PresetTable): family,
// parameters, multiply-adds (ModelSummary, batch 1, 224x224 for the ImageNet stems, 32x32 for the CIFAR stem) and
// state_dict entries. docs/architecture.md holds its output.
//
//   dotnet run -c Release --project samples/ModelZoo [-- GLOB]      (GLOB filters names, for example "resnet*")
using System;
using System.Globalization;
using ResidualNet.Models;
using ResidualNet.Samples.ModelZoo;
using TorchSharp;

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string pattern = args.Length > 0 ? args[0] : "*";
if (args.Length > 1 || pattern is "-h" or "--help")
{
    Console.Error.WriteLine("usage: ModelZoo [GLOB]   (prints a markdown table of the registry's presets whose name matches GLOB)");
    return args.Length > 1 ? 2 : 0;
}

torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));
if (ModelRegistry.Default.List(pattern).Count == 0)
{
    Console.Error.WriteLine($"No preset matches '{pattern}'; ModelRegistry.Default holds {ModelRegistry.Default.Count}.");
    return 1;
}

PresetTable.Write(ModelRegistry.Default, pattern, Console.Out);
return 0;
