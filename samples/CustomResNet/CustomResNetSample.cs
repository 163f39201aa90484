using System;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Threading;
using ResidualNet.Analysis;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using ResidualNet.Weights;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.CustomResNet;

/// <summary>Weight-file formats the sample can write (<c>--format</c>).</summary>
public enum FileFormat
{
    /// <summary>safetensors (<c>.safetensors</c>).</summary>
    Safetensors = 0,

    /// <summary>PyTorch (<c>.pt</c>, loadable with <c>torch.load</c>).</summary>
    PyTorch = 1,

    /// <summary>TorchSharp's own format (<c>.weights</c>).</summary>
    TorchSharp = 2,
}

/// <summary>
/// Composes a custom ResNet with <see cref="ResNetBuilder"/> (mixed block kinds, squeeze-excitation, a custom
/// activation), prints its summary, saves its weights, loads them into a fresh instance and checks the outputs match.
/// </summary>
public static class CustomResNetSample
{
    /// <summary>Runs the sample with one-line error handling; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Not used (the sample is short); kept for the common runner.</param>
    /// <returns>0 on success, 2 for bad input, 1 for unexpected failures.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken) =>
        SampleApp.Run<CustomResNetCommand>(
            "dotnet run --project samples/CustomResNet --",
            "Builds a custom ResNet with ResNetBuilder, prints its summary, saves its weights and loads them back.",
            args,
            console,
            cancellationToken);

    /// <summary>The custom activation: hard-swish (x * relu6(x + 3) / 6), registered by name.</summary>
    public static ActivationFactory HardSwish { get; } = ActivationFactory.Custom("HardSwish", () => nn.Hardswish());

    /// <summary>
    /// The custom network for 1 x 28 x 28 input and 10 classes: a 3x3 stem of 24 filters; two basic blocks of 32
    /// filters; two bottlenecks of 32 planes (128 outputs) with squeeze-excitation (reduction 8) and stride 2; one
    /// pre-activation basic block of 128 filters with stride 2; hard-swish everywhere; projection shortcuts.
    /// </summary>
    /// <param name="classes">Classes of the head.</param>
    /// <returns>The options (build them with <c>new ResNet(options)</c>).</returns>
    public static ResNetOptions Options(long classes = 10)
    {
        var blocks = BlockOptions.Default with { Activation = HardSwish, Shortcut = ShortcutKind.Projection };
        return new ResNetBuilder()
            .WithStem(StemKind.Cifar, 24)
            .WithInputChannels(1)
            .WithClasses(classes)
            .WithBlockOptions(blocks)
            .AddStage(BlockKind.Basic, 2, 32)
            .AddStage(BlockKind.Bottleneck, 2, 32, stride: 2, options: blocks with { SqueezeExcitation = true, SqueezeExcitationReduction = 8 })
            .AddStage(BlockKind.PreActBasic, 1, 128, stride: 2)
            .Build();
    }
}

/// <summary>The CustomResNet sample's options.</summary>
public sealed class CustomResNetSettings : CommonSettings
{
    /// <summary>Weights file format.</summary>
    [CommandOption("--format <FORMAT>")]
    [Description("Weights file format: safetensors, pytorch or torchsharp.")]
    [DefaultValue("safetensors")]
    public FileFormat Format { get; init; } = FileFormat.Safetensors;

    /// <summary>Module depth of the summary's rows.</summary>
    [CommandOption("--summary-depth <N>")]
    [Description("Module depth of the summary's rows (1 = stem, stages, head).")]
    [DefaultValue(2)]
    [Between(1, 10)]
    public int SummaryDepth { get; init; } = 2;

    /// <summary>Output folder.</summary>
    [CommandOption("--out <DIR>")]
    [Description("Output folder for the weights file.")]
    [DefaultValue("out/custom-resnet")]
    public string Out { get; init; } = "out/custom-resnet";

    /// <summary>Accepted for uniformity.</summary>
    [CommandOption("--quick")]
    [Description("Accepted for uniformity with the other samples (this sample is always quick).")]
    public bool Quick { get; init; }
}

/// <summary>The sample, top to bottom.</summary>
public sealed class CustomResNetCommand : Command<CustomResNetSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, CustomResNetSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        var output = ((SampleConsole)context.Data!).Out;
        torch.set_num_threads(settings.ThreadCount);
        var options = CustomResNetSample.Options();
        output.WriteLine("Custom ResNet: 3x3 stem (24) -> 2 x Basic(32) -> 2 x Bottleneck(32 -> 128, SE r=8, stride 2) -> 1 x PreActBasic(128, stride 2) -> pool -> fc(10); activation HardSwish.");

        torch.manual_seed(settings.Seed);
        using var model = new ResNet(options);
        model.eval();
        var summary = ModelSummary.Create(model, [1, 1, 28, 28], new ModelSummaryOptions { Depth = settings.SummaryDepth });
        output.WriteLine(summary.Format());

        string outDir = settings.Out;
        Directory.CreateDirectory(outDir);
        string extension = settings.Format switch
        {
            FileFormat.Safetensors => ".safetensors",
            FileFormat.PyTorch => ".pt",
            _ => ".weights",
        };
        string path = Path.Combine(outDir, "custom-resnet" + extension);
        var written = ModelWeights.Save(model, path);

        // A fresh instance with other random weights, then the file: its outputs must equal the original's exactly.
        torch.manual_seed(settings.Seed + 1000);
        using var reloaded = new ResNet(options);
        reloaded.eval();
        using var input = torch.randn(8, 1, 28, 28, generator: new torch.Generator((ulong)settings.Seed));
        using var noGrad = torch.no_grad();
        using var before = reloaded.call(input);
        using var expected = model.call(input);
        double differenceBefore = (before - expected).abs().max().item<float>();
        var comparison = ModelWeights.Load(reloaded, path);
        using var actual = reloaded.call(input);
        bool identical = actual.eq(expected).all().item<bool>();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Saved {comparison.MatchedKeys.Count} tensors to '{path}' ({written}, {new FileInfo(path).Length:N0} bytes); loaded them into a fresh instance (exact key match: {comparison.IsExactMatch})."));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Outputs on 8 random inputs: max |difference| {differenceBefore:G3} before loading, {(actual - expected).abs().max().item<float>():G3} after; identical: {identical}."));
        if (!identical)
        {
            throw new SampleException($"the model reloaded from '{path}' gives different outputs.");
        }

        return SampleRunner.ExitOk;
    }
}
