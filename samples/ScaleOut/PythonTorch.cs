using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace ResidualNet.Samples.ScaleOut;

/// <summary>Finds and runs the Python interpreter that trains with PyTorch (Debian's <c>/usr/bin/python3</c> with
/// <c>python3-torchvision</c>, or the one named by <c>RESIDUALNET_PYTHON</c> or <c>--python</c>).</summary>
public static class PythonTorch
{
    /// <summary>The environment variable that names another interpreter.</summary>
    public const string InterpreterVariable = "RESIDUALNET_PYTHON";

    /// <summary>The interpreter used when none is named: <c>RESIDUALNET_PYTHON</c>, else <c>/usr/bin/python3</c>.</summary>
    public static string DefaultInterpreter =>
        Environment.GetEnvironmentVariable(InterpreterVariable) is { Length: > 0 } custom ? custom : "/usr/bin/python3";

    /// <summary>
    /// Null when <paramref name="interpreter"/> runs and imports torch and torchvision with the gloo backend of
    /// torch.distributed; otherwise a sentence saying what is missing and how to install it.
    /// </summary>
    /// <param name="interpreter">The Python executable.</param>
    public static string? FindProblem(string interpreter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(interpreter);
        const string install = "Debian/Ubuntu: apt install python3-torchvision";
        if (Path.IsPathRooted(interpreter) && !File.Exists(interpreter))
        {
            return $"'{interpreter}' does not exist ({install}).";
        }

        try
        {
            var lines = new List<string>();
            int code = Run(interpreter, ["-c", "import torch, torchvision, torch.distributed as d; assert d.is_gloo_available(), 'no gloo backend'"],
                new Dictionary<string, string>(), lines.Add, TimeSpan.FromMinutes(2), CancellationToken.None);
            return code == 0
                ? null
                : $"'{interpreter}' cannot import torch and torchvision with gloo ({install}): {string.Join(" ", lines).Trim()}";
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or TimeoutException)
        {
            return $"starting '{interpreter}' failed ({install}): {e.Message}";
        }
    }

    /// <summary>
    /// Runs the interpreter and hands each line of its standard output and standard error to <paramref name="onLine"/>
    /// as it comes.
    /// </summary>
    /// <returns>The exit code.</returns>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it has been killed).</exception>
    /// <exception cref="OperationCanceledException">Cancelled (it has been killed).</exception>
    internal static int Run(string interpreter, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment,
        Action<string> onLine, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{interpreter}'.");
        var gate = new object();
        void Forward(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    onLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!process.WaitForExit(200))
        {
            if (cancellationToken.IsCancellationRequested || clock.Elapsed > timeout)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"'{interpreter}' ran longer than {timeout.TotalMinutes:F0} min and was stopped.");
            }
        }

        process.WaitForExit(); // drains the output events
        return process.ExitCode;
    }
}
