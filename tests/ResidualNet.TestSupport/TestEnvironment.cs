using System;
using System.IO;
using System.Runtime.InteropServices;
using ResidualNet.Data;
using Xunit;

namespace ResidualNet.TestSupport;

/// <summary>
/// What a test needs from the machine beyond the .NET SDK, and what happens when it is missing: the test reports
/// Skipped with the reason (xunit's dynamic skip, <c>Xunit.SkippableFact</c>: such tests are marked
/// <c>[SkippableFact]</c> or <c>[SkippableTheory]</c>), never an early <c>return</c> that counts as a pass. Where a
/// <c>RESIDUALNET_REQUIRE_*</c> variable is 1 (set by .ci/run, which installs everything), a missing Python or data
/// set fails the test instead.
/// </summary>
internal static class TestEnvironment
{
    /// <summary>Set to 1 to make a missing Python (interpreter, torch or torchvision) fail the Category=Python tests.</summary>
    public const string RequirePythonVariable = "RESIDUALNET_REQUIRE_PYTHON";

    /// <summary>Set to 1 to make a missing Fashion-MNIST data set fail the Category=Data tests.</summary>
    public const string RequireDataVariable = "RESIDUALNET_REQUIRE_DATA";

    /// <summary>Whether the variable is set to 1.</summary>
    public static bool Required(string variable) => Environment.GetEnvironmentVariable(variable) == "1";

    /// <summary>
    /// Returns when <paramref name="available"/>; otherwise fails the test where <paramref name="requireVariable"/>
    /// is set to 1, and skips it with <paramref name="reason"/> elsewhere.
    /// </summary>
    public static void Require(bool available, string reason, string? requireVariable = null)
    {
        if (available)
        {
            return;
        }

        if (requireVariable is not null && Required(requireVariable))
        {
            Assert.Fail($"{reason} ({requireVariable}=1 requires it.)");
        }

        Skip.If(true, reason);
    }

    /// <summary>The real Fashion-MNIST files (Debian's dataset-fashion-mnist); Category=Data.</summary>
    public static void RequireFashionMnist() => Require(
        FashionMnist.Exists(),
        $"Needs the real Fashion-MNIST files in {FashionMnist.DefaultDirectory} (Debian/Ubuntu: apt-get install dataset-fashion-mnist).",
        RequireDataVariable);

    /// <summary>Linux, for what only Linux has (named in <paramref name="what"/>).</summary>
    public static void RequireLinux(string what) => Require(
        RuntimeInformation.IsOSPlatform(OSPlatform.Linux), $"Needs Linux: {what}; this is {RuntimeInformation.OSDescription}.");

    /// <summary><c>/proc/self/status</c> and <c>/proc/self/clear_refs</c>, to measure peak resident memory.</summary>
    public static void RequireProcMemory() => Require(
        File.Exists("/proc/self/status") && File.Exists("/proc/self/clear_refs"),
        "Needs /proc/self/status and /proc/self/clear_refs (Linux) to measure peak resident memory.");
}
