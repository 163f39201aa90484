using System;
using ResidualNet.Samples.ScaleOut;
using ResidualNet.TestSupport;

namespace ResidualNet.IntegrationTests.ScaleOut;

/// <summary>
/// The ScaleOut tests' Python requirement (<c>[Trait("Category", "Python")]</c>): Python with torch, torchvision and
/// the gloo backend, as the sample itself checks it (<see cref="PythonTorch.FindProblem"/>). Missing, the test is
/// skipped with the reason, or fails where <c>RESIDUALNET_REQUIRE_PYTHON=1</c> (see <see cref="TestEnvironment"/>).
/// </summary>
internal static class PythonRequirement
{
    private static readonly Lazy<string?> Problem = new(() => PythonTorch.FindProblem(PythonTorch.DefaultInterpreter));

    /// <summary>The interpreter the tests run.</summary>
    public static string Interpreter => PythonTorch.DefaultInterpreter;

    /// <summary>Skips the calling test (or fails it, with <c>RESIDUALNET_REQUIRE_PYTHON=1</c>) when Python cannot run.</summary>
    public static void SkipUnlessAvailable() => TestEnvironment.Require(
        Problem.Value is null,
        $"Needs {Interpreter} with torch, torchvision and the gloo backend (Debian/Ubuntu: apt-get install python3-torchvision): {Problem.Value}",
        TestEnvironment.RequirePythonVariable);
}
