using System;
using System.Collections.Generic;
using FluentAssertions;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Infrastructure;

/// <summary>The child-process helper itself.</summary>
public class ChildProcessTests
{
    [Fact]
    public void Child_ReportsValues_SeesItsArgumentsAndEnvironment()
    {
        var result = ChildProcess.Run<ChildProcessTests>(nameof(Echo), ["a b", "c"],
            new Dictionary<string, string?> { ["RESIDUALNET_CHILD_TEST"] = "x=1" }).ShouldSucceed();
        result.ReportedText("args").Should().Be("a b|c");
        result.ReportedText("env").Should().Be("x=1");
        result.ReportedNumber("pi").Should().Be(3.25);
    }

    [Fact]
    public void ExitCodes_AndExceptions_AreReportedClearly()
    {
        ChildProcess.Run<ChildProcessTests>(nameof(ReturnSeven)).ExitCode.Should().Be(7);

        var threw = ChildProcess.Run<ChildProcessTests>(nameof(Throw));
        threw.ExitCode.Should().Be(ChildProcess.ExceptionExitCode);
        threw.StandardError.Should().Contain("deliberate");
        var act = () => threw.ShouldSucceed();
        act.Should().Throw<ChildProcessException>().WithMessage("*Throw*exit code 1 (the method threw*deliberate*");
    }

    [Fact]
    public void SignalExitCodes_AreNamed()
    {
        var crashed = new ChildProcessResult("cmd", 136, "", "Floating point exception", TimeSpan.FromSeconds(1), false);
        crashed.KilledBySignal.Should().BeTrue();
        crashed.HowItEnded().Should().Be("exit code 136 = killed by signal 8 (SIGFPE, e.g. an integer division by zero in native code)");
        crashed.Describe().Should().Contain("Floating point exception");
    }

    [Fact]
    public void TimeOut_KillsTheChild()
    {
        var result = ChildProcess.Run<ChildProcessTests>(nameof(Sleep), timeout: TimeSpan.FromSeconds(2));
        result.TimedOut.Should().BeTrue();
        result.Succeeded.Should().BeFalse();
        result.HowItEnded().Should().Contain("timed out");
    }

    [Fact]
    public void UnknownMethod_IsRejectedBeforeStarting()
    {
        var act = () => ChildProcess.Run<ChildProcessTests>("NoSuchMethod");
        act.Should().Throw<ArgumentException>().WithParameterName("method");
        ChildProcess.RunChildMain(["--child", "No.Such.Type", "M"]).Should().Be(ChildProcess.UsageExitCode);
        ChildProcess.RunChildMain([]).Should().Be(ChildProcess.UsageExitCode);
    }

    internal static void Echo(string[] args)
    {
        ChildProcess.Report("args", string.Join('|', args));
        ChildProcess.Report("env", Environment.GetEnvironmentVariable("RESIDUALNET_CHILD_TEST"));
        ChildProcess.Report("pi", 3.25);
    }

    internal static int ReturnSeven() => 7;

    internal static void Throw() => throw new InvalidOperationException("deliberate");

    internal static void Sleep() => System.Threading.Thread.Sleep(TimeSpan.FromMinutes(1));
}
