using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using Xunit;

namespace ResidualNet.IntegrationTests.Samples;

public class CommandLineAndRunnerTests
{
    /// <summary>A command whose options cover the kinds the samples use; it prints what it received.</summary>
    private sealed class TestSettings : CommandSettings
    {
        [CommandOption("--epochs <N>")]
        [Description("Epochs.")]
        [DefaultValue(10)]
        [Between(1, 1000)]
        public int Epochs { get; init; } = 10;

        [CommandOption("--lr <RATE>")]
        [Description("Rate.")]
        [Between(0, 10, MinExclusive = true)]
        public double? Rate { get; init; }

        [CommandOption("--schedule <NAME>")]
        [Description("Schedule.")]
        [DefaultValue("step")]
        public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Step;

        [CommandOption("--data <DIR>")]
        [Description("Data.")]
        public string? Data { get; init; }

        [CommandOption("--quick")]
        [Description("Quick.")]
        public bool Quick { get; init; }

        public override ValidationResult Validate() =>
            Data == "forbidden" ? ValidationResult.Error("--data: 'forbidden' is not allowed.") : ValidationResult.Success();
    }

    private sealed class TestCommand : Command<TestSettings>
    {
        public override int Execute(CommandContext context, TestSettings settings, CancellationToken cancellationToken)
        {
            ((SampleConsole)context.Data!).Out.Write(string.Create(CultureInfo.InvariantCulture, $"{settings.Epochs} {settings.Rate} {settings.Schedule} {settings.Data ?? "-"} {settings.Quick}"));
            return 0;
        }
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SampleApp.Run<TestCommand>("test", "A test.", args, SampleConsole.ForWriters(output, error), CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void ParsesValuesFlagsAndDefaults()
    {
        Run().Should().Be((0, "10  Step - False", string.Empty));
        Run("--epochs", "3", "--lr=0.05", "--schedule", "COSINE", "--quick", "--data", "d").Should().Be((0, "3 0.05 Cosine d True", string.Empty));
    }

    [Fact]
    public void HelpComesFromSpectreAndExitsZero()
    {
        var (code, output, error) = Run("--epochs", "nonsense", "--help");
        code.Should().Be(0);
        error.Should().BeEmpty();
        output.Should().Contain("USAGE:").And.Contain("test [OPTIONS]").And.Contain("--epochs <N>").And.Contain("--schedule <NAME>").And.Contain("step").And.Contain("--quick");
    }

    [Theory]
    [InlineData(new[] { "--epochs", "abc" }, "--epochs expects a whole number; got 'abc'.")]
    [InlineData(new[] { "--epochs", "0" }, "--epochs must be between 1 and 1000; got 0.")]
    [InlineData(new[] { "--epochs", "1e3" }, "--epochs expects a whole number; got '1e3'.")]
    [InlineData(new[] { "--epochs", "99999999999" }, "--epochs expects a whole number; got '99999999999'.")]
    [InlineData(new[] { "--lr", "-1" }, "--lr must be greater than 0 and at most 10; got -1.")]
    [InlineData(new[] { "--lr", "0" }, "--lr must be greater than 0 and at most 10; got 0.")]
    [InlineData(new[] { "--lr", "NaN" }, "--lr expects a finite number; got 'NaN'.")]
    [InlineData(new[] { "--schedule", "zigzag" }, "--schedule must be one of constant, step, cosine; got 'zigzag'.")]
    [InlineData(new[] { "--schedule", "1" }, "--schedule must be one of constant, step, cosine; got '1'.")]
    [InlineData(new[] { "--bogus", "1" }, "Unknown option 'bogus' (run with --help to list the options).")]
    [InlineData(new[] { "--epochs" }, "--epochs needs a value.")]
    [InlineData(new[] { "--epochs", "--quick" }, "--epochs needs a value.")]
    [InlineData(new[] { "--data" }, "--data needs a value.")]
    [InlineData(new[] { "--data", "" }, "--data expects a value; got an empty string.")]
    [InlineData(new[] { "--data", "forbidden" }, "--data: 'forbidden' is not allowed.")]
    [InlineData(new[] { "--quick=yes" }, "Flags cannot be assigned a value (run with --help to list the options).")]
    public void NonsenseGivesOneLineAndExitCode2(string[] args, string expected)
    {
        Run(args).Should().Be((2, string.Empty, "error: " + expected + "\n"));
    }

    [Fact]
    public void RunnerMapsFailuresToOneLineAndExitCodes()
    {
        (int Code, string Error) Run(Func<CancellationToken, int> body, CancellationToken token = default)
        {
            var error = new StringWriter();
            int code = SampleRunner.Run(body, error, token);
            return (code, error.ToString());
        }

        Run(_ => 0).Should().Be((0, string.Empty));
        Run(_ => throw new UsageException("--epochs expects a whole number; got 'x'.")).Should().Be((2, "error: --epochs expects a whole number; got 'x'.\n"));
        Run(_ => throw new IdxFormatException("f", "IDX file 'f' is truncated.")).Should().Be((2, "error: IDX file 'f' is truncated.\n"));
        Run(_ => throw new DirectoryNotFoundException("Fashion-MNIST folder '/x' does not exist.")).Code.Should().Be(2);
        Run(_ => throw new SampleException("checkpoint mismatch")).Code.Should().Be(2);
        Run(_ => throw new ArgumentOutOfRangeException("count", 5, "count must be in [1, 3]; got 5.")).Code.Should().Be(2);
        Run(_ => throw new InvalidOperationException("first line\n   at Some.Frame()\nmore")).Should().Be(
            (1, "error: unexpected InvalidOperationException: first line (set RESIDUALNET_SAMPLES_TRACE=1 for details)\n"));
        Run(_ => throw new OperationCanceledException()).Code.Should().Be(130);
    }

    [Fact]
    public void LearningRateSchedules()
    {
        var step = new TrainingOptions { Epochs = 8, LearningRate = 0.1, Schedule = LearningRateSchedule.Step };
        step.LearningRateAt(0, 0, 10).Should().Be(0.1);
        step.LearningRateAt(3, 9, 10).Should().Be(0.1);
        step.LearningRateAt(4, 0, 10).Should().BeApproximately(0.01, 1e-12);
        step.LearningRateAt(6, 0, 10).Should().BeApproximately(0.001, 1e-12);
        (step with { Epochs = 1 }).LearningRateAt(0, 5, 10).Should().Be(0.1, "a milestone on epoch 0 is ignored");

        var cosine = step with { Schedule = LearningRateSchedule.Cosine, Epochs = 2 };
        cosine.LearningRateAt(0, 0, 10).Should().Be(0.1);
        cosine.LearningRateAt(1, 0, 10).Should().BeApproximately(0.05, 1e-12);
        cosine.LearningRateAt(1, 5, 10).Should().BeApproximately(0.1 * 0.5 * (1 + Math.Cos(Math.PI * 0.75)), 1e-12);

        var act = () => new TrainingOptions { Momentum = 1.5 }.Validate();
        act.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Momentum*1.5*");
    }

    [Fact]
    public void CsvHasHeaderAndInvariantNumbersAndReadsBack()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"residualnet-csv-{Guid.NewGuid():N}");
        try
        {
            string path = Path.Combine(dir, "r.csv");
            CsvResults.Write(path, [new("plain,20", (IReadOnlyList<EpochResult>)[new EpochResult(1, 1.5, 0.25, 1.25, 0.125, 0.1, 2.345)])]);
            File.ReadAllText(path).Should().Be(CsvResults.Header + "\n\"plain,20\",1,1.5,0.25,1.25,0.125,0.1,2.35\n");

            var results = new EpochResult[] { new(1, 2.5, 0.5, 2.25, 0.375, 0.1, 3), new(2, 1.5, 0.25, 1.25, 0.125, 0.01, 4) };
            CsvResults.Write(path, [new("plain-20", results), new("resnet-20", results[..1])]);
            var read = CsvResults.Read(path);
            read.Select(h => h.Key).Should().Equal("plain-20", "resnet-20");
            read[0].Value.Should().Equal(results);
            read[1].Value.Should().Equal(results[0]);

            File.WriteAllText(path, CsvResults.Header + "\nplain-20,1,,0.2,,0.3,0.1,5\n");
            CsvResults.Read(path)[0].Value[0].TrainLoss.Should().Be(double.NaN, "empty loss columns are allowed (the GPU runner's first CSV had none)");

            File.WriteAllText(path, "model,epoch\n");
            FluentActions.Invoking(() => CsvResults.Read(path)).Should().Throw<InvalidDataException>().WithMessage($"'{path}' does not start with the header*");
            File.WriteAllText(path, CsvResults.Header + "\nplain-20,one,1,2,3,4,5,6\n");
            FluentActions.Invoking(() => CsvResults.Read(path)).Should().Throw<InvalidDataException>().WithMessage("*the row 'plain-20,one,1,2,3,4,5,6' is not a model name, an epoch and 6 numbers.");
            FluentActions.Invoking(() => CsvResults.Read(Path.Combine(dir, "none.csv"))).Should().Throw<FileNotFoundException>();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
