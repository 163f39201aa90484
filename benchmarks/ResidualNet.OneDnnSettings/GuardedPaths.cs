using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ResidualNet.Models;
using ResidualNet.Onnx;
using ResidualNet.OnnxRuntime;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.OneDnnSettings;

/// <summary>
/// Issue 16 item 4: on a CPU that hides its caches (simulated here) with the guard's setting (oneDNN on, its cache sizes
/// corrected), how fast is each path the library offers for resnet50? Inference: the library's fp32 model, the bf16
/// fast path (BN folded, channels_last, bf16), ONNX Runtime fp32 and int8 (static QDQ, uint8 activations); training:
/// fp32 and bf16 mixed precision with channels_last. All in one process, interleaved round by round; each inference
/// path's output is also compared with the fp32 model's on the same batch (top-1 agreement, relative difference).
/// <code>
/// dotnet run -c Release --project benchmarks/ResidualNet.OneDnnSettings -- --paths --rounds 7 --report benchmarks/results/onednn-guard/paths.md
/// </code>
/// The ONNX files are exported and quantized in a first child process on the machine as it is (the export runs
/// ResidualNet code, which this program keeps out of the simulated processes until their state is set).
/// </summary>
internal static class GuardedPaths
{
    private static readonly string[] Inference = ["torch-fp32", "torch-bf16-fast", "ort-fp32", "ort-int8"];
    private static readonly string[] Training = ["train-fp32", "train-bf16-mixed-channels-last"];

