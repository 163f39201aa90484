using System.Collections.Generic;
using System.Linq;

namespace ResidualNet.Runtime;

/// <summary>
/// What this machine says about its CPU's data caches, from every source the <see cref="OneDnnGuard"/> reads
/// without touching libtorch: the CPUID instruction and, on Linux, sysfs and <c>/proc/cpuinfo</c>.
/// </summary>
public sealed record CpuCacheFacts
{
    /// <summary>The CPUID vendor string ("AuthenticAMD", "GenuineIntel", ...); empty where CPUID is unavailable.</summary>
    public string Vendor { get; internal init; } = string.Empty;

    /// <summary>The CPU family as CPUID leaf 1 gives it (base plus extended family for family 15), as oneDNN computes it; 0 when unknown.</summary>
    public int DisplayFamily { get; internal init; }

    /// <summary>The CPU model as CPUID leaf 1 gives it (with the extended model for families 6 and 15), as oneDNN computes it; 0 when unknown.</summary>
    public int DisplayModel { get; internal init; }

    /// <summary>
    /// The data and unified caches computed from CPUID's deterministic cache leaves (AMD <c>0x8000001D</c>, Intel
    /// <c>4</c>) exactly as oneDNN's Xbyak computes them (ways × partitions × line size × sets); sharing is the
    /// number of logical processors the leaf says share the cache. Empty when the CPU has no such leaf.
    /// On the affected machines every size comes out as 1 byte.
    /// </summary>
    public IReadOnlyList<CacheLevelInfo> CpuidDataCaches { get; internal init; } = [];

    /// <summary>The L1 data, L2 and L3 sizes from AMD's older leaves <c>0x80000005</c> and <c>0x80000006</c>; empty on other vendors or when they report nothing.</summary>
    public IReadOnlyList<CacheLevelInfo> CpuidLegacyDataCaches { get; internal init; } = [];

    /// <summary>Whether <c>/sys/devices/system/cpu/cpu0</c> exists (Linux with sysfs mounted).</summary>
    public bool SysfsCpuFolderPresent { get; internal init; }

    /// <summary>The data and unified caches listed under <c>/sys/devices/system/cpu/cpu0/cache</c> (sharing: the number
    /// of CPUs in <c>shared_cpu_list</c>); null when that folder is absent, as on the affected machines.</summary>
    public IReadOnlyList<CacheLevelInfo>? SysfsDataCaches { get; internal init; }

    /// <summary>The first <c>cache size</c> line of <c>/proc/cpuinfo</c>, in bytes (the L2 size per core on AMD, the
    /// last-level cache on Intel); null when absent.</summary>
    public long? ProcCpuinfoCacheSizeBytes { get; internal init; }

    /// <summary>The number of logical processors this process may use (<see cref="System.Environment.ProcessorCount"/>).</summary>
    public int LogicalProcessors { get; internal init; } = 1;

    /// <summary>
    /// True when the facts say the CPU hides its caches: a CPUID cache size below
    /// <see cref="OneDnnGuard.MinimumPlausibleCacheBytes"/>, or sysfs present without a <c>cache</c> folder for cpu0.
    /// </summary>
    public bool CachesHidden =>
        CpuidDataCaches.Any(c => c.SizeBytes < OneDnnGuard.MinimumPlausibleCacheBytes)
        || (SysfsCpuFolderPresent && SysfsDataCaches is null);
}
