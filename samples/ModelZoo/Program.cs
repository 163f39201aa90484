// Prints the table of every preset in ModelRegistry.Default, computed by the library itself (PresetTable): family,
// parameters, multiply-adds (ModelSummary, batch 1, 224x224 for the ImageNet stems, 32x32 for the CIFAR stem) and
// state_dict entries. docs/architecture.md holds its output.
//
//   dotnet run -c Release --project samples/ModelZoo [-- GLOB]      (GLOB filters names, for example "resnet*")
using System;
using System.ComponentModel;
using System.Threading;
using ResidualNet.Models;
using ResidualNet.Samples;
using ResidualNet.Samples.ModelZoo;
using Spectre.Console.Cli;
using TorchSharp;

return SampleRunner.Run(token => SampleApp.Run<ModelZooCommand>(
    "dotnet run -c Release --project samples/ModelZoo --",
    "Prints a Markdown table of the registry's presets: family, parameters, multiply-adds and state_dict entries.",
    args,
    SampleConsole.System,
    token));

/// <summary>The ModelZoo sample's options.</summary>
internal sealed class ModelZooSettings : CommandSettings
{
    [CommandArgument(0, "[GLOB]")]
    [Description("Only the presets whose name matches, for example \"resnet*\".")]
    [DefaultValue("*")]
    public string Pattern { get; init; } = "*";
}

/// <summary>Prints the table; exit code 1 when no preset matches.</summary>
internal sealed class ModelZooCommand : Command<ModelZooSettings>
{
    public override int Execute(CommandContext context, ModelZooSettings settings, CancellationToken cancellationToken)
    {
        var console = (SampleConsole)context.Data!;
        torch.set_num_threads(Math.Min(2, Environment.ProcessorCount));
        if (ModelRegistry.Default.List(settings.Pattern).Count == 0)
        {
            console.Error.WriteLine($"No preset matches '{settings.Pattern}'; ModelRegistry.Default holds {ModelRegistry.Default.Count}.");
            return SampleRunner.ExitUnexpected;
        }

        PresetTable.Write(ModelRegistry.Default, settings.Pattern, console.Out);
        return SampleRunner.ExitOk;
    }
}
