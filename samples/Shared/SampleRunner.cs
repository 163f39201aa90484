using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using ResidualNet.Data;

namespace ResidualNet.Samples;

/// <summary>
/// Runs a sample's body and turns failures into one line on standard error, never a stack trace:
/// bad options, missing or corrupt data and other expected problems exit with <see cref="ExitBadInput"/> (2),
/// anything unexpected with <see cref="ExitUnexpected"/> (1), a Ctrl+C stop with <see cref="ExitCancelled"/> (130).
/// Set the environment variable <c>RESIDUALNET_SAMPLES_TRACE=1</c> to see stack traces.
/// </summary>
public static class SampleRunner
{
    /// <summary>Exit code for success.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code for an unexpected failure.</summary>
    public const int ExitUnexpected = 1;

    /// <summary>Exit code for bad options, missing or corrupt data, unusable checkpoints.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Exit code after a Ctrl+C stop (128 + SIGINT).</summary>
    public const int ExitCancelled = 130;

    /// <summary>
    /// Runs <paramref name="body"/> on the process console with a Ctrl+C handler: the first Ctrl+C cancels the token
    /// (the sample stops after its current batch), a second one ends the process at once.
    /// </summary>
    /// <param name="body">The sample; returns its exit code.</param>
    /// <returns>The exit code.</returns>
    public static int Run(Func<CancellationToken, int> body)
    {
        using var cancellation = new ConsoleCancellation(Console.Error);
        return Run(body, Console.Error, cancellation.Token);
    }

    /// <summary>Runs <paramref name="body"/> with the given error writer and token (for tests and hosts).</summary>
    /// <param name="body">The sample; returns its exit code.</param>
    /// <param name="error">Where the one-line error goes.</param>
    /// <param name="cancellationToken">Cancels the sample after its current batch.</param>
    /// <returns>The exit code.</returns>
    public static int Run(Func<CancellationToken, int> body, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            return body(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("stopped: cancelled before any work was saved.");
            return ExitCancelled;
        }
        catch (Exception e) when (IsBadInput(e))
        {
            error.WriteLine("error: " + OneLine(e));
            Trace(e, error);
            return ExitBadInput;
        }
        catch (Exception e)
        {
            error.WriteLine($"error: unexpected {e.GetType().Name}: {OneLine(e)} (set RESIDUALNET_SAMPLES_TRACE=1 for details)");
            Trace(e, error);
            return ExitUnexpected;
        }
    }

    /// <summary>Whether an exception is an expected kind of bad input (exit code 2).</summary>
    public static bool IsBadInput(Exception exception) => exception is UsageException or SampleException or IdxFormatException
        or IOException or UnauthorizedAccessException or InvalidDataException or JsonException or ArgumentException
        or ExternalException;

    /// <summary>The first line of an exception's message, without trailing whitespace.</summary>
    public static string OneLine(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        string message = exception switch
        {
            ArgumentException { ParamName: { } name } a when a.Message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal) =>
                a.Message[..^$" (Parameter '{name}')".Length],
            ExternalException => "TorchSharp: " + exception.Message,
            _ => exception.Message,
        };
        string first = message.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? exception.GetType().Name;
        return first;
    }

    private static void Trace(Exception e, TextWriter error)
    {
        if (Environment.GetEnvironmentVariable("RESIDUALNET_SAMPLES_TRACE") == "1")
        {
            error.WriteLine(e.ToString());
        }
    }
}

/// <summary>Bad command-line input; <see cref="SampleRunner"/> prints its message as one line and exits with code 2.</summary>
public sealed class UsageException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UsageException()
    {
    }

    /// <summary>Creates the exception with a one-line message naming the option and the value received.</summary>
    public UsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>An expected failure of a sample (for example an incompatible checkpoint); reported as one line, exit code 2.</summary>
public sealed class SampleException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SampleException()
    {
    }

    /// <summary>Creates the exception with a one-line message.</summary>
    public SampleException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SampleException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Turns the first Ctrl+C into a cancellation request (the process keeps running and stops cleanly after the current
/// batch); a second Ctrl+C ends the process as usual.
/// </summary>
public sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly TextWriter _log;

    /// <summary>Installs the handler.</summary>
    /// <param name="log">Where to say that a stop was requested.</param>
    public ConsoleCancellation(TextWriter log)
    {
        _log = log;
        Console.CancelKeyPress += OnCancelKeyPress;
    }

    /// <summary>Cancelled by the first Ctrl+C.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Removes the handler.</summary>
    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _source.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (_source.IsCancellationRequested)
        {
            return;
        }

        e.Cancel = true;
        _log.WriteLine("Ctrl+C: stopping after the current batch and saving a checkpoint (press Ctrl+C again to quit at once).");
        _source.Cancel();
    }
}
