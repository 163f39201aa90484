using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.OneDnnSettings;

/// <summary>
/// Compares the settings that keep libtorch right on a CPU that hides its cache sizes (issue 11), on this machine with
/// the affected state simulated (1-byte caches written into oneDNN's CPU object, as read on the affected machines):
/// oneDNN off in ATen, the guard's cache-size correction, and oneDNN's ISA caps (<c>ONEDNN_MAX_CPU_ISA</c>, read once
/// per process, so each cap runs in its own process, against oneDNN off measured in that same process). Each setting is
/// first checked for right results and crashes, each check in a child process. Then, on the machine as it is, the
/// default speed before and after the guard.
/// <code>
/// dotnet run -c Release --project benchmarks/ResidualNet.OneDnnSettings -- --rounds 15 --report benchmarks/results/onednn-guard/report.md
/// </code>
/// With <c>--paths</c> only section 4 runs: on the simulated state with the guard's setting (the cache-size
/// correction), resnet50 inference through every path the library offers (fp32, the bf16 fast path, ONNX Runtime
/// fp32 and int8) and training (fp32, bf16 mixed precision), interleaved in one process (issue 16 item 4).
/// Options: <c>--rounds N</c> (7), <c>--batch N</c> (8), <c>--size N</c> (224), <c>--threads N</c> (libtorch's default when 0),
/// <c>--report file.md</c> (also written to standard output).
/// Workloads (TorchVision's networks, so that no ResidualNet call runs the guard unasked): resnet50 eval inference and
/// training step (SGD, cross-entropy), resnet18 eval inference; batch 8, 224x224 by default. Timing: one warm-up per
/// setting, then rounds in which each workload runs under every setting back to back (the order alternating from round
/// to round); reported are medians, and the median over rounds of the ratio to oneDNN off measured just before or after.
/// </summary>
public static class Program
{
    private static readonly string[] Workloads = ["resnet50-inference", "resnet50-training", "resnet18-inference"];
    private static readonly string[] CheckCases = ["canary", "resnet18-channels-last", "resnet50-channels-last", "resnext50-backward", "resnet50-training"];

    /// <summary>Runs the comparison (no arguments besides options) or one child step (<c>check</c>, <c>measure</c>).</summary>
    public static int Main(string[] args)
    {
        var options = Options.Parse(args);
        if (options.Threads > 0)
        {
            set_num_threads(options.Threads);
        }

        return options.Command switch
        {
            "check" => Check(options.Setting, options.Case),
            "measure" => Measure(options),
            "export" => GuardedPaths.Export(options),
            "paths" => GuardedPaths.Measure(options),
            _ when options.Paths => GuardedPaths.Orchestrate(options),
            _ => Orchestrate(options),
        };
    }

