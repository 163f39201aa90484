using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples.ScaleOut;

/// <summary>
/// The round trip through PyTorch DistributedDataParallel: builds a torchvision-compatible network in .NET and saves
/// it, trains it in Python with DDP (<c>ddp_train.py</c>: gloo, N processes, DistributedSampler), then loads the
/// trained weights strictly in .NET, checks its logits against PyTorch's and evaluates it.
/// </summary>
public static class ScaleOutSample
{
    /// <summary>The largest absolute logit difference between .NET and PyTorch accepted.</summary>
    public const double LogitTolerance = 1e-4;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The Python script, copied next to the program.</summary>
    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "ddp_train.py");

    /// <summary>Runs the sample with one-line error handling; returns the exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops the Python training (its processes are killed).</param>
    /// <returns>0 on success, 2 for bad input (a non-portable network, a missing Python), 130 when stopped, 1 otherwise.</returns>
    public static int Run(string[] args, SampleConsole console, CancellationToken cancellationToken) =>
        SampleApp.Run<ScaleOutCommand>(
            "dotnet run -c Release --project samples/ScaleOut --",
            "Builds a torchvision-compatible ResNet in .NET, trains it in PyTorch with DistributedDataParallel (gloo, N processes), loads the result strictly back into .NET and checks its logits.",
            args,
            console,
            cancellationToken);

    /// <summary>
    /// A Markdown table of every network in <paramref name="registry"/>: whether torchvision rebuilds it, with which
    /// constructor and edits, or which options it cannot rebuild.
    /// </summary>
    /// <param name="registry">The registry, for example <see cref="ModelRegistry.Default"/>.</param>
    /// <param name="configure">A change applied to every preset first (for example one input channel and 10 classes).</param>
    public static string PortabilityTable(ModelRegistry registry, Func<ResNetOptions, ResNetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var text = new StringBuilder();
        text.AppendLine("| network | torchvision | constructor and edits, or the options it cannot rebuild |");
        text.AppendLine("| --- | --- | --- |");
        foreach (string name in registry.List())
        {
            var options = registry.GetOptions(name);
            var result = TorchvisionPortability.Check(configure is null ? options : configure(options));
            string detail = result.IsPortable
                ? "`" + string.Join("`; `", new[] { result.Constructor! }.Concat(result.Edits)) + "`"
                : string.Join("; ", result.NonPortableOptions.Select(o => $"{o.Name} = {o.Value}"));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {(result.IsPortable ? "yes" : "no")} | {detail} |");
        }

        return text.ToString();
    }

    /// <summary>The sample, top to bottom: refuse what PyTorch cannot rebuild, prepare, train in Python, evaluate in .NET.</summary>
    /// <param name="settings">The options.</param>
    /// <param name="console">Where to write.</param>
    /// <param name="cancellationToken">Stops the Python training.</param>
    /// <returns>The exit code.</returns>
    internal static int Execute(ScaleOutSettings settings, SampleConsole console, CancellationToken cancellationToken)
    {
        var output = console.Out;
        if (settings.Portability)
        {
            // The presets as registered (3 channels, 1000 classes) unless the options say otherwise.
            output.Write(PortabilityTable(ModelRegistry.Default, o => o with
            {
                InputChannels = settings.InputChannels ?? o.InputChannels,
                NumClasses = settings.Classes ?? o.NumClasses,
            }));
            return SampleRunner.ExitOk;
        }

        // Up front: a network PyTorch cannot rebuild is refused before anything is written or started.
        var options = ModelRegistry.Default.GetOptions(settings.Model) with { InputChannels = settings.InputChannels ?? 1, NumClasses = settings.Classes ?? 10 };
        var portable = TorchvisionPortability.Check(options);
        if (!portable.IsPortable)
        {
            throw new UsageException(
                $"--model {settings.Model}: torchvision cannot rebuild this network, so PyTorch cannot train it: {string.Join("; ", portable.NonPortableOptions)}.");
        }

        string outDir = Path.GetFullPath(settings.Out);
        torch.set_num_threads(settings.Threads);
        var files = new RoundTripFiles(outDir);
        if (!settings.EvaluateOnly)
        {
            string dataDir = Prepare(options, portable, settings.Model, settings.Data, settings.Seed, files, output);
            var pythonArgs = new List<string>
            {
                "--model-dir", outDir, "--data", dataDir,
                "--steps", Text(settings.StepCount), "--batch-size", Text(settings.Batch), "--lr", settings.Rate.ToString("R", CultureInfo.InvariantCulture),
                "--seed", Text(settings.Seed), "--threads", Text(settings.Threads), "--log-every", Text(settings.LogInterval),
                "--test-count", Text(settings.TestCount),
            };
            string script = ScriptPath;
            if (settings.PrepareOnly)
            {
                string rest = string.Join(' ', pythonArgs);
                output.WriteLine("Train on this machine:");
                output.WriteLine($"  {settings.Interpreter} {script} --processes {settings.Processes} {rest}");
                output.WriteLine("Or on several machines: the same command on each, with these files at the same path (the machine that gets rank 0 writes the results;");
                output.WriteLine("--redirects 2 --tee 2 works around torchrun 1.13's failure on Python 3.11 with the default '0'):");
                output.WriteLine($"  torchrun --nnodes 2 --nproc_per_node {settings.Processes} --rdzv_id scaleout --rdzv_backend c10d --rdzv_endpoint HOST:29500 --redirects 2 --tee 2 {script} {rest}");
                output.WriteLine($"Then: dotnet run -c Release --project samples/ScaleOut -- --model {settings.Model} --input-channels {options.InputChannels} --classes {options.NumClasses} --out {outDir} --evaluate-only");
                return SampleRunner.ExitOk;
            }

            if (PythonTorch.FindProblem(settings.Interpreter) is { } problem)
            {
                throw new SampleException($"training needs Python with torch and torchvision: {problem} Use --prepare-only to write the files without it.");
            }

            pythonArgs.InsertRange(0, [script, "--processes", Text(settings.Processes), "--port", Text(FreePort())]);
            output.WriteLine($"Training in PyTorch: {settings.Interpreter} {string.Join(' ', pythonArgs)}");
            var tail = new Queue<string>();
            int code = PythonTorch.Run(settings.Interpreter, pythonArgs, new Dictionary<string, string> { ["OMP_NUM_THREADS"] = Text(settings.Threads) },
                text =>
                {
                    output.WriteLine("  " + text);
                    tail.Enqueue(text);
                    if (tail.Count > 3)
                    {
                        tail.Dequeue();
                    }
                },
                TimeSpan.FromHours(24), cancellationToken);
            if (code != 0)
            {
                throw new SampleException($"ddp_train.py exited with code {code}: {string.Join(" | ", tail)}");
            }
        }

        return Evaluate(options, files, settings.Data, output);
    }

    /// <summary>Writes model.json, initial.pt and (without Fashion-MNIST) generated IDX data; returns the data folder for Python.</summary>
    private static string Prepare(ResNetOptions options, TorchvisionPortabilityResult portable, string name, string? data, int seed,
        RoundTripFiles files, TextWriter output)
    {
        Directory.CreateDirectory(files.Folder);
        string dataDir = data ?? FashionMnist.DefaultDirectory;
        if (data is not null && !Directory.Exists(data))
        {
            throw new UsageException($"--data: Fashion-MNIST folder '{data}' does not exist.");
        }

        if (data is null && !Directory.Exists(dataDir))
        {
            // Both sides must see the same images: write generated ones as IDX files for Python to read too.
            dataDir = Path.Combine(files.Folder, "generated-data");
            Directory.CreateDirectory(dataDir);
            foreach (var (prefix, count, dataSeed) in new[] { ("train", 6000, seed), ("t10k", 1000, seed + 1) })
            {
                var (images, labels) = SyntheticImages.Generate(count, dataSeed);
                IdxFile.WriteImages(Path.Combine(dataDir, $"{prefix}-images-idx3-ubyte.gz"), images, gzip: true);
                IdxFile.WriteLabels(Path.Combine(dataDir, $"{prefix}-labels-idx1-ubyte.gz"), labels, gzip: true);
            }

            output.WriteLine($"Fashion-MNIST not found: no --data given and '{FashionMnist.DefaultDirectory}' does not exist (Debian: apt install dataset-fashion-mnist).");
            output.WriteLine($"Using GENERATED stand-in data instead (6000 training, 1000 test images of 28x28, 10 classes), written to '{dataDir}' for both sides; numbers below are not Fashion-MNIST results.");
        }

        torch.manual_seed(seed);
        using var network = new ResNet(options);
        ModelWeights.Save(network, files.Initial, WeightsFormat.PyTorch);
        var spec = new Dictionary<string, object>
        {
            ["network"] = name,
            ["constructor"] = portable.Constructor!,
            ["edits"] = portable.Edits,
            ["python"] = portable.PythonCode!,
            ["input_channels"] = options.InputChannels,
            ["num_classes"] = options.NumClasses,
            ["normalization"] = new Dictionary<string, double> { ["mean"] = Normalization.FashionMnist.Mean, ["std"] = Normalization.FashionMnist.StandardDeviation },
        };
        File.WriteAllText(files.Spec, JsonSerializer.Serialize(spec, Indented));
        long parameters = network.parameters().Sum(p => p.numel());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} with {options.InputChannels} input channel(s), {options.NumClasses} classes: {parameters:N0} parameters; torchvision: {portable}"));
        output.WriteLine($"Wrote '{files.Spec}' and '{files.Initial}' (seed {seed}).");
        return dataDir;
    }

    private static int Evaluate(ResNetOptions options, RoundTripFiles files, string? data, TextWriter output)
    {
        foreach (string path in new[] { files.Trained, files.ReferenceJson, files.ReferenceInput, files.ReferenceLogits })
        {
            if (!File.Exists(path))
            {
                throw new SampleException($"'{path}' does not exist: run the training first (ddp_train.py writes it).");
            }
        }

        using var scope = torch.NewDisposeScope();
        using var reference = JsonDocument.Parse(File.ReadAllBytes(files.ReferenceJson));
        var root = reference.RootElement;
        long[] Shape(string property) => root.GetProperty(property).EnumerateArray().Select(e => e.GetInt64()).ToArray();

        // A fresh network with other random weights; the file must fit it exactly (strict is the default).
        torch.manual_seed(12345);
        using var network = new ResNet(options);
        var comparison = ModelWeights.Load(network, files.Trained);
        output.WriteLine($"Loaded '{files.Trained}' strictly into a fresh .NET {nameof(ResNet)}: {comparison.MatchedKeys.Count} tensors, exact key match {comparison.IsExactMatch}.");
        network.eval();

        using var noGrad = torch.no_grad();
        using var input = ReadFloats(files.ReferenceInput, Shape("input_shape"));
        using var expected = ReadFloats(files.ReferenceLogits, Shape("logits_shape"));
        using var logits = network.call(input);
        double difference = (logits - expected).abs().max().item<float>();
        double largest = expected.abs().max().item<float>();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Logits of the {input.shape[0]} reference images: max |.NET - PyTorch| = {difference:G3} (largest |logit| {largest:G3}; tolerance {LogitTolerance:G1})."));
        if (!(difference <= LogitTolerance))
        {
            throw new SampleException(string.Create(CultureInfo.InvariantCulture,
                $"the .NET logits differ from PyTorch's by {difference:G3}, more than {LogitTolerance:G1}: the network does not compute what torchvision computes."));
        }

        int count = root.GetProperty("test_images").GetInt32();
        int pythonCorrect = root.GetProperty("test_correct").GetInt32();
        long correct = 0;
        string? dataDir = data ?? (root.TryGetProperty("data", out var folder) ? folder.GetString() : null);
        if (dataDir is null)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"PyTorch trained on data it generated itself (no --data, no Fashion-MNIST), which .NET cannot read: no test-set comparison (PyTorch's accuracy: {100.0 * pythonCorrect / count:F2}%)."));
            return SampleRunner.ExitOk;
        }

        using (var splits = FashionMnist.Load(dataDir))
        using (var test = splits.Test.Take(Math.Min(count, splits.Test.Count)))
        {
            foreach (Batch batch in test.GetBatches(new BatchOptions { BatchSize = 500, Shuffle = false }))
            {
                using var batchScope = torch.NewDisposeScope();
                var images = options.InputChannels == 1 ? batch.Images : batch.Images.repeat(1, options.InputChannels, 1, 1);
                correct += network.call(images).argmax(1).eq(batch.Labels).sum().item<long>();
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Test accuracy on the first {count} test images of '{dataDir}': .NET {100.0 * correct / count:F2}% ({correct}/{count}), PyTorch {100.0 * pythonCorrect / count:F2}% ({pythonCorrect}/{count})."));
        return SampleRunner.ExitOk;
    }

    private static Tensor ReadFloats(string path, long[] shape)
    {
        float[] values = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        return values.LongLength == expected
            ? torch.tensor(values, shape)
            : throw new SampleException($"'{path}' holds {values.Length} floats, not the {expected} of shape [{string.Join(", ", shape)}].");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The files of one round trip, all in one folder.</summary>
    private sealed record RoundTripFiles(string Folder)
    {
        public string Spec => Path.Combine(Folder, "model.json");

        public string Initial => Path.Combine(Folder, "initial.pt");

        public string Trained => Path.Combine(Folder, "trained.pt");

        public string ReferenceJson => Path.Combine(Folder, "reference.json");

        public string ReferenceInput => Path.Combine(Folder, "reference-input.f32");

        public string ReferenceLogits => Path.Combine(Folder, "reference-logits.f32");
    }
}

/// <summary>The Spectre.Console.Cli command of the sample.</summary>
public sealed class ScaleOutCommand : Spectre.Console.Cli.Command<ScaleOutSettings>
{
    /// <inheritdoc/>
    public override int Execute(Spectre.Console.Cli.CommandContext context, ScaleOutSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ScaleOutSample.Execute(settings, (SampleConsole)context.Data!, cancellationToken);
    }
}
