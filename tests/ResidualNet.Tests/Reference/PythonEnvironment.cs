using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using Xunit;

namespace ResidualNet.Tests.Reference;

/// <summary>
/// Runs Python (Debian's <c>/usr/bin/python3</c> with <c>python3-torchvision</c>, or the interpreter named by
/// <c>RESIDUALNET_PYTHON</c>) for tests that compare with PyTorch. When Python or torchvision is missing such a
/// test fails with a message saying what to install, unless <c>RESIDUALNET_SKIP_PYTHON=1</c> is set, in which
/// case the tests marked <see cref="PythonFactAttribute"/> or <see cref="PythonTheoryAttribute"/> are skipped.
/// </summary>
internal static class PythonEnvironment
{
    /// <summary>The environment variable that skips every Python-backed test when set to 1.</summary>
    public const string SkipVariable = "RESIDUALNET_SKIP_PYTHON";

    /// <summary>The environment variable that names another Python interpreter.</summary>
    public const string InterpreterVariable = "RESIDUALNET_PYTHON";

    private static readonly Lazy<string?> Problem = new(FindProblem);

    /// <summary>True when <c>RESIDUALNET_SKIP_PYTHON=1</c>.</summary>
    public static bool SkipRequested => Environment.GetEnvironmentVariable(SkipVariable) == "1";

    /// <summary>The interpreter: <c>RESIDUALNET_PYTHON</c>, else <c>/usr/bin/python3</c>.</summary>
    public static string Interpreter =>
        Environment.GetEnvironmentVariable(InterpreterVariable) is { Length: > 0 } custom ? custom : "/usr/bin/python3";

    /// <summary>The full path of a script copied next to the test assembly (under Reference/).</summary>
    public static string Script(string fileName) => Path.Combine(AppContext.BaseDirectory, "Reference", fileName);

    /// <summary>Fails the calling test, with instructions, when Python with torch and torchvision cannot run.</summary>
    public static void Require()
    {
        if (Problem.Value is { } problem)
        {
            Assert.Fail(
                $"This test compares with Python torchvision and needs {Interpreter} with torch and torchvision " +
                $"(Debian/Ubuntu: apt-get install python3-torchvision). {problem} " +
                $"Set {SkipVariable}=1 to skip the Python-backed tests instead.");
        }
    }

    /// <summary>Runs the interpreter with arguments; returns standard output, or fails the test with standard error.</summary>
    public static string Run(TimeSpan timeout, params string[] arguments)
    {
        var (exitCode, output, error) = RunProcess(timeout, arguments);
        if (exitCode != 0)
        {
            Assert.Fail($"{Interpreter} {string.Join(' ', arguments)} exited with code {exitCode}.{Environment.NewLine}{error}{output}");
        }

        return output;
    }

    private static string? FindProblem()
    {
        if (!File.Exists(Interpreter))
        {
            return $"{Interpreter} does not exist.";
        }

        try
        {
            var (exitCode, output, error) = RunProcess(
                TimeSpan.FromMinutes(2), "-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)");
            return exitCode == 0 ? null : $"Importing torch and torchvision failed: {error.Trim()} {output.Trim()}";
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return $"Starting {Interpreter} failed: {ex.Message}";
        }
    }

    private static (int ExitCode, string Output, string Error) RunProcess(TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // One thread each: the test machine is small and shared, and this keeps the reference deterministic.
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Interpreter}.");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { error.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Interpreter} {string.Join(' ', arguments)} ran longer than {timeout}.");
        }

        process.WaitForExit();
        return (process.ExitCode, output.ToString(), error.ToString());
    }
}

/// <summary>A fact that needs Python with torchvision; skipped when <c>RESIDUALNET_SKIP_PYTHON=1</c>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class PythonFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the skip variable is set.</summary>
    public PythonFactAttribute()
    {
        if (PythonEnvironment.SkipRequested)
        {
            Skip = $"{PythonEnvironment.SkipVariable}=1";
        }
    }
}

/// <summary>A theory that needs Python with torchvision; skipped when <c>RESIDUALNET_SKIP_PYTHON=1</c>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class PythonTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the skip variable is set.</summary>
    public PythonTheoryAttribute()
    {
        if (PythonEnvironment.SkipRequested)
        {
            Skip = $"{PythonEnvironment.SkipVariable}=1";
        }
    }
}