    /// <summary>The parent: checks, measurements, report.</summary>
    private static int Orchestrate(Options options)
    {
        var report = new StringBuilder();
        string started = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        string loadBefore = LoadAverage();
        report.AppendLine("# oneDNN settings on a CPU that hides its caches (simulated)").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Command: `dotnet run -c Release --project benchmarks/ResidualNet.OneDnnSettings -- {string.Join(' ', options.Raw)}`  ");
        report.AppendLine(CultureInfo.InvariantCulture, $"Started {started}; CPU: {CpuModel()}, {Environment.ProcessorCount} logical processors, torch threads {get_num_threads()}; load average at start: {loadBefore}.  ");
        report.AppendLine(CultureInfo.InvariantCulture, $"Workloads: batch {options.Batch}, {options.Size}x{options.Size}, TorchVision networks; {options.Rounds} rounds after one warm-up.").AppendLine();

        // 1. Right results and crashes, each case in its own process.
        string[] settings = ["unguarded", "onednn-off", "cache-fix", "isa-avx2", "isa-sse41"];
        var verdicts = new Dictionary<string, bool>();
        report.AppendLine("## 1. Right results (each case in a child process)").AppendLine();
        report.AppendLine("Relative difference: the guard's canary (1x1 stride-2 convolution 256→512 on [2,256,4,4]) against a float64 matrix-product reference; channels_last eval against NCHW eval of the same model (batch 2, 64x64); backward and training: exit code and finite values (resnext50_32x4d batch 2, 32x32; resnet50 training step batch 2, 64x64).").AppendLine();
        report.AppendLine("| setting | " + string.Join(" | ", CheckCases) + " | all right |");
        report.AppendLine("|---|" + string.Concat(CheckCases.Select(_ => "---|")) + "---|");
        foreach (string setting in settings)
        {
            var cells = new List<string>();
            bool allRight = true;
            foreach (string c in CheckCases)
            {
                var (exit, output, _) = RunChild(["check", "--setting", setting, "--case", c], setting);
                string cell;
                if (exit != 0)
                {
                    cell = exit == 136 ? "crash (SIGFPE, 136)" : $"crash (exit {exit})";
                    allRight = false;
                }
                else
                {
                    var value = Results(output).FirstOrDefault(r => r[0] == "CHECK");
                    double v = value is null ? double.NaN : double.Parse(value[2], CultureInfo.InvariantCulture);
                    bool right = c is "resnext50-backward" or "resnet50-training" ? v == 0 : v < 1e-5;
                    cell = c is "resnext50-backward" or "resnet50-training"
                        ? (right ? "ran, finite" : "non-finite")
                        : string.Create(CultureInfo.InvariantCulture, $"{v:E1}{(right ? "" : " **wrong**")}");
                    allRight &= right;
                }

                cells.Add(cell);
                Console.Error.WriteLine($"check {setting} {c}: {cell}");
            }

            verdicts[setting] = allRight;
            report.AppendLine(CultureInfo.InvariantCulture, $"| {setting} | {string.Join(" | ", cells)} | {(allRight ? "yes" : "no")} |");
        }

        report.AppendLine();

        // 2. Speed of the settings that are right, oneDNN off as the baseline in the same process.
        report.AppendLine("## 2. Speed on the simulated affected state (same-process ratios to oneDNN off)").AppendLine();
        report.AppendLine("| setting | process | workload | median ms | oneDNN off median ms (same process) | ratio to oneDNN off (median of per-round ratios) |");
        report.AppendLine("|---|---|---|---:|---:|---:|");
        var runs = new List<(string Setting, string Process)> { ("cache-fix", "simulated: oneDNN off ↔ cache-fix") };
        foreach (string isa in new[] { "isa-avx2", "isa-sse41" })
        {
            if (verdicts.GetValueOrDefault(isa))
            {
                runs.Add((isa, $"simulated, ONEDNN_MAX_CPU_ISA={IsaOf(isa)}: oneDNN off ↔ {isa}"));
            }
            else
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"| {isa} | — | — | not timed: not right on every case (section 1) | | |");
            }
        }

        foreach (var (setting, process) in runs)
        {
            var (exit, output, error) = RunChild(
                ["measure", "--settings", $"onednn-off,{setting}", "--rounds", options.Rounds.ToString(CultureInfo.InvariantCulture),
                 "--batch", options.Batch.ToString(CultureInfo.InvariantCulture), "--size", options.Size.ToString(CultureInfo.InvariantCulture),
                 "--threads", options.Threads.ToString(CultureInfo.InvariantCulture)], setting);
            if (exit != 0)
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"| {setting} | {process} | — | failed (exit {exit}) | | |");
                Console.Error.WriteLine(error);
                continue;
            }

            AppendSpeedRows(report, Results(output), setting, "onednn-off", process);
        }

        report.AppendLine();

        // 3. The machine as it is: default speed before and after the guard.
        report.AppendLine("## 3. This machine as it is (unaffected): default speed before and after the guard").AppendLine();
        report.AppendLine("In one process: rounds with the guard not yet run, then `OneDnnGuard.Ensure()`, then the same rounds (the guard cannot be undone, so these are not interleaved; ratio = median after / median before).").AppendLine();
        {
            var (exit, output, error) = RunChild(
                ["measure", "--settings", "natural,natural-guarded", "--rounds", options.Rounds.ToString(CultureInfo.InvariantCulture),
                 "--batch", options.Batch.ToString(CultureInfo.InvariantCulture), "--size", options.Size.ToString(CultureInfo.InvariantCulture),
                 "--threads", options.Threads.ToString(CultureInfo.InvariantCulture)], "natural");
            if (exit != 0)
            {
                report.AppendLine(CultureInfo.InvariantCulture, $"failed (exit {exit})").AppendLine(error);
            }
            else
            {
                var results = Results(output);
                report.AppendLine("| workload | before the guard, median ms | after, median ms | after / before |");
                report.AppendLine("|---|---:|---:|---:|");
                foreach (string w in Workloads)
                {
                    double before = Median(Times(results, "natural", w));
                    double after = Median(Times(results, "natural-guarded", w));
                    report.AppendLine(CultureInfo.InvariantCulture, $"| {w} | {before:F0} | {after:F0} | {after / before:F2} |");
                }

                foreach (var r in results.Where(r => r[0] == "GUARD"))
                {
                    report.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Guard in that process: decision {r[1]}, {r[2]} ms once (including its canary).");
                }
            }
        }

        return Publish(report, options);
    }

    /// <summary>Ends a report with the load average, prints it, and writes it to <c>--report</c> when given; returns 0.</summary>
    internal static int Publish(StringBuilder report, Options options)
    {
        report.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Load average at the end: {LoadAverage()} (other jobs shared the 2 cores; compare ratios, not absolute times).");
        Console.WriteLine(report.ToString());
        if (options.Report is { } path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, report.ToString());
        }

        return 0;
    }

    private static void AppendSpeedRows(StringBuilder report, List<string[]> results, string setting, string baseline, string process)
    {
        foreach (string w in Workloads)
        {
            var mine = Times(results, setting, w);
            var base_ = Times(results, baseline, w);
            var ratios = mine.Zip(base_, (a, b) => a / b).ToList();
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {setting} | {process} | {w} | {Median(mine):F0} | {Median(base_):F0} | {Median(ratios):F2} ({ratios.Min():F2}-{ratios.Max():F2}) |");
        }
    }

    /// <summary>Child: one correctness case under one setting; prints <c>RESULT CHECK case value</c>.</summary>
    private static int Check(string setting, string name)
    {
        Apply(setting, first: true);
        manual_seed(0);
        double value;
        switch (name)
        {
            case "canary":
                value = OneDnnCanary.Run();
                break;
            case "resnet18-channels-last":
            case "resnet50-channels-last":
            {
                using var model = name.StartsWith("resnet18", StringComparison.Ordinal) ? torchvision.models.resnet18() : torchvision.models.resnet50();
                model.eval();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var x = randn(2, 3, 64, 64);
                var expected = model.call(x);
                ToChannelsLast(model);
                var actual = model.call(x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2));
                value = (actual - expected).norm().item<float>() / expected.norm().item<float>();
                break;
            }

            case "resnext50-backward":
            case "resnet50-training":
            {
                bool resnext = name.StartsWith("resnext", StringComparison.Ordinal);
                using var model = resnext ? torchvision.models.resnext50_32x4d() : torchvision.models.resnet50();
                int size = resnext ? 32 : 64;
                using var optimizer = optim.SGD(model.parameters(), 0.01);
                using var scope = NewDisposeScope();
                model.train();
                var loss = nn.functional.cross_entropy(model.call(randn(2, 3, size, size)), randint(0, 1000, 2));
                loss.backward();
                optimizer.step();
                value = double.IsFinite(loss.item<float>()) && model.parameters().All(p => p.isfinite().all().item<bool>()) ? 0 : 1;
                break;
            }

            default:
                throw new ArgumentException($"unknown case {name}");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT CHECK {name} {value:R}"));
        return 0;
    }

    /// <summary>Child: times the workloads under the settings, alternating; prints <c>RESULT TIME setting workload ms</c>.</summary>
    private static int Measure(Options options)
    {
        string[] settings = options.Settings;
        bool natural = settings[0].StartsWith("natural", StringComparison.Ordinal);
        Apply(natural ? settings[0] : "simulated", first: true);
        if (!natural)
        {
            // oneDNN is never on with the 1-byte sizes while the cache-fix is measured: its sizes are written first.
            if (settings.Contains("cache-fix"))
            {
                OneDnnGuard.CorrectCacheSizesForTesting();
            }
        }

        using var r50 = torchvision.models.resnet50();
        using var r18 = torchvision.models.resnet18();
        using var optimizer = optim.SGD(r50.parameters(), 0.01);
        manual_seed(1);
        using var x = randn(options.Batch, 3, options.Size, options.Size);
        using var target = randint(0, 1000, options.Batch);

        double Time(string workload)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            switch (workload)
            {
                case "resnet50-inference":
                {
                    r50.eval();
                    using var noGrad = no_grad();
                    _ = r50.call(x);
                    break;
                }

                case "resnet18-inference":
                {
                    r18.eval();
                    using var noGrad = no_grad();
                    _ = r18.call(x);
                    break;
                }

                default:
                {
                    r50.train();
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(r50.call(x), target);
                    loss.backward();
                    optimizer.step();
                    break;
                }
            }

            return clock.Elapsed.TotalMilliseconds;
        }

        if (natural)
        {
            // Not interleaved: the guard runs once and cannot be undone.
            foreach (string setting in settings)
            {
                if (setting == "natural-guarded")
                {
                    var status = OneDnnGuard.Ensure();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT GUARD {status.Decision} {status.Elapsed.TotalMilliseconds:F0}"));
                }

                foreach (string w in Workloads)
                {
                    Time(w);
                }

                for (int round = 0; round < options.Rounds; round++)
                {
                    foreach (string w in Workloads)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT TIME {setting} {w} {Time(w):F1}"));
                    }
                }
            }

            return 0;
        }

        foreach (string setting in settings)
        {
            Switch(setting);
            foreach (string w in Workloads)
            {
                Time(w);
            }
        }

        // Each workload under each setting back to back, so that a burst of load from other processes hits both
        // measurements of a pair alike; the order within the pair alternates from round to round.
        for (int round = 0; round < options.Rounds; round++)
        {
            var order = round % 2 == 0 ? settings : settings.Reverse().ToArray();
            foreach (string w in Workloads)
            {
                foreach (string setting in order)
                {
                    Switch(setting);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT TIME {setting} {w} {Time(w):F1}"));
                }
            }
        }

        return 0;
    }

    /// <summary>Sets up a process: the simulated hidden caches (all but natural), then the setting.</summary>
    internal static void Apply(string setting, bool first)
    {
        if (OneDnnGuard.Status is not null)
        {
            throw new InvalidOperationException("The guard ran unasked: this program must not call ResidualNet entry points.");
        }

        if (setting is "natural" or "natural-guarded")
        {
            using var warm = ones(2, 2);
            if (setting == "natural-guarded")
            {
                OneDnnGuard.Ensure();
            }

            return;
        }

        OneDnnGuard.SimulateHiddenCachesForTesting();
        if (first)
        {
            switch (setting)
            {
                case "onednn-off":
                    Require(OneDnnGuard.SetOneDnnEnabledForTesting(false) == false, "oneDNN could not be turned off");
                    break;
                case "cache-fix":
                    OneDnnGuard.CorrectCacheSizesForTesting();
                    break;
            }
        }
    }

    /// <summary>Within a measuring process: oneDNN off, or on (with the corrected sizes, or under the ISA cap).</summary>
    private static void Switch(string setting) =>
        Require(OneDnnGuard.SetOneDnnEnabledForTesting(setting != "onednn-off") == (setting != "onednn-off"), $"could not switch to {setting}");

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static void ToChannelsLast(nn.Module model)
    {
        using var noGrad = no_grad();
        foreach (var p in model.parameters().Where(p => p.dim() == 4).ToList())
        {
            using var converted = p.detach().permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
            p.set_(converted);
        }
    }

    private static string IsaOf(string setting) => setting switch
    {
        "isa-avx2" => "AVX2",
        "isa-sse41" => "SSE41",
        _ => string.Empty,
    };

    internal static (int Exit, string Output, string Error) RunChild(IEnumerable<string> arguments, string setting)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(typeof(Program).Assembly.Location);
        }

        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        start.Environment[OneDnnGuard.EnvironmentVariable] = "on"; // the guard stays out unless a setting calls it
        if (IsaOf(setting) is { Length: > 0 } isa)
        {
            start.Environment["ONEDNN_MAX_CPU_ISA"] = isa;
        }
        else
        {
            start.Environment.Remove("ONEDNN_MAX_CPU_ISA");
        }

        if (setting == "natural")
        {
            start.Environment.Remove(OneDnnGuard.EnvironmentVariable);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }

    internal static List<string[]> Results(string output) => output.Split('\n')
        .Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal))
        .Select(l => l.Trim().Split(' ').Skip(1).ToArray())
        .ToList();

    internal static List<double> Times(List<string[]> results, string setting, string workload) => results
        .Where(r => r[0] == "TIME" && r[1] == setting && r[2] == workload)
        .Select(r => double.Parse(r[3], CultureInfo.InvariantCulture))
        .ToList();

    internal static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    internal static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";

    internal sealed record Options(string Command, string Setting, string Case, string[] Settings, int Rounds, int Batch, int Size, int Threads, string? Report, string[] Raw, bool Paths = false, string? Directory = null)
    {
        public static Options Parse(string[] args)
        {
            string command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "compare";
            string Value(string name, string fallback)
            {
                int i = Array.IndexOf(args, name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
            }

            return new Options(
                command,
                Value("--setting", "unguarded"),
                Value("--case", "canary"),
                Value("--settings", "onednn-off,cache-fix").Split(','),
                int.Parse(Value("--rounds", "7"), CultureInfo.InvariantCulture),
                int.Parse(Value("--batch", "8"), CultureInfo.InvariantCulture),
                int.Parse(Value("--size", "224"), CultureInfo.InvariantCulture),
                int.Parse(Value("--threads", "0"), CultureInfo.InvariantCulture),
                args.Contains("--report") ? Value("--report", "report.md") : null,
                args,
                args.Contains("--paths"),
                args.Contains("--dir") ? Value("--dir", ".") : null);
        }
    }
}
