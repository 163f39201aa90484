using System;
using System.Collections.Generic;
using System.Linq;

namespace ResidualNet.Runtime;

/// <summary>What the guard does once it has decided.</summary>
internal enum GuardAction
{
    /// <summary>Change nothing.</summary>
    None,

    /// <summary>Write <see cref="GuardPlan.SizesToWrite"/> into oneDNN's CPU object, then check with the canary.</summary>
    WriteCacheSizes,

    /// <summary>Turn oneDNN off in ATen.</summary>
    DisableOneDnn,
}

/// <summary>Everything the decision depends on; the native parts are null when not read (or not readable).</summary>
/// <param name="Mode">The override (<c>RESIDUALNET_ONEDNN</c>).</param>
/// <param name="IsLinux">Whether the process runs on Linux.</param>
/// <param name="IsX64">Whether the process runs on x86-64.</param>
/// <param name="Cpu">The CPU's own facts.</param>
/// <param name="OneDnn">oneDNN's CPU object as read; null when not read.</param>
/// <param name="MkldnnEnabled">ATen's oneDNN switch (<c>userEnabledMkldnn()</c>); null when its symbols are missing or not read.</param>
/// <param name="SwitchProblem">Why ATen's switch is unreachable (missing symbols), when it is.</param>
internal sealed record GuardInputs(
    OneDnnGuardMode Mode, bool IsLinux, bool IsX64, CpuCacheFacts Cpu, OneDnnCpuRecord? OneDnn, bool? MkldnnEnabled, string? SwitchProblem = null);

/// <summary>The decision: what to do, what to report, whether to run the canary afterwards.</summary>
internal sealed record GuardPlan(
    OneDnnGuardDecision Decision, GuardAction Action, string Reason, bool RunCanary,
    IReadOnlyList<CacheLevelInfo> SizesToWrite, string SizeSources);

/// <summary>The guard's decision logic: pure functions of <see cref="GuardInputs"/>, tested with fake readings.</summary>
internal static class GuardPolicy
{
    /// <summary>Whether the native facts (libtorch loaded, its symbols, oneDNN's object) are needed to decide.</summary>
    internal static bool NeedsNativeFacts(OneDnnGuardMode mode, bool isLinux, bool isX64) =>
        isLinux && (mode == OneDnnGuardMode.Off || (mode == OneDnnGuardMode.Auto && isX64));

    /// <summary>Decides. The canary is only ever asked for when oneDNN's cache sizes are known (or made) plausible, so
    /// that nothing that could crash runs to decide.</summary>
    internal static GuardPlan Decide(GuardInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var none = Array.Empty<CacheLevelInfo>();
        if (!inputs.IsLinux)
        {
            return new GuardPlan(OneDnnGuardDecision.NotApplicable, GuardAction.None,
                "not Linux: the oneDNN cache-size problem has only been seen on Linux x64", false, none, string.Empty);
        }

        if (inputs.Mode == OneDnnGuardMode.On)
        {
            return new GuardPlan(OneDnnGuardDecision.LeftAsIs, GuardAction.None,
                $"{OneDnnGuard.EnvironmentVariable}=on: oneDNN left as it is, without checks", false, none, string.Empty);
        }

        if (inputs.Mode == OneDnnGuardMode.Off)
        {
            return inputs.MkldnnEnabled is null
                ? new GuardPlan(OneDnnGuardDecision.Unresolved, GuardAction.None,
                    $"{OneDnnGuard.EnvironmentVariable}=off, but ATen's oneDNN switch is unreachable ({inputs.SwitchProblem ?? "symbols missing"})", false, none, string.Empty)
                : new GuardPlan(OneDnnGuardDecision.OneDnnDisabled, GuardAction.DisableOneDnn,
                    $"{OneDnnGuard.EnvironmentVariable}=off", false, none, string.Empty);
        }

        if (!inputs.IsX64)
        {
            return new GuardPlan(OneDnnGuardDecision.NotApplicable, GuardAction.None,
                "not x86-64: the oneDNN cache-size problem has only been seen on Linux x64", false, none, string.Empty);
        }

        if (inputs.MkldnnEnabled == false)
        {
            return new GuardPlan(OneDnnGuardDecision.AlreadyDisabled, GuardAction.None,
                "oneDNN is already off in ATen (userEnabledMkldnn() is false)", false, none, string.Empty);
        }

        var oneDnn = inputs.OneDnn;
        if (oneDnn is { IsUsable: true })
        {
            if (oneDnn.SizesPlausible)
            {
                string what = oneDnn.DataCacheLevels == 0
                    ? "oneDNN knows no cache levels and uses its own defaults"
                    : $"oneDNN's data cache sizes are plausible ({FormatSizes(oneDnn.DataCacheSizes)})";
                return new GuardPlan(OneDnnGuardDecision.Unaffected, GuardAction.None, what, true, none, string.Empty);
            }

            var (sizes, sources) = ChooseCacheSizes(inputs.Cpu, oneDnn);
            return new GuardPlan(OneDnnGuardDecision.CacheSizesCorrected, GuardAction.WriteCacheSizes,
                $"oneDNN's data cache sizes read as {FormatSizes(oneDnn.DataCacheSizes)} (sharing {string.Join(", ", oneDnn.CoresSharing)}): this CPU does not report its caches",
                true, sizes, sources);
        }

        string problem = oneDnn?.Problem ?? "not read";
        if (inputs.Cpu.CachesHidden)
        {
            string hidden = DescribeHidden(inputs.Cpu);
            return inputs.MkldnnEnabled is null
                ? new GuardPlan(OneDnnGuardDecision.Unresolved, GuardAction.None,
                    $"{hidden}, oneDNN's CPU object could not be checked ({problem}) and ATen's oneDNN switch is unreachable ({inputs.SwitchProblem ?? "symbols missing"})",
                    false, none, string.Empty)
                : new GuardPlan(OneDnnGuardDecision.OneDnnDisabled, GuardAction.DisableOneDnn,
                    $"{hidden} and oneDNN's CPU object could not be checked ({problem})", false, none, string.Empty);
        }

        return new GuardPlan(OneDnnGuardDecision.Unaffected, GuardAction.None,
            $"the CPU reports plausible caches (oneDNN's CPU object not checked: {problem})", true, none, string.Empty);
    }

