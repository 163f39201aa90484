using System;
using ResidualNet.Samples.ScaleOut;
using Xunit;

namespace ResidualNet.Tests.ScaleOut;

/// <summary>
/// For the tests of the Python category (<c>[Trait("Category", "Python")]</c>): they run when Python with torch,
/// torchvision and the gloo backend is found (<c>/usr/bin/python3</c>, or <c>RESIDUALNET_PYTHON</c>), and are reported
/// as skipped with the reason otherwise; with <c>RESIDUALNET_REQUIRE_PYTHON=1</c> (CI) a missing Python fails them.
/// </summary>
internal static class PythonRequirement
{
    /// <summary>Set to 1 to make a missing Python a failure instead of a skip.</summary>
    public const string RequireVariable = "RESIDUALNET_REQUIRE_PYTHON";

    private static readonly Lazy<string?> Problem = new(() =>
        Environment.GetEnvironmentVariable("RESIDUALNET_SKIP_PYTHON") == "1"
            ? "RESIDUALNET_SKIP_PYTHON=1 is set."
            : PythonTorch.FindProblem(PythonTorch.DefaultInterpreter));

    /// <summary>The interpreter the tests run.</summary>
    public static string Interpreter => PythonTorch.DefaultInterpreter;

    /// <summary>Skips the calling test (or fails it, with <c>RESIDUALNET_REQUIRE_PYTHON=1</c>) when Python cannot run.</summary>
    public static void SkipUnlessAvailable()
    {
        if (Problem.Value is not { } problem)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            Assert.Fail($"{RequireVariable}=1, but Python with torch and torchvision cannot run: {problem}");
        }

        Skip.If(true, $"Python with torch and torchvision is not available: {problem} Set {RequireVariable}=1 to make this a failure.");
    }
}
