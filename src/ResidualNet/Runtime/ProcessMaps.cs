using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace ResidualNet.Runtime;

/// <summary>The memory mappings of this process, from <c>/proc/self/maps</c> (Linux).</summary>
internal sealed class ProcessMaps
{
    private ProcessMaps(IReadOnlyList<Mapping> mappings) => Mappings = mappings;

    /// <summary>Every mapping, in address order.</summary>
    internal IReadOnlyList<Mapping> Mappings { get; }

    /// <summary>Reads this process's mappings.</summary>
    internal static ProcessMaps ReadSelf() => Parse(File.ReadAllLines("/proc/self/maps"));

    /// <summary>Parses the lines of a <c>maps</c> file (<c>start-end perms offset dev inode [path]</c>); malformed lines are skipped.</summary>
    internal static ProcessMaps Parse(IEnumerable<string> lines)
    {
        var mappings = new List<Mapping>();
        foreach (string line in lines)
        {
            string[] parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 5)
            {
                continue;
            }

            int dash = parts[0].IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0
                || !ulong.TryParse(parts[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong start)
                || !ulong.TryParse(parts[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong end)
                || !ulong.TryParse(parts[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong offset))
            {
                continue;
            }

            string path = parts.Length == 6 ? parts[5].Trim() : string.Empty;
            mappings.Add(new Mapping(start, end, parts[1], offset, path));
        }

        return new ProcessMaps(mappings);
    }

    /// <summary>
    /// The file mapped whose name is <paramref name="fileName"/> (a shared library), with the address its file offset 0
    /// is mapped at; null when no such file is mapped, or when it was deleted or replaced after loading.
    /// </summary>
    internal (string Path, ulong Start)? FindLibrary(string fileName)
    {
        var first = Mappings.FirstOrDefault(m => m.Offset == 0 && Path.GetFileName(m.Path) == fileName);
        return first.Path is { Length: > 0 } ? (first.Path, first.Start) : null;
    }

    /// <summary>Whether <c>[address, address + length)</c> lies in mappings that are readable (and writable when asked).</summary>
    internal bool IsMapped(ulong address, ulong length, bool writable)
    {
        ulong at = address;
        ulong end = address + length;
        while (at < end)
        {
            var mapping = Mappings.FirstOrDefault(m => m.Start <= at && at < m.End);
            if (mapping.End == 0 || mapping.Permissions.Length < 2 || mapping.Permissions[0] != 'r' || (writable && mapping.Permissions[1] != 'w'))
            {
                return false;
            }

            at = mapping.End;
        }

        return true;
    }

    /// <summary>One line of the maps file.</summary>
    internal readonly record struct Mapping(ulong Start, ulong End, string Permissions, ulong Offset, string Path);
}
