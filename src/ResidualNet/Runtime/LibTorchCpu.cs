using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace ResidualNet.Runtime;

/// <summary>
/// The libtorch_cpu.so mapped in this process: ATen's oneDNN switch (through its exported symbols) and oneDNN's static
/// Xbyak <c>Cpu</c> object (through its local <c>.symtab</c> symbol), each found and checked before any use.
/// Nothing here runs a computation. Every failure is reported as a problem string, never as a crash.
/// </summary>
internal sealed class LibTorchCpu
{
    internal const string LibraryFileName = "libtorch_cpu.so";
    internal const string GlobalContextSymbol = "_ZN2at13globalContextEv";
    internal const string SetUserEnabledMkldnnSymbol = "_ZN2at7Context20setUserEnabledMkldnnEb";
    internal const string UserEnabledMkldnnSymbol = "_ZNK2at7Context17userEnabledMkldnnEv";
    internal const string CpuObjectSymbol = "_ZZN4dnnl4impl3cpu3x643cpuEvE4cpu_";
    internal const string CpuObjectGuardSymbol = "_ZGVZN4dnnl4impl3cpu3x643cpuEvE4cpu_";

    /// <summary>The size of Xbyak's <c>Cpu</c> in oneDNN v3.7 (libtorch 2.10), and the offsets of its fields.</summary>
    internal const int CpuObjectSize = 144;
    internal const int DataCacheSizeOffset = 28;
    internal const int CoresSharingOffset = 68;
    internal const int DataCacheLevelsOffset = 108;
    internal const int DisplayFamilyOffset = 136;
    internal const int DisplayModelOffset = 140;
    internal const int MaxCacheLevels = 10;

    private IntPtr _context;
    private SetBoolFunction? _setEnabled;
    private GetBoolFunction? _getEnabled;

