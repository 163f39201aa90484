using System;
using System.Globalization;
using System.IO;
using FluentAssertions;
using Xunit;
using Xunit.Abstractions;

namespace ResidualNet.UnitTests.Fuzzing;

/// <summary>
/// Issue 14's fuzzers, batched per child process with crash bisection (<see cref="FuzzHarness"/>): zero aborts, zero
/// untyped exceptions, and for the file fuzzers a bounded peak memory. Quick mode runs in the default test run; the
/// long mode (1,000 cases per fuzzer and per weights format) is in the Slow set:
/// <c>dotnet test tests/ResidualNet.UnitTests -c Release -s tests/slow.runsettings --filter "FullyQualifiedName~FuzzTests"</c>.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    /// <summary>The seed of every run (the cases are a function of seed and index).</summary>
    public const int Seed = 14;

    /// <summary>The bound on a file fuzzer child's peak resident-memory increase: 256 MiB (the files are a few KiB;
    /// a reader that believed a forged size would allocate gigabytes).</summary>
    public const long PeakBoundBytes = 256L << 20;

    [Theory]
    [InlineData("builder", 60, 30)]
    [InlineData("weights", 90, 90)]
    [InlineData("idx", 200, 200)]
    public void QuickRun(string fuzzer, int cases, int batch) => Check(fuzzer, cases, batch);

    [Theory]
    [Trait("Category", "Slow")]
    [InlineData("builder", 1000, 100)]
    [InlineData("weights", 3000, 500)]
    [InlineData("idx", 1000, 500)]
    public void LongRun(string fuzzer, int cases, int batch) => Check(fuzzer, cases, batch);

    private void Check(string fuzzer, int cases, int batch)
    {
        var type = fuzzer switch
        {
            "builder" => typeof(BuilderFuzzer),
            "weights" => typeof(WeightsFuzzer),
            _ => typeof(IdxFuzzer),
        };
        var report = FuzzHarness.Run(type, "Case", Seed, cases, batch);
        string line = $"{fuzzer}: {cases} cases, seed {Seed}: {report}";
        output.WriteLine(line);
        foreach (string failure in report.Failures)
        {
            output.WriteLine("  " + failure);
        }

        if (Environment.GetEnvironmentVariable("RESIDUALNET_FUZZ_REPORT") is { Length: > 0 } file)
        {
            File.AppendAllLines(file, [line, .. report.Failures]);
        }

        report.Counts[FuzzOutcome.Abort].Should().Be(0, line);
        report.Counts[FuzzOutcome.Untyped].Should().Be(0, $"{line}{Environment.NewLine}{string.Join(Environment.NewLine, report.Failures)}");
        if (fuzzer != "builder")
        {
            report.PeakIncreaseBytes.Should().BeLessThan(PeakBoundBytes, line);
        }
    }
}
