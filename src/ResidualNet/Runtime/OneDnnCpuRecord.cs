using System.Collections.Generic;
using System.Linq;

namespace ResidualNet.Runtime;

/// <summary>
/// What the <see cref="OneDnnGuard"/> read in oneDNN's own description of the CPU: the static Xbyak <c>Cpu</c> object
/// <c>dnnl::impl::cpu::x64::cpu()::cpu_</c> inside libtorch_cpu.so (found through the library's <c>.symtab</c>),
/// from which oneDNN sizes its blocking. Fields are as the guard first read them, before any change.
/// </summary>
public sealed record OneDnnCpuRecord
{
    /// <summary>The libtorch_cpu.so mapped in this process; null when none was found.</summary>
    public string? LibraryPath { get; internal init; }

    /// <summary>Whether the object's symbol (and its layout check) were found and passed; see <see cref="Problem"/> when false.</summary>
    public bool IsUsable { get; internal init; }

    /// <summary>Why the object cannot be used (symbol missing, layout not recognised, not yet built...); null when usable.</summary>
    public string? Problem { get; internal init; }

    /// <summary>Whether the object's guard variable says it has been built (null when the guard variable was not found).</summary>
    public bool? Constructed { get; internal init; }

    /// <summary>The CPU family stored in the object (<c>displayFamily</c>), compared with CPUID's as a layout check.</summary>
    public int DisplayFamily { get; internal init; }

    /// <summary>The CPU model stored in the object (<c>displayModel</c>), compared with CPUID's as a layout check.</summary>
    public int DisplayModel { get; internal init; }

    /// <summary>The number of data cache levels oneDNN knows (<c>dataCacheLevels_</c>); 0 makes oneDNN use its own defaults.</summary>
    public int DataCacheLevels { get; internal init; }

    /// <summary>oneDNN's data cache sizes in bytes, one per level (<c>dataCacheSize_</c>).</summary>
    public IReadOnlyList<long> DataCacheSizes { get; internal init; } = [];

    /// <summary>How many cores oneDNN thinks share each level (<c>coresSharignDataCache_</c>); oneDNN divides the size by it.</summary>
    public IReadOnlyList<long> CoresSharing { get; internal init; } = [];

    /// <summary>True when every known level has at least <see cref="OneDnnGuard.MinimumPlausibleCacheBytes"/> and a
    /// non-zero sharing count (or when no level is known: oneDNN then uses its defaults).</summary>
    public bool SizesPlausible =>
        DataCacheSizes.All(s => s >= OneDnnGuard.MinimumPlausibleCacheBytes) && CoresSharing.All(s => s >= 1);
}
