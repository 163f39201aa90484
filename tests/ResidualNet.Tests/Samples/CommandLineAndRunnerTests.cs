using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Training;
using Xunit;

namespace ResidualNet.Tests.Samples;

public class CommandLineAndRunnerTests
{
    private static (SampleCommandLine Line, CommandOption<int> Epochs, CommandOption<double> Lr, CommandOption<LearningRateSchedule> Schedule, CommandOption<bool> Quick, CommandOption<string?> Data, CommandOption<IReadOnlyList<string>> Models) Create()
    {
        var line = new SampleCommandLine("test", "A test.");
        return (line,
            line.WholeNumber("--epochs", 10, "Epochs.", 1, 1000),
            line.Number("--lr", 0.1, "Rate.", 0, 10, minExclusive: true),
            line.Choice("--schedule", LearningRateSchedule.Step, "Schedule."),
            line.Flag("--quick", "Quick."),
            line.Text("--data", null, "Data."),
            line.List("--models", ["a", "b"], "Models.", ["a", "b", "plain-20"]));
    }

    [Fact]
    public void ParsesValuesFlagsAndDefaults()
    {
        var o = Create();
        o.Line.Parse(["--epochs", "3", "--lr=0.05", "--schedule", "COSINE", "--quick", "--models", "Plain-20,a"], TextWriter.Null).Should().BeTrue();

        o.Epochs.Value.Should().Be(3);
        o.Epochs.IsSet.Should().BeTrue();
        o.Lr.Value.Should().Be(0.05);
        o.Schedule.Value.Should().Be(LearningRateSchedule.Cosine);
        o.Quick.Value.Should().BeTrue();
        o.Data.Value.Should().BeNull();
        o.Data.IsSet.Should().BeFalse();
        o.Models.Value.Should().Equal("plain-20", "a");
    }

    [Fact]
    public void HelpPrintsUsageAndReturnsFalse()
    {
        var o = Create();
        var text = new StringWriter();
        o.Line.Parse(["--epochs", "nonsense", "--help"], text).Should().BeFalse();
        text.ToString().Should().Contain("--epochs <value>").And.Contain("(default 10)").And.Contain("(default step)").And.Contain("--quick");
    }

    [Theory]
    [InlineData(new[] { "--epochs", "abc" }, "--epochs expects a whole number; got 'abc'.")]
    [InlineData(new[] { "--epochs", "0" }, "--epochs must be between 1 and 1000; got 0.")]
    [InlineData(new[] { "--epochs", "1e3" }, "--epochs expects a whole number; got '1e3'.")]
    [InlineData(new[] { "--lr", "-1" }, "--lr must be greater than 0 and at most 10; got -1.")]
    [InlineData(new[] { "--lr", "NaN" }, "--lr expects a finite number; got 'NaN'.")]
    [InlineData(new[] { "--schedule", "zigzag" }, "--schedule must be one of constant, step, cosine; got 'zigzag'.")]
    [InlineData(new[] { "--schedule", "1" }, "--schedule must be one of constant, step, cosine; got '1'.")]
    [InlineData(new[] { "--models", "resnet-9000" }, "--models: unknown item 'resnet-9000'; choose from a, b, plain-20.")]
    [InlineData(new[] { "--bogus", "1" }, "unknown option '--bogus' (run with --help to list the options).")]
    [InlineData(new[] { "--epochs" }, "--epochs needs a value.")]
    [InlineData(new[] { "--epochs", "--quick" }, "--epochs needs a value.")]
    [InlineData(new[] { "epochs" }, "unexpected argument 'epochs'; options start with -- (run with --help to list them).")]
    [InlineData(new[] { "--quick=yes" }, "--quick is a flag and takes no value; got 'yes'.")]
    [InlineData(new[] { "--epochs", "2", "--epochs", "3" }, "--epochs is given more than once.")]
    [InlineData(new[] { "--data", "" }, "--data expects a value; got an empty string.")]
    public void NonsenseGivesOneLineUsageError(string[] args, string expected)
    {
        var o = Create();
        var act = () => o.Line.Parse(args, TextWriter.Null);
        act.Should().Throw<UsageException>().Which.Message.Should().Be(expected);
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
    public void CsvHasHeaderAndInvariantNumbers()
    {
        string path = Path.Combine(Path.GetTempPath(), $"residualnet-csv-{Guid.NewGuid():N}", "r.csv");
        CsvResults.Write(path, [new("plain,20", (IReadOnlyList<EpochResult>)[new EpochResult(1, 1.5, 0.25, 1.25, 0.125, 0.1, 2.345)])]);
        File.ReadAllText(path).Should().Be(CsvResults.Header + "\n\"plain,20\",1,1.5,0.25,1.25,0.125,0.1,2.35\n");
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }
}