    /// <summary>The parent: export child, measuring child, report.</summary>
    internal static int Orchestrate(Program.Options options)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"residualnet-guarded-paths-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        try
        {
            string started = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
            string loadBefore = Program.LoadAverage();
            string[] common = ["--dir", directory, "--rounds", options.Rounds.ToString(CultureInfo.InvariantCulture),
                "--batch", options.Batch.ToString(CultureInfo.InvariantCulture), "--size", options.Size.ToString(CultureInfo.InvariantCulture),
                "--threads", options.Threads.ToString(CultureInfo.InvariantCulture)];
            var export = Program.RunChild(["export", .. common], "natural");
            if (export.Exit != 0)
            {
                Console.Error.WriteLine(export.Output + export.Error);
                return 1;
            }

            var (exit, output, error) = Program.RunChild(["paths", .. common], "cache-fix");
            if (exit != 0)
            {
                Console.Error.WriteLine(output + error);
                return 1;
            }

            var results = Program.Results(output);
            var report = new StringBuilder();
            report.AppendLine("# resnet50 paths on a CPU that hides its caches (simulated), with the guard's setting").AppendLine();
            report.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project benchmarks/ResidualNet.OneDnnSettings -- {string.Join(' ', options.Raw)}`  ");
            report.AppendLine(CultureInfo.InvariantCulture, $"Started {started}; CPU: {Program.CpuModel()}, {Environment.ProcessorCount} logical processors; load average at start: {loadBefore}.  ");
            report.AppendLine(CultureInfo.InvariantCulture, $"Library resnet50, batch {options.Batch}, {options.Size}x{options.Size}; one process with the hidden caches simulated and the guard's cache-size correction applied; {options.Rounds} rounds after one warm-up, every path once per round (order alternating); medians, and the median over rounds of each path's ratio to the fp32 row of the same round.").AppendLine();
            AppendTable(report, "Inference", Inference, results);
            AppendTable(report, "Training step (forward, cross-entropy, backward, SGD momentum 0.9)", Training, results);
            report.AppendLine("Agreement of each inference path with the fp32 model on the measured batch (right results on the guarded state):").AppendLine();
            report.AppendLine("| path | top-1 agreement | relative L2 difference of the logits |");
            report.AppendLine("|---|---:|---:|");
            foreach (var r in results.Where(r => r[0] == "AGREE"))
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"| {r[1]} | {r[2]} | {double.Parse(r[3], CultureInfo.InvariantCulture):E1} |");
            }

            return Program.Publish(report, options);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Child on the machine as it is: exports resnet50 to ONNX, fp32 and int8 (calibrated on 16 random images).</summary>
    internal static int Export(Program.Options options)
    {
        string directory = options.Directory ?? throw new ArgumentException("--dir is required");
        manual_seed(0);
        using var model = ModelRegistry.Default.Create("resnet50");
        model.eval();
        OnnxExporter.Export(model, Path.Combine(directory, "fp32.onnx"));
        manual_seed(2);
        using var calibration = randn(16, 3, options.Size, options.Size);
        OnnxQuantizer.ExportQuantized(model, calibration, Path.Combine(directory, "int8.onnx"), new QuantizationOptions { IntraOpThreads = get_num_threads() });
        model.save(Path.Combine(directory, "resnet50.dat"));
        return 0;
    }

    /// <summary>Child on the simulated state with the cache-size correction: times every path; prints RESULT lines.</summary>
    internal static int Measure(Program.Options options)
    {
        Program.Apply("cache-fix", first: true);
        string directory = options.Directory ?? throw new ArgumentException("--dir is required");
        string weights = Path.Combine(directory, "resnet50.dat");
        ResNet Load()
        {
            var model = ModelRegistry.Default.Create("resnet50");
            model.load(weights);
            return model;
        }

        manual_seed(1);
        using var x = randn(options.Batch, 3, options.Size, options.Size);
        using var target = randint(0, 1000, options.Batch);

        using var fp32 = Load();
        fp32.eval();
        using var fast = Load();
        fast.eval();
        fast.OptimizeForInference(InferenceOptions.Fast);
        using var fastInput = InferenceOptimizer.PrepareInput(x, InferenceOptions.Fast).DetachFromDisposeScope();
        var sessionOptions = new OnnxRuntimeSessionOptions { IntraOpThreads = get_num_threads() };
        using var ortFp32 = new OnnxRuntimeSession(Path.Combine(directory, "fp32.onnx"), sessionOptions);
        using var ortInt8 = new OnnxRuntimeSession(Path.Combine(directory, "int8.onnx"), sessionOptions);

        using var trainFp32 = Load();
        trainFp32.train();
        using var sgd = optim.SGD(trainFp32.parameters(), 0.01, momentum: 0.9);
        using var trainMixed = Load();
        trainMixed.train();
        trainMixed.ToChannelsLast();
        using var mixedInput = x.ToChannelsLast().DetachFromDisposeScope();
        using var mixed = new MixedPrecisionTrainer(trainMixed, ps => optim.SGD(ps, 0.01, momentum: 0.9));

        Tensor Infer(string path)
        {
            using var noGrad = no_grad();
            return path switch
            {
                "torch-fp32" => fp32.call(x),
                "torch-bf16-fast" => fast.call(fastInput).to(ScalarType.Float32),
                "ort-fp32" => ortFp32.Run(x),
                _ => ortInt8.Run(x),
            };
        }

        double Time(string path)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            switch (path)
            {
                case "train-fp32":
                {
                    sgd.zero_grad();
                    var loss = nn.functional.cross_entropy(trainFp32.call(x), target);
                    loss.backward();
                    sgd.step();
                    loss.item<float>();
                    break;
                }

                case "train-bf16-mixed-channels-last":
                    mixed.Step(mixedInput, o => nn.functional.cross_entropy(o, target));
                    break;
                default:
                    Infer(path);
                    break;
            }

            return clock.Elapsed.TotalMilliseconds;
        }

        using (NewDisposeScope())
        {
            var reference = Infer("torch-fp32");
            var referenceTop = reference.argmax(1);
            foreach (string path in Inference.Skip(1))
            {
                var output = Infer(path);
                long agree = output.argmax(1).eq(referenceTop).sum().item<long>();
                double difference = (output - reference).norm().item<float>() / reference.norm().item<float>();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT AGREE {path} {agree}/{options.Batch} {difference:R}"));
            }
        }

        string[] all = [.. Inference, .. Training];
        foreach (string path in all)
        {
            Time(path);
        }

        for (int round = 0; round < options.Rounds; round++)
        {
            foreach (string path in round % 2 == 0 ? all : all.Reverse())
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT TIME paths {path} {Time(path):F1}"));
            }
        }

        return 0;
    }

    private static void AppendTable(StringBuilder report, string title, string[] paths, List<string[]> results)
    {
        report.AppendLine(CultureInfo.InvariantCulture, $"{title}:").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"| path | median ms | ratio to {paths[0]} (median of per-round ratios, range) | speed-up |");
        report.AppendLine("|---|---:|---:|---:|");
        var baseline = Program.Times(results, "paths", paths[0]);
        foreach (string path in paths)
        {
            var mine = Program.Times(results, "paths", path);
            var ratios = mine.Zip(baseline, (a, b) => a / b).ToList();
            double ratio = Program.Median(ratios);
            report.AppendLine(CultureInfo.InvariantCulture, $"| {path} | {Program.Median(mine):F0} | {ratio:F2} ({ratios.Min():F2}-{ratios.Max():F2}) | {1 / ratio:F2}x |");
        }

        report.AppendLine();
    }
}
