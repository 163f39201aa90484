using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Threading;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ResidualNet.Samples;

/// <summary>
/// Runs a sample's Spectre.Console.Cli command: <c>--help</c> from Spectre, and bad input as one line on standard error
/// with exit code 2 (through <see cref="SampleRunner"/>). Spectre parses, binds and validates; this class only adds
/// what its messages lack: the option's name next to a value that is not a number or not a choice, and an option given
/// without its value (which Spectre would otherwise fill with a placeholder).
/// </summary>
public static class SampleApp
{
    /// <summary>Runs <typeparamref name="TCommand"/> with one-line error handling.</summary>
    /// <typeparam name="TCommand">The sample's command (a <c>Command&lt;TSettings&gt;</c>); it receives
    /// <paramref name="console"/> as <see cref="CommandContext.Data"/>.</typeparam>
    /// <param name="applicationName">The command line shown in the help, for example <c>dotnet run --project samples/Classify --</c>.</param>
    /// <param name="description">One sentence on what the sample does, shown in the help.</param>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="console">Where to write (help goes to its <see cref="SampleConsole.Ansi"/> console).</param>
    /// <param name="cancellationToken">Passed to the command (Ctrl+C).</param>
    /// <returns>0 on success, 2 for bad input, 130 when stopped, 1 for unexpected failures.</returns>
    public static int Run<TCommand>(string applicationName, string description, string[] args, SampleConsole console, CancellationToken cancellationToken)
        where TCommand : class, ICommand
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        var app = new CommandApp<TCommand>().WithDescription(description).WithData(console);
        app.Configure(config => config
            .SetApplicationName(applicationName)
            .SetApplicationCulture(CultureInfo.InvariantCulture)
            .ConfigureConsole(console.Ansi)
            .UseStrictParsing()
            .PropagateExceptions());
        return SampleRunner.Run(
            token =>
            {
                CheckValues(args, SettingsType(typeof(TCommand)));
                try
                {
                    return app.Run(args, token);
                }
                catch (CommandAppException e)
                {
                    throw new UsageException(e is CommandParseException ? $"{e.Message.TrimEnd('.')} (run with --help to list the options)." : e.Message, e);
                }
            },
            console.Error,
            cancellationToken);
    }

    /// <summary>
    /// Checks each option's value against the type of its property before Spectre binds it, so that the message names
    /// the option: a whole number, a finite number, one of an enumeration's names, a non-empty text.
    /// </summary>
    /// <param name="args">The arguments.</param>
    /// <param name="settingsType">The command's settings type.</param>
    /// <exception cref="UsageException">A value is missing or malformed.</exception>
    private static void CheckValues(string[] args, Type settingsType)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(settingsType);
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            return;
        }

        var options = (
            from property in settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            let option = property.GetCustomAttribute<CommandOptionAttribute>()
            where option?.ValueName is not null
            from name in option.LongNames
            select (Name: "--" + name, Type: Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType)).ToDictionary(o => o.Name, o => o.Type);
        for (int i = 0; i < args.Length; i++)
        {
            int equals = args[i].IndexOf('=', StringComparison.Ordinal);
            string name = equals > 0 ? args[i][..equals] : args[i];
            if (options.TryGetValue(name, out var type))
            {
                string? value = equals > 0 ? args[i][(equals + 1)..] : i + 1 < args.Length && !IsOption(args[i + 1]) ? args[++i] : null;
                if ((value is null ? "needs a value" : Problem(value, type)) is { } problem)
                {
                    throw new UsageException($"{name} {problem}.");
                }
            }
        }
    }

    private static string? Problem(string value, Type type) => type switch
    {
        _ when type.IsEnum => Enum.GetNames(type).Contains(value, StringComparer.OrdinalIgnoreCase)
            ? null
            : $"must be one of {string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()))}; got '{value}'",
        _ when type == typeof(int) => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? null : $"expects a whole number; got '{value}'",
        _ when type == typeof(double) => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x)
            ? null
            : $"expects a finite number; got '{value}'",
        _ => value.Length == 0 ? "expects a value; got an empty string" : null,
    };

    /// <summary>An option (<c>--name</c>, <c>-n</c>), not a negative number given as a value.</summary>
    private static bool IsOption(string arg) => arg.StartsWith('-') && arg.Length > 1 && !char.IsAsciiDigit(arg[1]) && arg[1] != '.';

    private static Type SettingsType(Type command)
    {
        for (var type = command; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(Command<>) || type.GetGenericTypeDefinition() == typeof(AsyncCommand<>)))
            {
                return type.GetGenericArguments()[0];
            }
        }

        throw new ArgumentException($"{command.Name} is not a Command<TSettings>.", nameof(command));
    }
}

/// <summary>
/// Validates a numeric option against an inclusive range (the lower bound exclusive with <see cref="MinExclusive"/>);
/// the message names the option and the value, for example <c>--epochs must be between 1 and 10000; got 0.</c>
/// An option that was not given (null) passes.
/// </summary>
/// <param name="min">Lower bound.</param>
/// <param name="max">Upper bound.</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class BetweenAttribute(double min, double max) : ParameterValidationAttribute(errorMessage: null!)
{
    /// <summary>Whether the lower bound itself is outside the range.</summary>
    public bool MinExclusive { get; init; }

    /// <inheritdoc/>
    public override ValidationResult Validate(CommandParameterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Value is not IConvertible value)
        {
            return ValidationResult.Success();
        }

        double x = value.ToDouble(CultureInfo.InvariantCulture);
        if ((MinExclusive ? x > min : x >= min) && x <= max)
        {
            return ValidationResult.Success();
        }

        string name = context.Parameter is Spectre.Console.Cli.Help.ICommandOption { LongNames.Count: > 0 } option ? "--" + option.LongNames[0] : context.Parameter.PropertyName;
        string range = MinExclusive ? $"greater than {Text(min)} and at most {Text(max)}" : $"between {Text(min)} and {Text(max)}";
        return ValidationResult.Error($"{name} must be {range}; got {value.ToString(CultureInfo.InvariantCulture)}.");
    }

    private static string Text(double x) => x.ToString(CultureInfo.InvariantCulture);
}