    private LibTorchCpu(string? path) => Path = path;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate IntPtr GlobalContextFunction();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetBoolFunction(IntPtr context, byte value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate byte GetBoolFunction(IntPtr context);

    /// <summary>The mapped file; null when libtorch_cpu.so is not mapped.</summary>
    internal string? Path { get; }

    /// <summary>Why ATen's switch is unreachable; null when it is reachable.</summary>
    internal string? SwitchProblem { get; private set; }

    /// <summary>Why oneDNN's CPU object cannot be used; null when it can.</summary>
    internal string? ObjectProblem { get; private set; }

    /// <summary>The address of oneDNN's CPU object (checked); zero when unusable.</summary>
    internal IntPtr ObjectAddress { get; private set; }

    /// <summary>The address of the object's guard variable; zero when not found.</summary>
    internal IntPtr GuardAddress { get; private set; }

    /// <summary>Whether ATen's oneDNN switch can be read and set.</summary>
    internal bool HasSwitch => _setEnabled is not null && _getEnabled is not null && _context != IntPtr.Zero;

    /// <summary>
    /// Finds libtorch_cpu.so in this process (libtorch must be loaded: run a TorchSharp operation first), resolves ATen's
    /// switch, and locates and checks oneDNN's CPU object against <paramref name="cpu"/>'s family and model.
    /// </summary>
    internal static LibTorchCpu Locate(CpuCacheFacts cpu)
    {
        ProcessMaps maps;
        try
        {
            maps = ProcessMaps.ReadSelf();
        }
        catch (IOException e)
        {
            return Unavailable($"cannot read /proc/self/maps: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            return Unavailable($"cannot read /proc/self/maps: {e.Message}");
        }

        if (maps.FindLibrary(LibraryFileName) is not { } mapped)
        {
            return Unavailable($"{LibraryFileName} is not mapped in this process");
        }

        var lib = new LibTorchCpu(mapped.Path);
        if (!NativeLibrary.TryLoad(mapped.Path, out IntPtr handle))
        {
            lib.SwitchProblem = lib.ObjectProblem = $"cannot open {mapped.Path}";
            return lib;
        }

        var exports = new Dictionary<string, IntPtr>(StringComparer.Ordinal);
        foreach (string name in new[] { GlobalContextSymbol, SetUserEnabledMkldnnSymbol, UserEnabledMkldnnSymbol })
        {
            if (NativeLibrary.TryGetExport(handle, name, out IntPtr address))
            {
                exports[name] = address;
            }
        }

        var missing = new[] { GlobalContextSymbol, SetUserEnabledMkldnnSymbol, UserEnabledMkldnnSymbol }.Where(n => !exports.ContainsKey(n)).ToList();
        if (missing.Count > 0)
        {
            lib.SwitchProblem = $"{string.Join(", ", missing)} not exported by {mapped.Path} (another libtorch build?)";
        }
        else
        {
            lib._context = Marshal.GetDelegateForFunctionPointer<GlobalContextFunction>(exports[GlobalContextSymbol])();
            lib._setEnabled = Marshal.GetDelegateForFunctionPointer<SetBoolFunction>(exports[SetUserEnabledMkldnnSymbol]);
            lib._getEnabled = Marshal.GetDelegateForFunctionPointer<GetBoolFunction>(exports[UserEnabledMkldnnSymbol]);
            if (lib._context == IntPtr.Zero)
            {
                lib.SwitchProblem = "at::globalContext() returned null";
            }
        }

        lib.ObjectProblem = lib.LocateObject(maps, mapped.Path, mapped.Start, exports.GetValueOrDefault(GlobalContextSymbol), cpu);
        return lib;
    }

    /// <summary>ATen's <c>userEnabledMkldnn()</c>; null when unreachable.</summary>
    internal bool? IsMkldnnEnabled() => HasSwitch ? _getEnabled!(_context) != 0 : null;

    /// <summary>ATen's <c>setUserEnabledMkldnn(enabled)</c>; returns the value read back, null when unreachable.</summary>
    internal bool? SetMkldnnEnabled(bool enabled)
    {
        if (!HasSwitch)
        {
            return null;
        }

        _setEnabled!(_context, enabled ? (byte)1 : (byte)0);
        return IsMkldnnEnabled();
    }

    /// <summary>Reads the object (for the status); the record says why it is unusable when it is.</summary>
    internal OneDnnCpuRecord ReadRecord()
    {
        if (ObjectAddress == IntPtr.Zero)
        {
            return new OneDnnCpuRecord
            {
                LibraryPath = Path,
                IsUsable = false,
                Problem = ObjectProblem ?? "not located",
                Constructed = GuardAddress == IntPtr.Zero ? null : Marshal.ReadInt64(GuardAddress) != 0,
            };
        }

        int levels = Marshal.ReadInt32(ObjectAddress, DataCacheLevelsOffset);
        return new OneDnnCpuRecord
        {
            LibraryPath = Path,
            IsUsable = true,
            Constructed = GuardAddress == IntPtr.Zero ? null : Marshal.ReadInt64(GuardAddress) != 0,
            DisplayFamily = Marshal.ReadInt32(ObjectAddress, DisplayFamilyOffset),
            DisplayModel = Marshal.ReadInt32(ObjectAddress, DisplayModelOffset),
            DataCacheLevels = levels,
            DataCacheSizes = Enumerable.Range(0, levels).Select(i => (long)(uint)Marshal.ReadInt32(ObjectAddress, DataCacheSizeOffset + (4 * i))).ToList(),
            CoresSharing = Enumerable.Range(0, levels).Select(i => (long)(uint)Marshal.ReadInt32(ObjectAddress, CoresSharingOffset + (4 * i))).ToList(),
        };
    }

    /// <summary>Writes sizes and sharing counts into the object (levels must be within what it knows); returns the record read back.</summary>
    internal OneDnnCpuRecord WriteCacheSizes(IReadOnlyList<CacheLevelInfo> sizes)
    {
        if (ObjectAddress == IntPtr.Zero)
        {
            throw new InvalidOperationException($"oneDNN's CPU object is not usable: {ObjectProblem}");
        }

        int levels = Marshal.ReadInt32(ObjectAddress, DataCacheLevelsOffset);
        foreach (var size in sizes)
        {
            if (size.Level < 1 || size.Level > levels || size.SizeBytes < 1 || size.SizeBytes > uint.MaxValue || size.SharedBy < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(sizes), size, $"cache level out of range for an object with {levels} levels");
            }
        }

        foreach (var size in sizes)
        {
            // Size first: a reader that sees the new size with the old sharing count still divides by a non-zero number.
            Marshal.WriteInt32(ObjectAddress, DataCacheSizeOffset + (4 * (size.Level - 1)), unchecked((int)(uint)size.SizeBytes));
            Marshal.WriteInt32(ObjectAddress, CoresSharingOffset + (4 * (size.Level - 1)), size.SharedBy);
        }

        return ReadRecord();
    }

    private static LibTorchCpu Unavailable(string problem) => new(null) { SwitchProblem = problem, ObjectProblem = problem };

    /// <summary>Finds the object and checks everything before it may be read; returns the problem, or null when usable.</summary>
    private string? LocateObject(ProcessMaps maps, string path, ulong mappedStart, IntPtr globalContextAddress, CpuCacheFacts cpu)
    {
        ElfImage image;
        IReadOnlyDictionary<string, ElfImage.Symbol> symbols;
        try
        {
            image = ElfImage.Read(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return $"cannot read {path}: {e.Message}";
        }

        ulong loadBias = mappedStart - image.FirstLoadAddress();
        try
        {
            var queries = new List<ElfImage.SymbolQuery>
            {
                new(CpuObjectSymbol, ElfImage.SttObject, Size: CpuObjectSize),
                new(CpuObjectGuardSymbol, ElfImage.SttObject, Size: 8),
            };
            if (globalContextAddress != IntPtr.Zero)
            {
                queries.Add(new(GlobalContextSymbol, ElfImage.SttFunc, Value: (ulong)globalContextAddress - loadBias));
            }

            symbols = image.FindSymbols(queries);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return $"cannot read the symbols of {path}: {e.Message}";
        }

        if (globalContextAddress == IntPtr.Zero)
        {
            return $"no exported symbol to check the load address with ({GlobalContextSymbol} missing)";
        }

        if (!symbols.ContainsKey(GlobalContextSymbol))
        {
            return $"the load address from /proc/self/maps (0x{loadBias:x}) does not match {GlobalContextSymbol}'s address (0x{(ulong)globalContextAddress:x}) minus its value in .symtab";
        }

        if (!symbols.TryGetValue(CpuObjectSymbol, out var obj))
        {
            return $"{CpuObjectSymbol} ({CpuObjectSize} bytes) not in .symtab (another oneDNN version?)";
        }

        (byte[] Id, ulong VirtualAddress)? buildIdNote;
        try
        {
            buildIdNote = image.ReadBuildId();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return $"cannot read the build id of {path}: {e.Message}";
        }

        if (buildIdNote is { } buildId)
        {
            ulong at = loadBias + buildId.VirtualAddress;
            if (!maps.IsMapped(at, (ulong)buildId.Id.Length, writable: false))
            {
                return "the build id note is not mapped where expected";
            }

            for (int i = 0; i < buildId.Id.Length; i++)
            {
                if (Marshal.ReadByte(checked((IntPtr)(long)(at + (ulong)i))) != buildId.Id[i])
                {
                    return $"{path} on disk is not the file loaded (build ids differ)";
                }
            }
        }

        ulong objectAddress = loadBias + obj.Value;
        if (image.WritableSegmentHolding(obj.Value, CpuObjectSize) is null || !maps.IsMapped(objectAddress, CpuObjectSize, writable: true))
        {
            return "the object does not lie in writable mapped memory";
        }

        if (symbols.TryGetValue(CpuObjectGuardSymbol, out var guard) && maps.IsMapped(loadBias + guard.Value, 8, writable: false))
        {
            GuardAddress = checked((IntPtr)(long)(loadBias + guard.Value));
            if (Marshal.ReadInt64(GuardAddress) == 0)
            {
                return "oneDNN has not built its CPU object yet (guard variable is 0)";
            }
        }

        IntPtr address = checked((IntPtr)(long)objectAddress);
        int family = Marshal.ReadInt32(address, DisplayFamilyOffset);
        int model = Marshal.ReadInt32(address, DisplayModelOffset);
        int levels = Marshal.ReadInt32(address, DataCacheLevelsOffset);
        if (family != cpu.DisplayFamily || model != cpu.DisplayModel)
        {
            return $"layout not recognised: family/model in the object {family}/{model}, CPUID says {cpu.DisplayFamily}/{cpu.DisplayModel}";
        }

        if (levels < 0 || levels > MaxCacheLevels)
        {
            return $"layout not recognised: {levels} data cache levels";
        }

        ObjectAddress = address;
        return null;
    }
}
