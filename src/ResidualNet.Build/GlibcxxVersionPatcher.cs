using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace ResidualNet.Build;

/// <summary>What <see cref="GlibcxxVersionPatcher"/> did to a file, and why.</summary>
internal enum PatchOutcome
{
    /// <summary>The version requirement was made weak.</summary>
    Patched,

    /// <summary>The requirement was already weak (an earlier build patched this copy).</summary>
    AlreadyWeak,

    /// <summary>The file does not require the version at all.</summary>
    VersionNotRequired,

    /// <summary>A relocation uses a symbol of the version, so weakening it would break the library at run time.</summary>
    RefusedSymbolInUse,

    /// <summary>The file is not an ELF64 little-endian shared object.</summary>
    NotElf,
}

/// <summary>
/// Marks the requirement of one symbol version (by default <c>GLIBCXX_3.4.32</c>) weak in an ELF file
/// (sets <c>VER_FLG_WEAK</c> in its <c>Elf64_Vernaux.vna_flags</c>), so that the dynamic loader accepts an
/// older libstdc++ that lacks the version. It only does so when no dynamic relocation uses a symbol bound to
/// that version; otherwise the library would fail at run time, and the file is refused.
/// </summary>
internal static class GlibcxxVersionPatcher
{
    /// <summary>The version TorchSharp 0.107's libLibTorchSharp.so requires and Debian 12 / Ubuntu 22.04 lack.</summary>
    internal const string DefaultVersion = "GLIBCXX_3.4.32";

    private static readonly char[] PathSeparator = { ':' };

    private static readonly string[] SystemLibraryDirectories =
    {
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
        "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib",
    };

    /// <summary>Works out the patch for <paramref name="bytes"/> in place; returns the outcome and a sentence for the build log.</summary>
    internal static PatchOutcome Patch(byte[] bytes, string version, out string detail)
    {
        ElfFile? elf = ElfFile.TryParse(bytes, out string reason);
        if (elf is null)
        {
            detail = reason;
            return PatchOutcome.NotElf;
        }

        List<ElfFile.VersionNeed> needs = elf.VersionNeeds().Where(n => n.Name == version).ToList();
        if (needs.Count == 0)
        {
            detail = $"it does not require {version}";
            return PatchOutcome.VersionNotRequired;
        }

        foreach (ElfFile.VersionNeed need in needs)
        {
            int used = elf.CountRelocationsUsingVersion(need.VersionIndex, out string? symbol);
            if (used > 0)
            {
                detail = $"{used} relocation(s) use a symbol of {version} (first: {symbol}); weakening the requirement would break it at run time";
                return PatchOutcome.RefusedSymbolInUse;
            }
        }

        if (needs.All(n => n.IsWeak))
        {
            detail = $"its {version} requirement is already weak";
            return PatchOutcome.AlreadyWeak;
        }

        foreach (ElfFile.VersionNeed need in needs)
        {
            ushort flags = (ushort)(need.Flags | ElfFile.VerFlagWeak);
            bytes[need.FlagsOffset] = (byte)(flags & 0xff);
            bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
        }

        detail = $"marked its {version} requirement ({needs[0].File}) weak; no relocation uses a symbol of that version";
        return PatchOutcome.Patched;
    }

    /// <summary>
    /// Patches the file at <paramref name="path"/>. The new bytes go to a temporary file that then replaces the
    /// directory entry, so a hard link into a package cache is never written through. The last-write time is kept,
    /// so incremental copies see the file as unchanged and do not bring the unpatched bytes back.
    /// </summary>
    internal static PatchOutcome PatchFile(string path, string version, out string detail)
    {
        byte[] bytes = File.ReadAllBytes(path);
        PatchOutcome outcome = Patch(bytes, version, out detail);
        if (outcome != PatchOutcome.Patched)
        {
            return outcome;
        }

        DateTime written = File.GetLastWriteTimeUtc(path);
        string temp = path + ".residualnet-tmp";
        File.WriteAllBytes(temp, bytes);
        File.SetLastWriteTimeUtc(temp, written);
        File.Delete(path);
        File.Move(temp, path);
        return outcome;
    }

    /// <summary>Whether the ELF shared library at <paramref name="path"/> defines <paramref name="version"/>.</summary>
    internal static bool DefinesVersion(string path, string version)
    {
        ElfFile? elf = ElfFile.TryParse(File.ReadAllBytes(path), out _);
        return elf is not null && elf.VersionDefinitions().Contains(version, StringComparer.Ordinal);
    }

    /// <summary>
    /// Finds the libstdc++ the dynamic loader would pick for a process started from this environment:
    /// <c>LD_LIBRARY_PATH</c> first, then the usual system directories. Null when none is found.
    /// </summary>
    internal static string? FindSystemLibStdCxx()
    {
        var dirs = new List<string>();
        string? ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
        if (!string.IsNullOrEmpty(ldPath))
        {
            dirs.AddRange(ldPath!.Split(PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        dirs.AddRange(SystemLibraryDirectories);
        return dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
    }
}
