using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace ResidualNet.TestSupport;

/// <summary>How a child process ended (see <see cref="ChildProcess"/>).</summary>
/// <param name="Command">The command line, with the environment variables set for it.</param>
/// <param name="ExitCode">The exit code; 128 + N when a signal N killed it (136: SIGFPE); -1 after a time-out.</param>
/// <param name="StandardOutput">Everything it wrote to standard output.</param>
/// <param name="StandardError">Everything it wrote to standard error.</param>
/// <param name="Elapsed">How long it ran.</param>
/// <param name="TimedOut">Whether it was killed for running past its time limit.</param>
public sealed record ChildProcessResult(string Command, int ExitCode, string StandardOutput, string StandardError, TimeSpan Elapsed, bool TimedOut)
{
    /// <summary>Whether it exited normally with code 0.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Whether a signal killed it (exit code 129-159 on Linux).</summary>
    public bool KilledBySignal => !TimedOut && ExitCode > 128 && ExitCode < 160;

    /// <summary>The values the child reported with <see cref="ChildProcess.Report"/> (the last one of each key wins).</summary>
    public IReadOnlyDictionary<string, string> Reported
    {
        get
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string line in StandardOutput.Split('\n'))
            {
                string l = line.TrimEnd('\r');
                if (!l.StartsWith(ChildProcess.ReportPrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                string pair = l[ChildProcess.ReportPrefix.Length..];
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    values[pair[..eq]] = pair[(eq + 1)..];
                }
            }

            return values;
        }
    }

    /// <summary>A reported value as a number.</summary>
    /// <param name="key">The key the child reported.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ChildProcessException">The child did not report it, or not as a number.</exception>
    public double ReportedNumber(string key) =>
        Reported.TryGetValue(key, out string? text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw new ChildProcessException($"The child did not report a number '{key}'.{Environment.NewLine}{Describe()}");

    /// <summary>A reported value as text.</summary>
    /// <param name="key">The key the child reported.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ChildProcessException">The child did not report it.</exception>
    public string ReportedText(string key) =>
        Reported.TryGetValue(key, out string? text)
            ? text
            : throw new ChildProcessException($"The child did not report '{key}'.{Environment.NewLine}{Describe()}");

    /// <summary>Throws, with <see cref="Describe"/>, unless the child exited with code 0.</summary>
    /// <returns>This result, for chaining.</returns>
    /// <exception cref="ChildProcessException">The child failed, crashed or timed out.</exception>
    public ChildProcessResult ShouldSucceed() =>
        Succeeded ? this : throw new ChildProcessException($"The child process did not succeed.{Environment.NewLine}{Describe()}");

    /// <summary>A description for a failure message: the command, how it ended (with the signal's name), and the last
    /// lines of its output and error.</summary>
    /// <returns>Several lines of text.</returns>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"  command:   {Command}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  ended:     {HowItEnded()} after {Elapsed.TotalSeconds:F1} s");
        text.AppendLine("  stdout (last lines):");
        text.Append(Tail(StandardOutput));
        text.AppendLine("  stderr (last lines):");
        text.Append(Tail(StandardError));
        return text.ToString();
    }

    /// <summary>"exit code 0", "exit code 136 = killed by signal 8 (SIGFPE, e.g. an integer division by zero in native code)", "timed out".</summary>
    /// <returns>One phrase.</returns>
    public string HowItEnded()
    {
        if (TimedOut)
        {
            return "timed out (killed)";
        }

        if (!KilledBySignal)
        {
            return ExitCode == ChildProcess.ExceptionExitCode
                ? $"exit code {ExitCode} (the method threw; see stderr)"
                : $"exit code {ExitCode}";
        }

        int signal = ExitCode - 128;
        string name = signal switch
        {
            4 => "SIGILL, an illegal instruction",
            6 => "SIGABRT, an abort (also an unhandled .NET exception or a native assertion)",
            7 => "SIGBUS",
            8 => "SIGFPE, e.g. an integer division by zero in native code",
            9 => "SIGKILL, e.g. the out-of-memory killer",
            11 => "SIGSEGV, a segmentation fault",
            _ => $"signal {signal}",
        };
        return $"exit code {ExitCode} = killed by signal {signal} ({name})";
    }

    private static string Tail(string text, int lines = 25)
    {
        var all = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        var sb = new StringBuilder();
        foreach (string line in all.Skip(Math.Max(0, all.Count - lines)))
        {
            sb.Append("    ").AppendLine(line);
        }

        return sb.Length == 0 ? "    (nothing)" + Environment.NewLine : sb.ToString();
    }
}

/// <summary>A child process failed, crashed, timed out or did not report what the test needs.</summary>
public sealed class ChildProcessException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChildProcessException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    /// <param name="message">What went wrong, with the child's description.</param>
    public ChildProcessException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ChildProcessException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
