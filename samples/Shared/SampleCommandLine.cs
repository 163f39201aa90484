using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace ResidualNet.Samples;

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

/// <summary>A parsed option: its value after <see cref="SampleCommandLine.Parse"/>.</summary>
/// <typeparam name="T">The value type.</typeparam>
public sealed class CommandOption<T>
{
    private readonly Func<string, T> _parse;

    internal CommandOption(string name, T defaultValue, string help, Func<string, T> parse, bool isFlag)
    {
        Name = name;
        Value = defaultValue;
        DefaultValue = defaultValue;
        Help = help;
        _parse = parse;
        IsFlag = isFlag;
    }

    /// <summary>The option, for example <c>--epochs</c>.</summary>
    public string Name { get; }

    /// <summary>The value given on the command line, or the default.</summary>
    public T Value { get; private set; }

    /// <summary>The default value.</summary>
    public T DefaultValue { get; }

    /// <summary>Whether the option appeared on the command line.</summary>
    public bool IsSet { get; private set; }

    /// <summary>Help text.</summary>
    public string Help { get; }

    internal bool IsFlag { get; }

    internal void Set(string text)
    {
        Value = _parse(text);
        IsSet = true;
    }
}

/// <summary>
/// A small command-line parser for the samples: <c>--name value</c>, <c>--name=value</c> and flags. Every problem
/// (unknown option, missing or malformed value, value out of range) throws a <see cref="UsageException"/> with a
/// one-line message naming the option and the value received.
/// </summary>
public sealed class SampleCommandLine
{
    private readonly string _program;
    private readonly string _description;
    private readonly List<(string Name, string Help, string Default, bool IsFlag, Action<string> Set, Func<bool> IsSet)> _options = [];

    /// <summary>Creates a parser.</summary>
    /// <param name="program">The command (for the usage text).</param>
    /// <param name="description">One sentence on what the sample does.</param>
    public SampleCommandLine(string program, string description)
    {
        _program = program;
        _description = description;
    }

    /// <summary>An integer option with an inclusive range.</summary>
    public CommandOption<int> WholeNumber(string name, int defaultValue, string help, int min = int.MinValue, int max = int.MaxValue) =>
        Add(name, defaultValue, help, text =>
        {
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
            {
                throw new UsageException($"{name} expects a whole number; got '{text}'.");
            }

            return value < min || value > max
                ? throw new UsageException($"{name} must be {RangeText(min, max)}; got {value}.")
                : value;
        });

    /// <summary>A real-number option; <paramref name="min"/> is exclusive when <paramref name="minExclusive"/>.</summary>
    public CommandOption<double> Number(string name, double defaultValue, string help, double min = double.MinValue, double max = double.MaxValue, bool minExclusive = false) =>
        Add(name, defaultValue, help, text =>
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                throw new UsageException($"{name} expects a finite number; got '{text}'.");
            }

