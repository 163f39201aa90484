using System;
using System.ComponentModel;
using System.Globalization;
using System.Linq;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ResidualNet.Samples.GradientFlow;

/// <summary>Normalisation choices (<c>--norm</c>).</summary>
public enum NormChoice
{
    /// <summary>Every network without normalisation and with BatchNorm.</summary>
    Both,

    /// <summary>BatchNorm in every block.</summary>
    BN,

    /// <summary>No normalisation layers.</summary>
    None,
}

/// <summary>The sample's options, parsed and validated by Spectre.Console.Cli.</summary>
public sealed class GradientFlowSettings : CommandSettings
{
    /// <summary>The activations the sample knows.</summary>
    public static readonly string[] KnownActivations = ["sigmoid", "relu", "tanh"];

    /// <summary>Comma-separated depths.</summary>
    [CommandOption("--depths <LIST>")]
    [Description("Comma-separated depths, each 6n + 2 between 8 and 1202 (218 adds about as much time as the three defaults together).")]
    [DefaultValue("20,56,110")]
    public string DepthList { get; init; } = "20,56,110";

    /// <summary>Comma-separated activations.</summary>
    [CommandOption("--activations <LIST>")]
    [Description("Comma-separated activations: sigmoid, relu, tanh.")]
    [DefaultValue("sigmoid,relu")]
    public string ActivationList { get; init; } = "sigmoid,relu";

    /// <summary>Normalisation.</summary>
    [CommandOption("--norm <CHOICE>")]
    [Description("Normalisation: both, bn or none.")]
    [DefaultValue(NormChoice.Both)]
    public NormChoice Norm { get; init; } = NormChoice.Both;

    /// <summary>First seed.</summary>
    [CommandOption("--seed <SEED>")]
    [Description("First seed; seed s draws the batch and every network's initial weights.")]
    [DefaultValue(1)]
    public int Seed { get; init; } = 1;

    /// <summary>Number of seeds.</summary>
    [CommandOption("--seeds <COUNT>")]
    [Description("How many seeds (seed, seed + 1, ...): each one a new batch and new initial weights.")]
    [DefaultValue(5)]
    public int Seeds { get; init; } = 5;

    /// <summary>Images per batch.</summary>
    [CommandOption("--batch-size <N>")]
    [Description("Training images in each batch.")]
    [DefaultValue(16)]
    public int BatchSize { get; init; } = 16;

    /// <summary>Random probe vectors per block for the identity term.</summary>
    [CommandOption("--probes <N>")]
    [Description("Random vectors v per block and seed for the identity term ||J'v|| / ||v|| (0 skips it).")]
    [DefaultValue(2)]
    public int Probes { get; init; } = 2;

    /// <summary>CPU threads (0: all cores).</summary>
    /// <remarks>
    /// Default 1: the convolutions are small (16 images, 16 to 64 channels), so a second thread costs more in
    /// synchronisation than it brings. Measured on the 2-core machine under load: 1 thread 33.8 s of CPU for the
    /// default run, 2 threads 303.6 s (docs/gradient-flow.md).
    /// </remarks>
    [CommandOption("--threads <N>")]
    [Description("CPU threads for TorchSharp; 0 for all cores.")]
    [DefaultValue(1)]
    public int Threads { get; init; } = 1;

    /// <summary>Fashion-MNIST folder.</summary>
    [CommandOption("--data <DIR>")]
    [Description("Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist; generated data when that is missing too).")]
    public string? Data { get; init; }

    /// <summary>Output folder.</summary>
    [CommandOption("--out <DIR>")]
    [Description("Folder for gradient-flow.png and gradient-flow.csv.")]
    [DefaultValue("out/gradient-flow")]
    public string Out { get; init; } = "out/gradient-flow";

    /// <summary>Short run.</summary>
    [CommandOption("--quick")]
    [Description("Seconds, for CI: depths 20 and 56, 2 seeds, batch 8.")]
    public bool Quick { get; init; }

    /// <summary>The depths, sorted, after <see cref="Validate"/>.</summary>
    public int[] Depths => Quick ? [20, 56] : ParseDepths(DepthList);

    /// <summary>The activations, in the order given.</summary>
    public string[] Activations => [.. ActivationList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => a.ToLowerInvariant()).Distinct()];

    /// <summary>The seeds.</summary>
    public int[] SeedValues => [.. Enumerable.Range(Seed, Quick ? 2 : Seeds)];

    /// <summary>Images per batch, after <c>--quick</c>.</summary>
    public int Batch => Quick ? 8 : BatchSize;

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        try
        {
            ParseDepths(DepthList);
        }
        catch (FormatException e)
        {
            return ValidationResult.Error(e.Message);
        }

        string? unknown = Activations.FirstOrDefault(a => !KnownActivations.Contains(a));
        if (Activations.Length == 0 || unknown is not null)
        {
            return ValidationResult.Error($"--activations: unknown item '{unknown ?? ActivationList}'; choose from {string.Join(", ", KnownActivations)}.");
        }

        if (Seeds is < 1 or > 100)
        {
            return ValidationResult.Error($"--seeds must be between 1 and 100; got {Seeds}.");
        }

        if (Seed < 0)
        {
            return ValidationResult.Error($"--seed must not be negative; got {Seed}.");
        }

        if (BatchSize is < 2 or > 4096)
        {
            return ValidationResult.Error($"--batch-size must be between 2 and 4096; got {BatchSize}.");
        }

        if (Probes is < 0 or > 64)
        {
            return ValidationResult.Error($"--probes must be between 0 and 64; got {Probes}.");
        }

        if (Threads is < 0 or > 1024)
        {
            return ValidationResult.Error($"--threads must be between 0 (all cores) and 1024; got {Threads}.");
        }

        return ValidationResult.Success();
    }

    /// <summary>Parses a comma-separated list of CIFAR depths (6n + 2 between 8 and 1202), sorted, duplicates removed.</summary>
    /// <param name="text">The list.</param>
    /// <returns>The depths.</returns>
    /// <exception cref="FormatException">An item is not such a depth, or the list is empty.</exception>
    public static int[] ParseDepths(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0)
        {
            throw new FormatException($"--depths expects a comma-separated list of depths; got '{text}'.");
        }

        foreach (string item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int depth) || depth < 8 || depth > 1202 || (depth - 2) % 6 != 0)
            {
                throw new FormatException($"--depths: '{item}' is not a CIFAR ResNet depth (6n + 2 between 8 and 1202, such as 20, 56, 110, 218).");
            }
        }

        return [.. items.Select(i => int.Parse(i, CultureInfo.InvariantCulture)).Distinct().Order()];
    }
}
