using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using Xunit;

namespace ResidualNet.TestSupport.Reference;

/// <summary>
/// Runs Python (Debian's <c>/usr/bin/python3</c> with <c>python3-torchvision</c>, or the interpreter named by
/// <c>RESIDUALNET_PYTHON</c>) for the live tests that compare with PyTorch (<c>[Trait("Category", "Python")]</c>,
/// <c>[SkippableFact]</c> / <c>[SkippableTheory]</c>). When Python, torch or torchvision is missing,
/// <see cref="Require"/> skips the test with the reason and what to install, or fails it where
/// <c>RESIDUALNET_REQUIRE_PYTHON=1</c> (.ci/run sets it). The default comparison with torchvision needs no Python:
/// it reads the committed fixtures (<see cref="ReferenceFixture"/>).
/// </summary>
internal static class PythonEnvironment
{
    /// <summary>The environment variable that names another Python interpreter.</summary>
    public const string InterpreterVariable = "RESIDUALNET_PYTHON";

    private static readonly Lazy<string?> Problem = new(FindProblem);

    /// <summary>The interpreter: <c>RESIDUALNET_PYTHON</c>, else <c>/usr/bin/python3</c>.</summary>
    public static string Interpreter =>
        Environment.GetEnvironmentVariable(InterpreterVariable) is { Length: > 0 } custom ? custom : "/usr/bin/python3";

    /// <summary>The full path of a script copied next to the test assembly (under Reference/).</summary>
    public static string Script(string fileName) => Path.Combine(AppContext.BaseDirectory, "Reference", fileName);

    /// <summary>True when Python with numpy, torch and torchvision runs here (checked once).</summary>
    public static bool IsAvailable => Problem.Value is null;

    /// <summary>
    /// Skips the calling test (or fails it, where <c>RESIDUALNET_REQUIRE_PYTHON=1</c>), with the reason and what to
    /// install, when Python with torch and torchvision cannot run.
    /// </summary>
    public static void Require() => TestEnvironment.Require(
        IsAvailable,
        $"Needs {Interpreter} with numpy, torch and torchvision (Debian/Ubuntu: apt-get install python3-torchvision): {Problem.Value}",
        TestEnvironment.RequirePythonVariable);

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
                TimeSpan.FromMinutes(2), "-c", "import numpy, torch, torchvision; print(torch.__version__, torchvision.__version__)");
            return exitCode == 0 ? null : $"importing numpy, torch and torchvision failed: {LastLine(error)} {output.Trim()}".Trim();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return $"Starting {Interpreter} failed: {ex.Message}";
        }
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } lines ? lines[^1] : string.Empty;

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
