using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;

namespace ResidualNet.Benchmarks;

/// <summary>Resident memory of a process, from <c>/proc/&lt;pid&gt;/status</c> (Linux).</summary>
/// <param name="ResidentBytes">Current resident set size (<c>VmRSS</c>), in bytes.</param>
/// <param name="PeakResidentBytes">Peak resident set size since start or since the last
/// <see cref="ProcessMemory.TryResetPeak()"/> (<c>VmHWM</c>), in bytes.</param>
public readonly record struct ProcessMemorySnapshot(long ResidentBytes, long PeakResidentBytes);

/// <summary>
/// Measures native memory (what libtorch allocates lives outside the managed heap, so the GC's numbers miss it).
/// </summary>
/// <remarks>
/// <para>
/// On Linux the kernel reports the resident set size (<c>VmRSS</c>) and its high-water mark (<c>VmHWM</c>) per
/// process; writing <c>5</c> to <c>/proc/&lt;pid&gt;/clear_refs</c> resets the high-water mark to the current
/// size, so <c>peak - resident-at-reset</c> after a piece of work is the memory that work needed at its peak.
/// The allocator may keep freed memory (glibc does for blocks below its mmap threshold, which grows after large
/// frees), so a second run of the same work can show a smaller delta: compare runs made in the same way.
/// </para>
/// <para>
/// Elsewhere (Windows, macOS) <see cref="IsSupported"/> is false and the methods return null / false.
/// TorchSharp 0.107 exposes no CUDA memory statistics (<c>torch.cuda</c> has only availability, device count,
/// seeding and synchronisation), so GPU memory cannot be measured from C# with it.
/// </para>
/// </remarks>
public static class ProcessMemory
{
    /// <summary>Whether this process's <c>/proc/self/status</c> exists (Linux).</summary>
    public static bool IsSupported => File.Exists("/proc/self/status");

    /// <summary>Reads the current process's resident and peak resident memory.</summary>
    /// <returns>The snapshot, or null where <see cref="IsSupported"/> is false.</returns>
    public static ProcessMemorySnapshot? Read() => ReadStatus("/proc/self/status");

    /// <summary>Reads another process's resident and peak resident memory (a benchmark child process, say).</summary>
    /// <param name="processId">The process id.</param>
    /// <returns>The snapshot, or null when the process's status cannot be read.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processId"/> is not positive.</exception>
    public static ProcessMemorySnapshot? Read(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        return ReadStatus($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/status");
    }

    /// <summary>Resets the current process's peak (<c>VmHWM</c>) to its current resident size.</summary>
    /// <returns>True when the kernel accepted the reset.</returns>
    public static bool TryResetPeak() => TryWriteClearRefs("/proc/self/clear_refs");

    /// <summary>Resets another process's peak (<c>VmHWM</c>) to its current resident size.</summary>
    /// <param name="processId">The process id.</param>
    /// <returns>True when the kernel accepted the reset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processId"/> is not positive.</exception>
    public static bool TryResetPeak(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        return TryWriteClearRefs($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/clear_refs");
    }

    /// <summary>
    /// Runs <paramref name="work"/> and returns how far the resident memory rose above its level at the start
    /// (peak minus resident before), in bytes; null where the peak cannot be reset or read. A full garbage
    /// collection with finalizers runs first, so that native memory of unreachable tensors is released before the
    /// baseline is taken rather than during the work (which would hide part of the work's peak); then, with glibc,
    /// <c>malloc_trim(0)</c> returns the pages of free heap blocks to the kernel, so that work reusing those blocks
    /// shows up in the resident size instead of hiding in memory that was already resident.
    /// </summary>
    /// <param name="work">The work to measure.</param>
    /// <returns>The peak increase in bytes, or null.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is null.</exception>
    public static long? MeasurePeakIncrease(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        TrimNativeHeap();
        if (!TryResetPeak() || Read() is not { } before)
        {
            work();
            return null;
        }

        work();
        return Read() is { } after ? after.PeakResidentBytes - before.ResidentBytes : null;
    }

    private static void TrimNativeHeap()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            return;
        }

        try
        {
            _ = NativeMethods.malloc_trim(UIntPtr.Zero);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl, for instance): nothing to trim.
        }
    }

    private static bool TryWriteClearRefs(string path)
    {
        try
        {
            File.WriteAllText(path, "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static ProcessMemorySnapshot? ReadStatus(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        long? rss = null, hwm = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = ParseKilobytes(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                hwm = ParseKilobytes(line);
            }
        }

        return rss is { } r && hwm is { } h ? new ProcessMemorySnapshot(r, Math.Max(h, r)) : null;
    }

    private static long ParseKilobytes(string line)
    {
        // "VmHWM:\t  123456 kB"
        var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture) * 1024;
    }
}

internal static class NativeMethods
{
    [DllImport("libc", EntryPoint = "malloc_trim")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static extern int malloc_trim(UIntPtr pad);
}
