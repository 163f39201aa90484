using System;
using System.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ResidualNet.Build;

/// <summary>
/// MSBuild task: makes the copies of <c>libLibTorchSharp.so</c> in a build or publish output loadable on
/// Linux systems whose libstdc++ lacks <c>GLIBCXX_3.4.32</c>, by marking that one version requirement weak.
/// It leaves every file alone, and says why in the build log, when the system's libstdc++ already has the
/// version, when a file does not require it, or when a relocation uses a symbol of that version.
/// </summary>
public sealed class PatchLibTorchSharpVersionRequirement : Task
{
    /// <summary>The output copies of libLibTorchSharp.so to inspect (never a package-cache path).</summary>
    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version requirement to weaken; <c>GLIBCXX_3.4.32</c> by default.</summary>
    public string Version { get; set; } = GlibcxxVersionPatcher.DefaultVersion;

    /// <summary>The libstdc++ to check; by default the one the dynamic loader would find.</summary>
    public string? SystemLibStdCxx { get; set; }

    /// <summary>Files this task patched in this build.</summary>
    [Output]
    public ITaskItem[] PatchedFiles { get; private set; } = Array.Empty<ITaskItem>();

    /// <inheritdoc />
    public override bool Execute()
    {
        string? libstdcxx = string.IsNullOrEmpty(SystemLibStdCxx) ? GlibcxxVersionPatcher.FindSystemLibStdCxx() : SystemLibStdCxx;
        if (libstdcxx is null)
        {
            Log.LogMessage(MessageImportance.Normal, "ResidualNet: no system libstdc++.so.6 found; libLibTorchSharp.so left as it is.");
            return true;
        }

        if (GlibcxxVersionPatcher.DefinesVersion(libstdcxx, Version))
        {
            Log.LogMessage(MessageImportance.Normal, $"ResidualNet: {libstdcxx} provides {Version}; libLibTorchSharp.so left as it is.");
            return true;
        }

        var patched = new System.Collections.Generic.List<ITaskItem>();
        foreach (ITaskItem item in Files)
        {
            string path = item.GetMetadata("FullPath");
            if (!File.Exists(path))
            {
                continue;
            }

            PatchOutcome outcome;
            string detail;
            try
            {
                outcome = GlibcxxVersionPatcher.PatchFile(path, Version, out detail);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.LogWarning($"ResidualNet: could not patch {path}: {e.Message}");
                continue;
            }

            switch (outcome)
            {
                case PatchOutcome.Patched:
                    Log.LogMessage(MessageImportance.High, $"ResidualNet: {path}: {detail} (system {libstdcxx} lacks it). Set ResidualNetPatchLibTorchSharp=false to turn this off.");
                    patched.Add(item);
                    break;
                case PatchOutcome.RefusedSymbolInUse:
                    Log.LogWarning($"ResidualNet: {path} left as it is: {detail}.");
                    break;
                default:
                    Log.LogMessage(MessageImportance.Low, $"ResidualNet: {path} left as it is: {detail}.");
                    break;
            }
        }

        PatchedFiles = patched.ToArray();
        return !Log.HasLoggedErrors;
    }
}
