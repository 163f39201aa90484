using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ResidualNet.Samples.ScaleOut;

/// <summary>The ScaleOut sample's options (Spectre.Console.Cli). Options that <c>--quick</c> changes are null unless given.</summary>
public sealed class ScaleOutSettings : CommandSettings
{
    /// <summary>A registry preset that torchvision can rebuild.</summary>
    [CommandOption("--model <NAME>")]
    [Description("A registry preset that torchvision can rebuild (see --portability).")]
    [DefaultValue("resnet18")]
    public string Model { get; init; } = "resnet18";

    /// <summary>Input channels, or null for 1 (with --portability: the preset's).</summary>
    [CommandOption("--input-channels <N>")]
    [Description("Input channels (the image is repeated over them). Default 1; with --portability, the preset's.")]
    [Between(1, 64)]
    public int? InputChannels { get; init; }

    /// <summary>Classes, or null for 10 (with --portability: the preset's).</summary>
    [CommandOption("--classes <N>")]
    [Description("Classes of the head. Default 10; with --portability, the preset's.")]
    [Between(2, 100_000)]
    public int? Classes { get; init; }

    /// <summary>DDP processes.</summary>
    [CommandOption("--processes <N>")]
    [Description("DDP processes (ranks) started on this machine.")]
    [DefaultValue(2)]
    [Between(1, 256)]
    public int Processes { get; init; } = 2;

    /// <summary>Optimizer steps of every rank, or null for the default.</summary>
    [CommandOption("--steps <N>")]
    [Description("Optimizer steps of every rank. Default 300 (--quick: 20).")]
    [Between(1, 10_000_000)]
    public int? Steps { get; init; }

    /// <summary>Batch size of every rank, or null for the default.</summary>
    [CommandOption("--batch-size <N>")]
    [Description("Batch size of every rank. Default 64 (--quick: 32).")]
    [Between(1, 65_536)]
    public int? BatchSize { get; init; }

    /// <summary>Initial learning rate, or null for the default.</summary>
    [CommandOption("--lr <RATE>")]
    [Description("Initial learning rate (SGD, momentum 0.9, weight decay 5e-4, cosine schedule to 0 over the steps). Default 0.05 (--quick: 0.01).")]
    [Between(0, 10, MinExclusive = true)]
    public double? LearningRate { get; init; }

    /// <summary>Seed.</summary>
    [CommandOption("--seed <N>")]
    [Description("Seed of the initial weights, of the sampler's shuffle and of generated data.")]
    [DefaultValue(1)]
    [Between(0, int.MaxValue)]
    public int Seed { get; init; } = 1;

    /// <summary>CPU threads of every rank.</summary>
    [CommandOption("--threads <N>")]
    [Description("CPU threads of every rank (and of the .NET evaluation).")]
    [DefaultValue(1)]
    [Between(1, 1024)]
    public int Threads { get; init; } = 1;

    /// <summary>Test images, or null for the default.</summary>
    [CommandOption("--test-subset <N>")]
    [Description("Evaluate on the first N test images (0 = all). Default all (--quick: 1000).")]
    [Between(0, 10_000_000)]
    public int? TestSubset { get; init; }

    /// <summary>Loss line interval, or null for the default.</summary>
    [CommandOption("--log-every <N>")]
    [Description("Print each rank's mean loss every N steps. Default 50 (--quick: 5).")]
    [Between(1, 10_000_000)]
    public int? LogEvery { get; init; }

    /// <summary>Fashion-MNIST folder.</summary>
    [CommandOption("--data <DIR>")]
    [Description("Fashion-MNIST folder. Default /usr/share/datasets/fashion-mnist, else generated stand-in data.")]
    public string? Data { get; init; }

    /// <summary>Output folder.</summary>
    [CommandOption("--out <DIR>")]
    [Description("Output folder: model.json, initial.pt, trained.pt, the reference logits.")]
    [DefaultValue("out/scale-out")]
    public string Out { get; init; } = "out/scale-out";

    /// <summary>Python interpreter, or null for <see cref="PythonTorch.DefaultInterpreter"/>.</summary>
    [CommandOption("--python <PATH>")]
    [Description("Python with torch and torchvision. Default: $RESIDUALNET_PYTHON, else /usr/bin/python3.")]
    public string? Python { get; init; }

    /// <summary>Only prepare.</summary>
    [CommandOption("--prepare-only")]
    [Description("Only write model.json, initial.pt and the data, and print the Python commands (torchrun too).")]
    public bool PrepareOnly { get; init; }

    /// <summary>Only evaluate.</summary>
    [CommandOption("--evaluate-only")]
    [Description("Skip preparation and training: load OUT/trained.pt (written by ddp_train.py) and check it.")]
    public bool EvaluateOnly { get; init; }

    /// <summary>Print the portability table.</summary>
    [CommandOption("--portability")]
    [Description("Print which registry presets torchvision can rebuild, and exit.")]
    public bool Portability { get; init; }

    /// <summary>Short run.</summary>
    [CommandOption("--quick")]
    [Description("Short run: 20 steps, batch 32, lr 0.01, 1000 test images, a loss line every 5 steps (explicit options win).")]
    public bool Quick { get; init; }

    /// <summary>Steps, after <c>--quick</c>.</summary>
    public int StepCount => Steps ?? (Quick ? 20 : 300);

    /// <summary>Batch size, after <c>--quick</c>.</summary>
    public int Batch => BatchSize ?? (Quick ? 32 : 64);

    /// <summary>Learning rate, after <c>--quick</c>.</summary>
    public double Rate => LearningRate ?? (Quick ? 0.01 : 0.05);

    /// <summary>Loss line interval, after <c>--quick</c>.</summary>
    public int LogInterval => LogEvery ?? (Quick ? 5 : 50);

    /// <summary>Test images (0 = all), after <c>--quick</c>.</summary>
    public int TestCount => TestSubset ?? (Quick ? 1000 : 0);

    /// <summary>The Python interpreter.</summary>
    public string Interpreter => Python ?? PythonTorch.DefaultInterpreter;

    /// <inheritdoc/>
    public override ValidationResult Validate() => PrepareOnly && EvaluateOnly
        ? ValidationResult.Error("--prepare-only and --evaluate-only exclude each other.")
        : ValidationResult.Success();
}
