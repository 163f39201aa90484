using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.Intrinsics.X86;

namespace ResidualNet.Runtime;

/// <summary>One CPUID query: <c>(eax, ebx, ecx, edx)</c> for a leaf and sub-leaf (a fake in tests).</summary>
internal delegate (int Eax, int Ebx, int Ecx, int Edx) CpuIdFunction(int leaf, int subLeaf);

/// <summary>Reads <see cref="CpuCacheFacts"/> from CPUID, sysfs and procfs; every parser is pure so that tests can feed it fakes.</summary>
internal static class CpuCacheProbe
{
    internal const string SysfsCpuRoot = "/sys/devices/system/cpu";
    internal const string ProcCpuinfo = "/proc/cpuinfo";

    /// <summary>Reads the facts of this machine (CPUID only where the process runs on x86).</summary>
    internal static CpuCacheFacts ReadThisMachine()
    {
        CpuIdFunction? cpuid = X86Base.IsSupported ? (leaf, sub) => X86Base.CpuId(leaf, sub) : null;
        string? cpuinfo = null;
        try
        {
            if (File.Exists(ProcCpuinfo))
            {
                cpuinfo = File.ReadAllText(ProcCpuinfo);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Read(cpuid, SysfsCpuRoot, cpuinfo, Environment.ProcessorCount);
    }

    /// <summary>Combines the sources: <paramref name="cpuid"/> (null: not x86), the sysfs cpu folder, the text of <c>/proc/cpuinfo</c>.</summary>
    internal static CpuCacheFacts Read(CpuIdFunction? cpuid, string sysfsCpuRoot, string? procCpuinfo, int logicalProcessors)
    {
        var facts = new CpuCacheFacts
        {
            SysfsCpuFolderPresent = Directory.Exists(Path.Combine(sysfsCpuRoot, "cpu0")),
            SysfsDataCaches = ReadSysfs(sysfsCpuRoot),
            ProcCpuinfoCacheSizeBytes = procCpuinfo is null ? null : ParseCpuinfoCacheSize(procCpuinfo),
            LogicalProcessors = Math.Max(1, logicalProcessors),
        };
        return cpuid is null ? facts : WithCpuid(facts, cpuid);
    }

    /// <summary>Adds what CPUID says: vendor, family and model as oneDNN computes them, and the cache leaves.</summary>
    internal static CpuCacheFacts WithCpuid(CpuCacheFacts facts, CpuIdFunction cpuid)
    {
        var (maxLeaf, b0, c0, d0) = cpuid(0, 0);
        string vendor = string.Concat(Ascii(b0), Ascii(d0), Ascii(c0));
        int family = 0, model = 0;
        if (maxLeaf >= 1)
        {
            int a1 = cpuid(1, 0).Eax;
            int baseFamily = (a1 >> 8) & 0xf;
            int baseModel = (a1 >> 4) & 0xf;
            int extFamily = (a1 >> 20) & 0xff;
            int extModel = (a1 >> 16) & 0xf;
            family = baseFamily == 0xf ? baseFamily + extFamily : baseFamily;
            model = baseFamily is 0x6 or 0xf ? (extModel << 4) + baseModel : baseModel;
        }

        bool amd = vendor is "AuthenticAMD" or "HygonGenuine";
        bool intel = vendor == "GenuineIntel";
        uint maxExtended = (uint)cpuid(unchecked((int)0x80000000), 0).Eax;
        var deterministic = new List<CacheLevelInfo>();
        var legacy = new List<CacheLevelInfo>();
        if (amd && maxExtended >= 0x8000001D)
        {
            ReadDeterministicLeaf(cpuid, unchecked((int)0x8000001D), deterministic);
        }
        else if (intel && maxLeaf >= 4)
        {
            ReadDeterministicLeaf(cpuid, 4, deterministic);
        }

        if (amd && maxExtended >= 0x80000006)
        {
            int l1 = (int)(((uint)cpuid(unchecked((int)0x80000005), 0).Ecx >> 24) & 0xff);
            var (_, _, ecx6, edx6) = cpuid(unchecked((int)0x80000006), 0);
            int l2 = (int)(((uint)ecx6 >> 16) & 0xffff);
            int l3 = (int)(((uint)edx6 >> 18) & 0x3fff);
            if (l1 > 0)
            {
                legacy.Add(new CacheLevelInfo(1, l1 * 1024L, 1));
            }

            if (l2 > 0)
            {
                legacy.Add(new CacheLevelInfo(2, l2 * 1024L, 1));
            }

            if (l3 > 0)
            {
                legacy.Add(new CacheLevelInfo(3, l3 * 512L * 1024, facts.LogicalProcessors));
            }
        }

        return facts with
        {
            Vendor = vendor,
            DisplayFamily = family,
            DisplayModel = model,
            CpuidDataCaches = deterministic,
            CpuidLegacyDataCaches = legacy,
        };
    }

    /// <summary>
    /// Walks a deterministic cache parameters leaf (AMD <c>0x8000001D</c> or Intel <c>4</c>, same register layout) as
    /// Xbyak does: stop at type 0, skip instruction caches, size = ways × partitions × line size × sets (sets not
    /// counted for a fully associative cache). On CPUs that hide their caches the type is set and every other field
    /// is zero, so each size comes out as 1 byte.
    /// </summary>
    private static void ReadDeterministicLeaf(CpuIdFunction cpuid, int leaf, List<CacheLevelInfo> into)
    {
        for (int sub = 0; sub < 16 && into.Count < 10; sub++)
        {
            var (eax, ebx, ecx, _) = cpuid(leaf, sub);
            int type = eax & 0x1f;
            if (type == 0)
            {
                break;
            }

            if (type == 2)
            {
                continue;
            }

            int level = (eax >> 5) & 0x7;
            bool fullyAssociative = ((eax >> 9) & 1) != 0;
            int sharing = ((eax >> 14) & 0xfff) + 1;
            long ways = (((uint)ebx >> 22) & 0x3ff) + 1;
            long partitions = (((uint)ebx >> 12) & 0x3ff) + 1;
            long line = ((uint)ebx & 0xfff) + 1;
            long sets = (long)(uint)ecx + 1;
            long size = ways * partitions * line * (fullyAssociative ? 1 : sets);
            into.Add(new CacheLevelInfo(level == 0 ? into.Count + 1 : level, size, sharing));
        }
    }

    /// <summary>
    /// The data and unified caches of cpu0 under <paramref name="sysfsCpuRoot"/> (<c>cpu0/cache/index*/</c>: <c>level</c>,
    /// <c>type</c>, <c>size</c>, <c>shared_cpu_list</c>), by level; null when the <c>cache</c> folder is absent.
    /// </summary>
    internal static IReadOnlyList<CacheLevelInfo>? ReadSysfs(string sysfsCpuRoot)
    {
        string cacheDir = Path.Combine(sysfsCpuRoot, "cpu0", "cache");
        if (!Directory.Exists(cacheDir))
        {
            return null;
        }

        var caches = new List<CacheLevelInfo>();
        try
        {
            foreach (string index in Directory.GetDirectories(cacheDir, "index*").OrderBy(d => d, StringComparer.Ordinal))
            {
                string? type = ReadLine(Path.Combine(index, "type"));
                if (type is not ("Data" or "Unified")
                    || !int.TryParse(ReadLine(Path.Combine(index, "level")), NumberStyles.Integer, CultureInfo.InvariantCulture, out int level)
                    || ParseSize(ReadLine(Path.Combine(index, "size"))) is not { } size)
                {
                    continue;
                }

                int sharing = CountCpuList(ReadLine(Path.Combine(index, "shared_cpu_list")));
                caches.Add(new CacheLevelInfo(level, size, Math.Max(1, sharing)));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return caches.OrderBy(c => c.Level).ToList();
    }

    /// <summary>Parses the first <c>cache size : N KB</c> line of <c>/proc/cpuinfo</c> text; null when there is none.</summary>
    internal static long? ParseCpuinfoCacheSize(string cpuinfo)
    {
        foreach (string line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Trim().SequenceEqual("cache size"))
            {
                return ParseSize(line[(colon + 1)..].Replace(" ", string.Empty, StringComparison.Ordinal).Replace("B", string.Empty, StringComparison.Ordinal));
            }
        }

        return null;
    }

    /// <summary>Parses "48K", "1024K", "32M", "1024 KB" or a plain number of bytes; null when unreadable.</summary>
    internal static long? ParseSize(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        string t = text.Trim();
        long unit = 1;
        char last = char.ToUpperInvariant(t[^1]);
        if (last is 'K' or 'M' or 'G')
        {
            unit = last == 'K' ? 1024 : last == 'M' ? 1024 * 1024 : 1024L * 1024 * 1024;
            t = t[..^1].Trim();
        }

        return long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n >= 0 ? n * unit : null;
    }

    /// <summary>The number of CPUs in a list such as "0-3,8,10-11"; 0 when unreadable.</summary>
    internal static int CountCpuList(string? list)
    {
        if (string.IsNullOrWhiteSpace(list))
        {
            return 0;
        }

        int count = 0;
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                count += int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) ? 1 : 0;
            }
            else if (int.TryParse(part.AsSpan(0, dash), NumberStyles.Integer, CultureInfo.InvariantCulture, out int from)
                && int.TryParse(part.AsSpan(dash + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out int to) && to >= from)
            {
                count += to - from + 1;
            }
        }

        return count;
    }

    /// <summary>"1 B", "48 KiB", "1 MiB", "1.5 MiB".</summary>
    internal static string FormatBytes(long bytes)
    {
        if (bytes >= 1024L * 1024 * 1024 && bytes % (1024L * 1024 * 1024) == 0)
        {
            return $"{bytes / (1024L * 1024 * 1024)} GiB";
        }

        if (bytes >= 1024 * 1024)
        {
            return (bytes / (1024.0 * 1024)).ToString("0.##", CultureInfo.InvariantCulture) + " MiB";
        }

        return bytes >= 1024
            ? (bytes / 1024.0).ToString("0.##", CultureInfo.InvariantCulture) + " KiB"
            : bytes.ToString(CultureInfo.InvariantCulture) + " B";
    }

    private static string? ReadLine(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    private static string Ascii(int register) => new(
        [(char)(register & 0xff), (char)((register >> 8) & 0xff), (char)((register >> 16) & 0xff), (char)((register >> 24) & 0xff)]);
}