    /// <summary>
    /// The sizes to write for each level whose record is implausible, from the first source that gives a plausible
    /// value for that level: sysfs, CPUID's deterministic leaf, AMD's older CPUID leaves, <c>/proc/cpuinfo</c>'s
    /// <c>cache size</c> (L2 on AMD, the last level elsewhere), then oneDNN's own defaults (32 KiB, 512 KiB per core,
    /// 1 MiB per logical processor for L3 and beyond). Level 1 is never shared (as in Xbyak).
    /// </summary>
    internal static (IReadOnlyList<CacheLevelInfo> Sizes, string Sources) ChooseCacheSizes(CpuCacheFacts cpu, OneDnnCpuRecord oneDnn)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(oneDnn);
        var sizes = new List<CacheLevelInfo>();
        var sources = new List<string>();
        bool amd = cpu.Vendor is "AuthenticAMD" or "HygonGenuine";
        int lastLevel = oneDnn.DataCacheSizes.Count;
        for (int level = 1; level <= lastLevel; level++)
        {
            long current = oneDnn.DataCacheSizes[level - 1];
            long sharing = level - 1 < oneDnn.CoresSharing.Count ? oneDnn.CoresSharing[level - 1] : 0;
            if (current >= OneDnnGuard.MinimumPlausibleCacheBytes && sharing >= 1)
            {
                continue;
            }

            CacheLevelInfo? pick = null;
            string source = "default";
            if (Plausible(cpu.SysfsDataCaches, level) is { } fromSysfs)
            {
                (pick, source) = (fromSysfs, "sysfs");
            }
            else if (Plausible(cpu.CpuidDataCaches, level) is { } fromCpuid)
            {
                (pick, source) = (fromCpuid, "CPUID");
            }
            else if (Plausible(cpu.CpuidLegacyDataCaches, level) is { } fromLegacy)
            {
                (pick, source) = (fromLegacy, "CPUID 0x80000005/6");
            }
            else if (cpu.ProcCpuinfoCacheSizeBytes is { } procBytes && procBytes >= OneDnnGuard.MinimumPlausibleCacheBytes
                && level == (amd ? 2 : Math.Max(2, lastLevel)))
            {
                (pick, source) = (new CacheLevelInfo(level, procBytes, level >= 3 ? cpu.LogicalProcessors : 1), "/proc/cpuinfo");
            }

            var chosen = pick ?? level switch
            {
                1 => new CacheLevelInfo(1, 32 * 1024, 1),
                2 => new CacheLevelInfo(2, 512 * 1024, 1),
                _ => new CacheLevelInfo(level, 1024L * 1024 * cpu.LogicalProcessors, cpu.LogicalProcessors),
            };
            chosen = chosen with { Level = level, SharedBy = level == 1 ? 1 : Math.Max(1, chosen.SharedBy) };
            sizes.Add(chosen);
            sources.Add($"{chosen} ({source})");
        }

        return (sizes, string.Join(", ", sources));
    }

    /// <summary>"1 B, 1 B, 1 B".</summary>
    internal static string FormatSizes(IEnumerable<long> sizes) => string.Join(", ", sizes.Select(CpuCacheProbe.FormatBytes));

    private static CacheLevelInfo? Plausible(IReadOnlyList<CacheLevelInfo>? caches, int level)
    {
        if (caches is null)
        {
            return null;
        }

        foreach (var c in caches)
        {
            if (c.Level == level && c.SizeBytes >= OneDnnGuard.MinimumPlausibleCacheBytes && c.SizeBytes <= uint.MaxValue)
            {
                return c;
            }
        }

        return null;
    }

    private static string DescribeHidden(CpuCacheFacts cpu)
    {
        var parts = new List<string>();
        if (cpu.CpuidDataCaches.Any(c => c.SizeBytes < OneDnnGuard.MinimumPlausibleCacheBytes))
        {
            parts.Add($"CPUID's cache leaf gives {FormatSizes(cpu.CpuidDataCaches.Select(c => c.SizeBytes))}");
        }

        if (cpu.SysfsCpuFolderPresent && cpu.SysfsDataCaches is null)
        {
            parts.Add("sysfs lists no caches for cpu0");
        }

        return "this CPU hides its caches (" + string.Join("; ", parts) + ")";
    }
}
