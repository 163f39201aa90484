using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ResidualNet.TestSupport;

namespace ResidualNet.UnitTests.Fuzzing;

/// <summary>How one fuzz case ended.</summary>
internal enum FuzzOutcome
{
    /// <summary>Accepted: built and ran forward and backward, or loaded.</summary>
    Valid,

    /// <summary>Rejected with an <see cref="ArgumentException"/> naming the parameter.</summary>
    Rejected,

    /// <summary>A typed file exception of the library (CorruptFileException family or WeightsMismatchException), model unchanged.</summary>
    Typed,

    /// <summary>Any other exception, or a typed one that left the model changed: a failure.</summary>
    Untyped,

    /// <summary>The process died (native abort, signal) while running the case: a failure.</summary>
    Abort,
}

/// <summary>The counts of one fuzzing run.</summary>
internal sealed class FuzzReport
{
    public Dictionary<FuzzOutcome, int> Counts { get; } = Enum.GetValues<FuzzOutcome>().ToDictionary(o => o, _ => 0);

    public List<string> Failures { get; } = new();

    /// <summary>The largest peak-resident-memory increase one child reported, in bytes (file fuzzers).</summary>
    public long PeakIncreaseBytes { get; set; }

    public int Processes { get; set; }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{string.Join(", ", Counts.Select(c => $"{c.Key.ToString().ToLowerInvariant()} {c.Value}"))}; {Processes} processes; " +
        $"peak memory increase {PeakIncreaseBytes / 1048576.0:F1} MiB");
}

/// <summary>
/// Runs seeded fuzz cases in child processes, a batch per process; a batch whose process dies is split in halves
/// until the case that kills it is found (crash bisection), so an abort costs a few extra processes, never the run.
/// A fuzzer is a static method <c>string Case(int seed, int index)</c> returning the outcome and a note.
/// </summary>
internal static class FuzzHarness
{
    public static FuzzReport Run(Type fuzzer, string caseMethod, int seed, int count, int batchSize)
    {
        var report = new FuzzReport();
        var pending = new Stack<(int Start, int Count)>();
        for (int start = count - (count % batchSize == 0 ? batchSize : count % batchSize); start >= 0; start -= batchSize)
        {
            pending.Push((start, Math.Min(batchSize, count - start)));
        }

        while (pending.Count > 0)
        {
            var (start, n) = pending.Pop();
            report.Processes++;
            var result = ChildProcess.Run(typeof(FuzzHarness), nameof(RunBatch),
                [fuzzer.FullName!, caseMethod, seed.ToString(CultureInfo.InvariantCulture), start.ToString(CultureInfo.InvariantCulture), n.ToString(CultureInfo.InvariantCulture)],
                timeout: TimeSpan.FromMinutes(10));
            var reported = result.Reported;
            if (reported.TryGetValue("peak", out string? peak))
            {
                report.PeakIncreaseBytes = Math.Max(report.PeakIncreaseBytes, long.Parse(peak, CultureInfo.InvariantCulture));
            }

            var outcomes = new List<(int Case, FuzzOutcome Outcome, string Line)>();
            for (int i = start; i < start + n && reported.TryGetValue($"case{i}", out string? line); i++)
            {
                outcomes.Add((i, Enum.Parse<FuzzOutcome>(line.Split(' ', 2)[0]), line));
            }

            bool diedAfterTheCases = outcomes.Count == n && !result.Succeeded;
            if (!diedAfterTheCases)
            {
                // Every case reported before the process ended counts (the reports are flushed case by case).
                foreach (var (i, outcome, line) in outcomes)
                {
                    report.Counts[outcome]++;
                    if (outcome == FuzzOutcome.Untyped)
                    {
                        report.Failures.Add($"case {i} (seed {seed}): {line}");
                    }
                }
            }

            if (result.Succeeded)
            {
                continue;
            }

            int failing = start + outcomes.Count;
            int remaining = n - outcomes.Count;
            if (diedAfterTheCases)
            {
                // The process died after its last case (at exit, in a finalizer): bisect the batch to find the case.
                if (n == 1)
                {
                    Abort(report, start, seed, result);
                }
                else
                {
                    pending.Push((start + (n / 2), n - (n / 2)));
                    pending.Push((start, n / 2));
                }
            }
            else if (n == 1)
            {
                Abort(report, failing, seed, result);
            }
            else
            {
                // The first unreported case alone, then the rest of the batch in a fresh process.
                if (remaining > 1)
                {
                    pending.Push((failing + 1, remaining - 1));
                }

                pending.Push((failing, 1));
            }
        }

        return report;
    }

    private static void Abort(FuzzReport report, int index, int seed, ChildProcessResult result)
    {
        report.Counts[FuzzOutcome.Abort]++;
        report.Failures.Add($"case {index} (seed {seed}): process {result.HowItEnded()}: " +
            result.StandardError.Split('\n').FirstOrDefault(l => l.Length > 0));
    }

    /// <summary>Child: runs cases start .. start + count - 1 of one fuzzer and reports each outcome as it ends.</summary>
    internal static void RunBatch(string[] args)
    {
        var type = typeof(FuzzHarness).Assembly.GetType(args[0])!;
        var method = type.GetMethod(args[1], System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public)!;
        int seed = int.Parse(args[2], CultureInfo.InvariantCulture);
        int start = int.Parse(args[3], CultureInfo.InvariantCulture);
        int count = int.Parse(args[4], CultureInfo.InvariantCulture);
        bool peakSupported = TryResetPeak();
        long baseline = ReadStatus("VmRSS:");
        long lastPeak = ReadStatus("VmHWM:");
        for (int i = start; i < start + count; i++)
        {
            string line;
            try
            {
                line = (string)method.Invoke(null, [seed, i])!;
            }
            catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
            {
                line = $"{FuzzOutcome.Untyped} {e.InnerException.GetType().FullName}: {e.InnerException.Message}";
            }

            ChildProcess.Report($"case{i}", line);
            if (peakSupported)
            {
                // Name the case that raised the peak by more than 64 MiB (the first suspect of a bound violation).
                long peak = ReadStatus("VmHWM:");
                if (peak - lastPeak > 64L << 20)
                {
                    ChildProcess.Report($"peakcase{i}", peak - lastPeak);
                }

                lastPeak = peak;
            }
        }

        if (peakSupported)
        {
            ChildProcess.Report("peak", Math.Max(0, ReadStatus("VmHWM:") - baseline));
        }
    }

    /// <summary>Classifies an exception: ArgumentException naming its parameter is Rejected; the rest Untyped.</summary>
    public static string Classify(Exception e, Func<Exception, bool> typed)
    {
        if (typed(e))
        {
            return $"{FuzzOutcome.Typed} {e.GetType().Name}";
        }

        if (e is ArgumentException a && !string.IsNullOrEmpty(a.ParamName) && a.Message.Length > 0)
        {
            return $"{FuzzOutcome.Rejected} {a.GetType().Name} {a.ParamName}";
        }

        return $"{FuzzOutcome.Untyped} {e.GetType().FullName}: {e.Message.ReplaceLineEndings(" ")}";
    }

    private static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return File.Exists("/proc/self/status");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long ReadStatus(string key)
    {
        if (!File.Exists("/proc/self/status"))
        {
            return 0;
        }

        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}
