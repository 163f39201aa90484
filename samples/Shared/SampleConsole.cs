using System;
using System.IO;
using Spectre.Console;

namespace ResidualNet.Samples;

/// <summary>Where a sample writes: normal output, errors, and a Spectre.Console console for progress bars.</summary>
public sealed class SampleConsole
{
    private SampleConsole(TextWriter output, TextWriter error, IAnsiConsole ansi)
    {
        Out = output;
        Error = error;
        Ansi = ansi;
    }

    /// <summary>Normal output.</summary>
    public TextWriter Out { get; }

    /// <summary>Error output (one-line errors).</summary>
    public TextWriter Error { get; }

    /// <summary>Console for progress bars and tables (plain text when output is redirected).</summary>
    public IAnsiConsole Ansi { get; }

    /// <summary>The process's console.</summary>
    public static SampleConsole System { get; } = new(Console.Out, Console.Error, AnsiConsole.Console);

    /// <summary>A console that writes plain text (no colours, not interactive) to the given writers, for tests.</summary>
    public static SampleConsole ForWriters(TextWriter output, TextWriter error)
    {
        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        return new SampleConsole(output, error, ansi);
    }
}
