using System;
using System.IO;
using System.Threading;
using ResidualNet.Samples;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>What a sample run gave: its exit code, standard output and standard error.</summary>
internal sealed record SampleResult(int Code, string Out, string Error);

/// <summary>Runs a sample's entry point in-process with its console captured.</summary>
internal static class SampleRun
{
    /// <summary>Runs <paramref name="sample"/> on <paramref name="args"/> and returns what it printed.</summary>
    public static SampleResult Capture(Func<string[], SampleConsole, CancellationToken, int> sample, CancellationToken token, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = sample(args, SampleConsole.ForWriters(output, error), token);
        return new SampleResult(code, output.ToString(), error.ToString());
    }
}