            bool low = minExclusive ? value <= min : value < min;
            return low || value > max
                ? throw new UsageException($"{name} must be {(minExclusive ? "greater than" : "at least")} {min.ToString(CultureInfo.InvariantCulture)}{(max < double.MaxValue ? $" and at most {max.ToString(CultureInfo.InvariantCulture)}" : string.Empty)}; got {text}.")
                : value;
        });

    /// <summary>A text option (for example a folder).</summary>
    public CommandOption<string?> Text(string name, string? defaultValue, string help) =>
        Add(name, defaultValue, help, text => string.IsNullOrWhiteSpace(text)
            ? throw new UsageException($"{name} expects a value; got an empty string.")
            : text);

    /// <summary>An option whose value is one of an enumeration's names (case-insensitive).</summary>
    public CommandOption<TEnum> Choice<TEnum>(string name, TEnum defaultValue, string help)
        where TEnum : struct, Enum =>
        Add(name, defaultValue, help, text =>
            Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) && Enum.IsDefined(value) && !int.TryParse(text, out _)
                ? value
                : throw new UsageException($"{name} must be one of {string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()))}; got '{text}'."));

    /// <summary>A comma-separated list whose items must come from <paramref name="allowed"/> (case-insensitive).</summary>
    public CommandOption<IReadOnlyList<string>> List(string name, IReadOnlyList<string> defaultValue, string help, IReadOnlyList<string> allowed) =>
        Add(name, defaultValue, help, text =>
        {
            var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (items.Length == 0)
            {
                throw new UsageException($"{name} expects a comma-separated list; got '{text}'.");
            }

            var result = new List<string>();
            foreach (string item in items)
            {
                string? match = allowed.FirstOrDefault(a => string.Equals(a, item, StringComparison.OrdinalIgnoreCase))
                    ?? throw new UsageException($"{name}: unknown item '{item}'; choose from {string.Join(", ", allowed)}.");
                if (!result.Contains(match))
                {
                    result.Add(match);
                }
            }

            return (IReadOnlyList<string>)result;
        });

    /// <summary>A flag: present means <see langword="true"/>.</summary>
    public CommandOption<bool> Flag(string name, string help)
    {
        var option = new CommandOption<bool>(name, false, help, _ => true, isFlag: true);
        Register(name, help, string.Empty, isFlag: true, option.Set, () => option.IsSet);
        return option;
    }

    /// <summary>
    /// Parses the arguments. Returns <see langword="false"/> when <c>--help</c> was asked for (the usage text has
    /// then been written to <paramref name="output"/>); the caller should exit with code 0.
    /// </summary>
    /// <exception cref="UsageException">An argument is unknown, malformed or out of range.</exception>
    public bool Parse(IReadOnlyList<string> args, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            output.Write(Usage());
            return false;
        }

        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'; options start with -- (run with --help to list them).");
            }

            string name = arg;
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                inline = arg[(eq + 1)..];
            }

            var option = _options.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
            if (option.Name is null)
            {
                throw new UsageException($"unknown option '{name}' (run with --help to list the options).");
            }

            if (option.IsSet())
            {
                throw new UsageException($"{option.Name} is given more than once.");
            }

            if (option.IsFlag)
            {
                if (inline is not null)
                {
                    throw new UsageException($"{option.Name} is a flag and takes no value; got '{inline}'.");
                }

                option.Set(string.Empty);
                continue;
            }

            string? value = inline;
            if (value is null)
            {
                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    throw new UsageException($"{option.Name} needs a value.");
                }

                value = args[++i];
            }

            option.Set(value);
        }

        return true;
    }

    /// <summary>The usage text listing every option with its default.</summary>
    public string Usage()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{_description}\n\nUsage: {_program} [options]\n\nOptions:\n");
        foreach (var option in _options)
        {
            string left = option.IsFlag ? option.Name : $"{option.Name} <value>";
            string defaults = option.IsFlag || option.Default.Length == 0 ? string.Empty : $" (default {option.Default})";
            text.Append(CultureInfo.InvariantCulture, $"  {left,-22} {option.Help}{defaults}\n");
        }

        text.Append("  --help                 Show this text.\n");
        return text.ToString();
    }

    private CommandOption<T> Add<T>(string name, T defaultValue, string help, Func<string, T> parse)
    {
        var option = new CommandOption<T>(name, defaultValue, help, parse, isFlag: false);
        string shown = defaultValue switch
        {
            null => string.Empty,
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            IEnumerable<string> list => string.Join(",", list),
            _ => defaultValue.ToString() ?? string.Empty,
        };
        if (defaultValue is Enum)
        {
            shown = shown.ToLowerInvariant();
        }

        Register(name, help, shown, isFlag: false, option.Set, () => option.IsSet);
        return option;
    }

    private void Register(string name, string help, string shown, bool isFlag, Action<string> set, Func<bool> isSet)
    {
        if (!name.StartsWith("--", StringComparison.Ordinal) || _options.Any(o => o.Name == name))
        {
            throw new ArgumentException($"Option name must start with -- and be unique; got '{name}'.", nameof(name));
        }

        _options.Add((name, help, shown, isFlag, set, isSet));
    }

    private static string RangeText(int min, int max) =>
        max == int.MaxValue ? $"at least {min}" : min == int.MinValue ? $"at most {max}" : $"between {min} and {max}";
}
