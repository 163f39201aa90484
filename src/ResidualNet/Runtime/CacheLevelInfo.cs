namespace ResidualNet.Runtime;

/// <summary>One level of data (or unified) cache, as one source reports it.</summary>
/// <param name="Level">The cache level, from 1.</param>
/// <param name="SizeBytes">Its size in bytes (for the whole cache, not per core).</param>
/// <param name="SharedBy">How many cores (or logical processors, depending on the source) share it; at least 1.</param>
public readonly record struct CacheLevelInfo(int Level, long SizeBytes, int SharedBy)
{
    /// <summary>"L2 1 MiB" or "L3 32 MiB shared by 2".</summary>
    /// <returns>A short description.</returns>
    public override string ToString() => SharedBy > 1
        ? $"L{Level} {CpuCacheProbe.FormatBytes(SizeBytes)} shared by {SharedBy}"
        : $"L{Level} {CpuCacheProbe.FormatBytes(SizeBytes)}";
}
