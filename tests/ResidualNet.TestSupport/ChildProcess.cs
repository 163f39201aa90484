using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;

namespace ResidualNet.TestSupport;

/// <summary>
/// Runs a static method of a test assembly in a separate process, so that a native crash (SIGFPE in libtorch, a
/// segmentation fault in a fuzzer) is one failed test with its exit code instead of an aborted test run. The child
/// is <c>dotnet exec ResidualNet.UnitTests.dll --child Type Method [args]</c> (the assembly of the method's type), whose
/// <c>Program.Main</c> calls <see cref="RunChildMain"/>: every test project that uses this class has that two-line
/// Program.cs and <c>GenerateProgramFile=false</c>.
/// </summary>
/// <remarks>
/// The method must be static, take either nothing or a <c>string[]</c>, and return <c>void</c> or <c>int</c> (the exit
/// code). It reports values to the parent with <see cref="Report"/>; the parent reads them from
/// <see cref="ChildProcessResult.Reported"/>. Nothing here depends on the test framework: a failure is an ordinary
/// exception (<see cref="ChildProcessException"/>) that any runner shows as a failed test.
/// </remarks>
public static class ChildProcess
{
    /// <summary>The first argument that makes <c>Program.Main</c> run a child.</summary>
    public const string ChildSwitch = "--child";

    /// <summary>The exit code of a child whose method threw.</summary>
    public const int ExceptionExitCode = 1;

    /// <summary>The exit code of a child started with a command line that names no runnable method.</summary>
    public const int UsageExitCode = 2;

    /// <summary>The prefix of the lines <see cref="Report"/> writes to standard output.</summary>
    public const string ReportPrefix = "##child-report## ";

    /// <summary>The default time limit of a child.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Runs <paramref name="type"/>.<paramref name="method"/> in a child process and waits for it.
    /// </summary>
    /// <param name="type">A type of a test assembly whose entry point calls <see cref="RunChildMain"/>.</param>
    /// <param name="method">The name of a static method of <paramref name="type"/>.</param>
    /// <param name="arguments">Arguments passed to the method as its <c>string[]</c>.</param>
    /// <param name="environment">Environment variables to set in the child (a null value removes the variable); the
    /// rest of the parent's environment is inherited.</param>
    /// <param name="timeout">Time limit (<see cref="DefaultTimeout"/> when null); the child's process tree is killed after it.</param>
    /// <returns>The exit code, the output and what the child reported.</returns>
    public static ChildProcessResult Run(
        Type type, string method, IEnumerable<string>? arguments = null,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        if (Resolve(type, method) is null)
        {
            throw new ArgumentException($"{type.FullName}.{method} is not a static method taking () or (string[]).", nameof(method));
        }

        string assembly = type.Assembly.Location;
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add(ChildSwitch);
        start.ArgumentList.Add(type.FullName!);
        start.ArgumentList.Add(method);
        foreach (string argument in arguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        string command = $"{string.Join(' ', (environment ?? new Dictionary<string, string?>()).Select(e => $"{e.Key}={e.Value ?? "(unset)"}"))} "
            + $"dotnet exec {Path.GetFileName(assembly)} {string.Join(' ', start.ArgumentList.Skip(2))}".TrimStart();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        bool exited = process.WaitForExit(timeout ?? DefaultTimeout);
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        return new ChildProcessResult(
            command, exited ? process.ExitCode : -1, output.GetAwaiter().GetResult(), error.GetAwaiter().GetResult(), clock.Elapsed, !exited);
    }

    /// <summary>Runs <typeparamref name="T"/>.<paramref name="method"/> in a child process (see the other overload).</summary>
    /// <typeparam name="T">A type of this test assembly.</typeparam>
    /// <param name="method">The name of a static method of <typeparamref name="T"/>.</param>
    /// <param name="arguments">Arguments passed to the method.</param>
    /// <param name="environment">Environment variables to set (null removes).</param>
    /// <param name="timeout">Time limit.</param>
    /// <returns>The child's result.</returns>
    public static ChildProcessResult Run<T>(
        string method, IEnumerable<string>? arguments = null,
        IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
        => Run(typeof(T), method, arguments, environment, timeout);

    /// <summary>In a child: reports a value to the parent (one line on standard output).</summary>
    /// <param name="key">A name without spaces or '='.</param>
    /// <param name="value">Any text without line breaks.</param>
    public static void Report(string key, object? value)
    {
        string text = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
        Console.Out.WriteLine($"{ReportPrefix}{key}={text.ReplaceLineEndings(" ")}");
        Console.Out.Flush();
    }

    /// <summary>The assembly the child process runs (the test project's own, started by <c>dotnet exec</c>).</summary>
    private static Assembly EntryAssembly =>
        Assembly.GetEntryAssembly() ?? throw new InvalidOperationException("A child process has an entry assembly.");

    /// <summary>The child side: parses <c>--child Type Method [args]</c>, runs the method, returns its exit code.</summary>
    /// <param name="args">The process's command line.</param>
    /// <returns>The exit code.</returns>
    public static int RunChildMain(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length < 3 || args[0] != ChildSwitch)
        {
            Console.Error.WriteLine($"usage: dotnet exec {Path.GetFileName(EntryAssembly.Location)} {ChildSwitch} Namespace.Type Method [args...]");
            Console.Error.WriteLine("This assembly holds tests: run it with `dotnet test`; the command line above is for ChildProcess.Run.");
            return UsageExitCode;
        }

        var type = EntryAssembly.GetType(args[1]);
        var method = type is null ? null : Resolve(type, args[2]);
        if (method is null)
        {
            Console.Error.WriteLine($"{args[1]}.{args[2]}: no static method taking () or (string[]) in {EntryAssembly.GetName().Name}.");
            return UsageExitCode;
        }

        try
        {
            object?[]? parameters = method.GetParameters().Length == 0 ? null : [args.Skip(3).ToArray()];
            object? result = method.Invoke(null, parameters);
            Console.Out.Flush();
            return result is int code ? code : 0;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            Console.Error.WriteLine($"{args[1]}.{args[2]} threw: {e.InnerException}");
            return ExceptionExitCode;
        }
    }

    private static MethodInfo? Resolve(Type type, string name)
    {
        const BindingFlags flags = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        return type.GetMethods(flags).FirstOrDefault(m => m.Name == name
            && (m.ReturnType == typeof(void) || m.ReturnType == typeof(int))
            && (m.GetParameters().Length == 0 || (m.GetParameters().Length == 1 && m.GetParameters()[0].ParameterType == typeof(string[]))));
    }

    /// <summary>The <c>dotnet</c> host running this process (the test host runs under it), else DOTNET_HOST_PATH, else <c>dotnet</c> on the PATH.</summary>
    private static string DotnetHost()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }
}
