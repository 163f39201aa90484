using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using FluentAssertions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ResidualNet.Build;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Build;

/// <summary>
/// The GLIBCXX_3.4.32 patch, tested on copies of real ELF files: TorchSharp's own libLibTorchSharp.so from
/// the NuGet package (never modified: the tests copy it), the system libstdc++ and the .NET runtime's libraries.
/// </summary>
public sealed class LibTorchSharpPatchTests : IDisposable
{
    private const string Version = GlibcxxVersionPatcher.DefaultVersion;
    private readonly string _dir = Directory.CreateTempSubdirectory("residualnet-elf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The original file in the TorchSharp package (read only).</summary>
    private static string OriginalLibrary
    {
        get
        {
            string root = typeof(LibTorchSharpPatchTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "TorchSharpPackageRoot").Value!;
            string path = Path.Combine(root, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            File.Exists(path).Should().BeTrue($"the TorchSharp package ships {path}");
            return path;
        }
    }

    [Fact]
    public void Patch_MakesOnlyTheVersionEntryWeak_AndChangesNoOtherByte()
    {
        byte[] original = File.ReadAllBytes(OriginalLibrary);
        byte[] patched = (byte[])original.Clone();

        ElfFile.VersionNeed need = ElfFile.TryParse(original, out _)!.VersionNeeds().Single(n => n.Name == Version);
        need.IsWeak.Should().BeFalse("TorchSharp 0.107 ships a hard GLIBCXX_3.4.32 requirement");

        GlibcxxVersionPatcher.Patch(patched, Version, out _).Should().Be(PatchOutcome.Patched);

        int[] changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        changed.Should().Equal(new[] { need.FlagsOffset }, "only the low byte of vna_flags may change");
        patched[need.FlagsOffset].Should().Be((byte)(original[need.FlagsOffset] | ElfFile.VerFlagWeak));
        ElfFile.TryParse(patched, out _)!.VersionNeeds().Single(n => n.Name == Version).IsWeak.Should().BeTrue();
        ElfFile.TryParse(patched, out _)!.VersionNeeds().Where(n => n.Name != Version).Should()
            .BeEquivalentTo(ElfFile.TryParse(original, out _)!.VersionNeeds().Where(n => n.Name != Version));
    }

    [Fact]
    public void Patch_IsIdempotent()
    {
        byte[] bytes = File.ReadAllBytes(OriginalLibrary);
        GlibcxxVersionPatcher.Patch(bytes, Version, out _).Should().Be(PatchOutcome.Patched);
        byte[] once = (byte[])bytes.Clone();

        GlibcxxVersionPatcher.Patch(bytes, Version, out string detail).Should().Be(PatchOutcome.AlreadyWeak);
        bytes.Should().Equal(once);
        detail.Should().Contain("already weak");
    }

    [Fact]
    public void Patch_RefusesAFileWhoseRelocationUsesASymbolOfTheVersion()
    {
        byte[] bytes = File.ReadAllBytes(OriginalLibrary);
        BindFirstRelocatedSymbolTo(bytes, Version);
        byte[] before = (byte[])bytes.Clone();

        GlibcxxVersionPatcher.Patch(bytes, Version, out string detail).Should().Be(PatchOutcome.RefusedSymbolInUse);
        bytes.Should().Equal(before, "a refused file is left exactly as it was");
        detail.Should().Contain("relocation");
    }

    [SkippableFact]
    public void Patch_LeavesAFileWithoutTheVersionUntouched()
    {
        TestEnvironment.RequireLinux("the .NET runtime's libSystem.Native.so, an ELF file");
        string runtimeLibrary = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "libSystem.Native.so");
        File.Exists(runtimeLibrary).Should().BeTrue($"the .NET runtime on Linux ships {runtimeLibrary}");
        string libstdcxx = RequireSystemLibStdCxx();
        foreach (string path in new[] { runtimeLibrary, libstdcxx })
        {
            byte[] bytes = File.ReadAllBytes(path);
            byte[] before = (byte[])bytes.Clone();
            GlibcxxVersionPatcher.Patch(bytes, Version, out _).Should().Be(PatchOutcome.VersionNotRequired, path);
            bytes.Should().Equal(before);
        }
    }

    [Fact]
    public void Patch_RejectsWhatIsNotElf()
    {
        byte[] bytes = "not a shared library"u8.ToArray();
        GlibcxxVersionPatcher.Patch(bytes, Version, out string detail).Should().Be(PatchOutcome.NotElf);
        detail.Should().Contain("not an ELF file");
        bytes.Should().Equal("not a shared library"u8.ToArray());
    }

    [Fact]
    public void PatchFile_KeepsTheTimestamp_AndNeverWritesThroughAHardLink()
    {
        string cacheCopy = Path.Combine(_dir, "cache-libLibTorchSharp.so");
        string outputCopy = Path.Combine(_dir, "libLibTorchSharp.so");
        File.Copy(OriginalLibrary, cacheCopy);
        Link(cacheCopy, outputCopy);
        DateTime written = File.GetLastWriteTimeUtc(outputCopy);

        GlibcxxVersionPatcher.PatchFile(outputCopy, Version, out _).Should().Be(PatchOutcome.Patched);

        File.ReadAllBytes(cacheCopy).Should().Equal(File.ReadAllBytes(OriginalLibrary), "the linked original must not change");
        File.GetLastWriteTimeUtc(outputCopy).Should().Be(written);
        IsWeak(outputCopy).Should().BeTrue();
    }

    [SkippableFact]
    public void DefinesVersion_ReadsVersionDefinitions()
    {
        string libstdcxx = RequireSystemLibStdCxx();

        GlibcxxVersionPatcher.DefinesVersion(libstdcxx, "GLIBCXX_3.4").Should().BeTrue();
        GlibcxxVersionPatcher.DefinesVersion(libstdcxx, "GLIBCXX_9.9.99").Should().BeFalse();
        GlibcxxVersionPatcher.DefinesVersion(MakeLibStdCxxDefining(Version), Version).Should().BeTrue();
    }

    [SkippableFact]
    public void Task_PatchesWhenTheSystemLacksTheVersion_AndLeavesFilesAloneWhenItHasIt()
    {
        RequireSystemLibStdCxx();
        string lacking = MakeLibStdCxxDefining(null);
        string having = MakeLibStdCxxDefining(Version);
        string target = Path.Combine(_dir, "libLibTorchSharp.so");

        File.Copy(OriginalLibrary, target);
        var engine = new RecordingBuildEngine();
        var task = new PatchLibTorchSharpVersionRequirement { BuildEngine = engine, Files = new ITaskItem[] { new TaskItem(target) }, SystemLibStdCxx = having };
        task.Execute().Should().BeTrue();
        IsWeak(target).Should().BeFalse();
        engine.Messages.Should().ContainSingle(m => m.Contains("provides GLIBCXX_3.4.32"));

        engine = new RecordingBuildEngine();
        task = new PatchLibTorchSharpVersionRequirement { BuildEngine = engine, Files = new ITaskItem[] { new TaskItem(target) }, SystemLibStdCxx = lacking };
        task.Execute().Should().BeTrue();
        IsWeak(target).Should().BeTrue();
        task.PatchedFiles.Should().ContainSingle();
        engine.HighImportanceMessages.Should().ContainSingle(m => m.Contains("marked its GLIBCXX_3.4.32 requirement") && m.Contains("ResidualNetPatchLibTorchSharp=false"));

        engine = new RecordingBuildEngine();
        task = new PatchLibTorchSharpVersionRequirement { BuildEngine = engine, Files = new ITaskItem[] { new TaskItem(target) }, SystemLibStdCxx = lacking };
        task.Execute().Should().BeTrue();
        engine.HighImportanceMessages.Should().BeEmpty("an already patched copy is not patched again");
    }

    [SkippableFact]
    public void BuildOutputCopy_IsPatchedOnlyWhereNeeded_AndThePackageCacheIsNot()
    {
        TestEnvironment.RequireLinux("the build patches the linux-x64 copy of libLibTorchSharp.so only on Linux");

        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        string? libstdcxx = GlibcxxVersionPatcher.FindSystemLibStdCxx();
        bool systemLacksVersion = libstdcxx is not null && !GlibcxxVersionPatcher.DefinesVersion(libstdcxx, Version);

        IsWeak(output).Should().Be(systemLacksVersion);
        IsWeak(OriginalLibrary).Should().BeFalse("the build must never patch the NuGet cache");
    }

    private static bool IsWeak(string path) =>
        ElfFile.TryParse(File.ReadAllBytes(path), out _)!.VersionNeeds().Single(n => n.Name == Version).IsWeak;

    /// <summary>A copy of the system libstdc++ whose GLIBCXX_3.4.30 definition is renamed (same length) to <paramref name="version"/>.</summary>
    private string MakeLibStdCxxDefining(string? version)
    {
        string source = GlibcxxVersionPatcher.FindSystemLibStdCxx() ?? throw new InvalidOperationException("no libstdc++ on this system");
        byte[] bytes = File.ReadAllBytes(source);
        if (GlibcxxVersionPatcher.DefinesVersion(source, Version))
        {
            Replace(bytes, Version, "GLIBCXX_3.4.99"); // A newer system: make a copy that lacks it.
        }

        if (version is not null)
        {
            Replace(bytes, "GLIBCXX_3.4.30", version);
        }

        string path = Path.Combine(_dir, $"libstdc++-{version ?? "old"}.so.6");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void Replace(byte[] bytes, string from, string to)
    {
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(from + "\0");
        byte[] replacement = System.Text.Encoding.ASCII.GetBytes(to + "\0");
        int at = bytes.AsSpan().IndexOf(needle);
        at.Should().BeGreaterThan(0, $"the library names {from}");
        replacement.CopyTo(bytes, at);
    }

    /// <summary>Rebinds the symbol of the first dynamic relocation that has one to the given needed version.</summary>
    private static void BindFirstRelocatedSymbolTo(byte[] bytes, string version)
    {
        ElfFile elf = ElfFile.TryParse(bytes, out _)!;
        ushort index = elf.VersionNeeds().Single(n => n.Name == version).VersionIndex;
        ElfFile.Section versym = elf.Sections.Single(s => s.Type == ElfFile.ShtGnuVersym);
        foreach (ElfFile.Section rel in elf.Sections.Where(s => s.Type == ElfFile.ShtRela && s.Link == versym.Link))
        {
            for (int off = rel.Offset; off < rel.Offset + rel.Size; off += 24)
            {
                int symbol = (int)(ElfFile.U64(bytes, off + 8) >> 32);
                if (symbol != 0)
                {
                    bytes[versym.Offset + (symbol * 2)] = (byte)index;
                    bytes[versym.Offset + (symbol * 2) + 1] = (byte)(index >> 8);
                    return;
                }
            }
        }

        throw new InvalidOperationException("no relocation with a symbol found");
    }

    private static void Link(string existing, string link)
    {
        using var ln = Process.Start(new ProcessStartInfo("ln", new[] { existing, link }) { UseShellExecute = false })!;
        ln.WaitForExit();
        ln.ExitCode.Should().Be(0);
    }

    private sealed class RecordingBuildEngine : IBuildEngine
    {
        public List<string> Messages { get; } = new();

        public List<string> HighImportanceMessages { get; } = new();

        public bool ContinueOnError => false;

        public int LineNumberOfTaskNode => 0;

        public int ColumnNumberOfTaskNode => 0;

        public string ProjectFileOfTaskNode => "test.proj";

        public bool BuildProjectFile(string projectFileName, string[] targetNames, System.Collections.IDictionary globalProperties, System.Collections.IDictionary targetOutputs) => true;

        public void LogCustomEvent(CustomBuildEventArgs e) => Messages.Add(e.Message ?? string.Empty);

        public void LogErrorEvent(BuildErrorEventArgs e) => Messages.Add("error: " + e.Message);

        public void LogWarningEvent(BuildWarningEventArgs e) => Messages.Add("warning: " + e.Message);

        public void LogMessageEvent(BuildMessageEventArgs e)
        {
            Messages.Add(e.Message ?? string.Empty);
            if (e.Importance == MessageImportance.High)
            {
                HighImportanceMessages.Add(e.Message ?? string.Empty);
            }
        }
    }

    /// <summary>The system's libstdc++.so.6 (an ELF file to read and copy); returns its path.</summary>
    private static string RequireSystemLibStdCxx()
    {
        string? path = GlibcxxVersionPatcher.FindSystemLibStdCxx();
        TestEnvironment.Require(path is not null, "Needs the system's libstdc++.so.6 (an ELF file to read); none was found in LD_LIBRARY_PATH or the system library folders.");
        return path!;
    }
}
