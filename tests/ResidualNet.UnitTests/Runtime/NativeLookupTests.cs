using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using FluentAssertions;
using ResidualNet.Runtime;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Runtime;

/// <summary>How the guard finds oneDNN's CPU object: /proc/self/maps and the .symtab of libtorch_cpu.so.</summary>
public class NativeLookupTests
{
    private static string LibTorchCpu => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libtorch_cpu.so");

    [Fact]
    public void Maps_AreParsed_LibrariesFound_AndRangesChecked()
    {
        var maps = ProcessMaps.Parse(
        [
            "7f0391e00000-7f03a720f000 r-xp 00000000 fe:00 5318873    /opt/lib/libtorch_cpu.so",
            "7f03a7210000-7f03a7562000 rw-p 1540f000 fe:00 5318873    /opt/lib/libtorch_cpu.so",
            "7f03a7562000-7f03a7675000 rw-p 00000000 00:00 0 ",
            "7f03b0000000-7f03b0001000 r--p 00000000 fe:00 77         /opt/lib/libtorch_cpu.so.bak (deleted)",
            "garbage",
        ]);
        maps.Mappings.Should().HaveCount(4);
        maps.FindLibrary("libtorch_cpu.so").Should().Be(("/opt/lib/libtorch_cpu.so", 0x7f0391e00000UL));
        maps.FindLibrary("libc10.so").Should().BeNull();
        maps.IsMapped(0x7f03a7561ff0, 0x20, writable: true).Should().BeTrue("the range spans the file's rw mapping and the anonymous bss after it");
        maps.IsMapped(0x7f0391e00000, 16, writable: true).Should().BeFalse("that mapping is not writable");
        maps.IsMapped(0x7f03a7674ff0, 0x20, writable: false).Should().BeFalse("the range runs past the last mapping");
    }

    [SkippableFact]
    public void Symtab_OfTheShippedLibTorch_HoldsTheObjectItsGuardAndTheExportedContext()
    {
        TestEnvironment.Require(File.Exists(LibTorchCpu), $"Needs {LibTorchCpu} (a Linux x64 build output).");
        var image = ElfImage.Read(LibTorchCpu);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var symbols = image.FindSymbols(
        [
            new(ResidualNet.Runtime.LibTorchCpu.CpuObjectSymbol, ElfImage.SttObject, Size: 144),
            new(ResidualNet.Runtime.LibTorchCpu.CpuObjectGuardSymbol, ElfImage.SttObject, Size: 8),
        ]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        var obj = symbols[ResidualNet.Runtime.LibTorchCpu.CpuObjectSymbol];
        var guard = symbols[ResidualNet.Runtime.LibTorchCpu.CpuObjectGuardSymbol];
        obj.Size.Should().Be(144);
        obj.Binding.Should().Be(0, "a LOCAL symbol, absent from the dynamic table");
        guard.Size.Should().Be(8);
        image.WritableSegmentHolding(obj.Value, 144).Should().NotBeNull();
        allocated.Should().BeLessThan(16L << 20, $"only the symbol table is streamed, not the {new FileInfo(LibTorchCpu).Length >> 20} MiB file");
        image.ReadBuildId().Should().NotBeNull();
    }

    [Fact]
    public void NotAnElfFile_IsRejectedWithAReason()
    {
        using var folder = new TempFolder();
        string path = folder.File("not-elf.so");
        File.WriteAllBytes(path, new byte[128]);
        var act = () => ElfImage.Read(path);
        act.Should().Throw<InvalidDataException>().WithMessage("*not an ELF file*");
    }

    [SkippableFact]
    public void InThisProcess_TheObjectIsFound_AndItsLayoutMatchesCpuid()
    {
        TestEnvironment.Require(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64, "Needs Linux x64: libtorch_cpu.so's oneDNN object.");
        OneDnnGuard.Ensure();
        var cpu = CpuCacheProbe.ReadThisMachine();
        var lib = ResidualNet.Runtime.LibTorchCpu.Locate(cpu);
        lib.ObjectProblem.Should().BeNull();
        lib.SwitchProblem.Should().BeNull();
        var record = lib.ReadRecord();
        record.IsUsable.Should().BeTrue();
        record.Constructed.Should().BeTrue();
        (record.DisplayFamily, record.DisplayModel).Should().Be((cpu.DisplayFamily, cpu.DisplayModel));
        record.DataCacheLevels.Should().BeInRange(0, 10);
        record.SizesPlausible.Should().BeTrue("the guard has run in this process");
        lib.IsMkldnnEnabled().Should().NotBeNull();
    }
}
