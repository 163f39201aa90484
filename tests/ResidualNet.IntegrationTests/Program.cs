using ResidualNet.TestSupport;

namespace ResidualNet.IntegrationTests;

/// <summary>
/// The test assembly's entry point (the SDK's generated one is switched off with <c>GenerateProgramFile=false</c>).
/// The test runner never calls it; <see cref="ChildProcess"/> does, to run one static method in a fresh process:
/// <c>dotnet exec ResidualNet.IntegrationTests.dll --child Namespace.Type Method [args...]</c>.
/// </summary>
public static class Program
{
    /// <summary>Runs the child named on the command line and returns its exit code.</summary>
    /// <param name="args"><c>--child</c>, the type's full name, the method's name, then the method's arguments.</param>
    /// <returns>The method's exit code (0 when it returns normally), 1 when it throws, 2 on a bad command line.</returns>
    public static int Main(string[] args) => ChildProcess.RunChildMain(args);
}
