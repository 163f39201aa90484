using System;
using System.Collections.Generic;
using System.Text;

namespace ResidualNet.Build;

/// <summary>
/// A minimal, read-only view of a little-endian ELF64 file: just the sections needed to inspect
/// symbol versioning (<c>.gnu.version_r</c>, <c>.gnu.version_d</c>, <c>.gnu.version</c>) and dynamic
/// relocations. Offsets into the underlying byte array are exposed so that a caller can patch a copy.
/// </summary>
internal sealed class ElfFile
{
    internal const uint ShtRela = 4;
    internal const uint ShtRel = 9;
    internal const uint ShtGnuVerdef = 0x6ffffffd;
    internal const uint ShtGnuVerneed = 0x6ffffffe;
    internal const uint ShtGnuVersym = 0x6fffffff;

    /// <summary>The <c>VER_FLG_WEAK</c> bit of <c>vna_flags</c>.</summary>
    internal const ushort VerFlagWeak = 0x2;

    private readonly byte[] _bytes;

    private ElfFile(byte[] bytes, IReadOnlyList<Section> sections)
    {
        _bytes = bytes;
        Sections = sections;
    }

    /// <summary>Every section header of the file.</summary>
    internal IReadOnlyList<Section> Sections { get; }

    /// <summary>Parses <paramref name="bytes"/>; returns null with a reason when it is not a little-endian ELF64 file.</summary>
    internal static ElfFile? TryParse(byte[] bytes, out string reason)
    {
        reason = string.Empty;
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
        {
            reason = "not an ELF file";
            return null;
        }

        if (bytes[4] != 2 || bytes[5] != 1)
        {
            reason = "not a little-endian 64-bit ELF file";
            return null;
        }

        ulong shoff = U64(bytes, 0x28);
        ushort shentsize = U16(bytes, 0x3A);
        ushort shnum = U16(bytes, 0x3C);
        if (shentsize < 64 || shoff == 0 || shoff + ((ulong)shnum * shentsize) > (ulong)bytes.Length)
        {
            reason = "section header table missing or truncated";
            return null;
        }

        var sections = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            int h = checked((int)shoff + (i * shentsize));
            var s = new Section(
                Index: i,
                Type: U32(bytes, h + 4),
                Offset: checked((int)U64(bytes, h + 24)),
                Size: checked((int)U64(bytes, h + 32)),
                Link: U32(bytes, h + 40),
                Info: U32(bytes, h + 44),
                EntrySize: checked((int)U64(bytes, h + 56)));
            if (s.Type != 8 /* SHT_NOBITS */ && (s.Offset < 0 || s.Offset + (long)s.Size > bytes.Length))
            {
                reason = $"section {i} lies outside the file";
                return null;
            }

            sections.Add(s);
        }

        return new ElfFile(bytes, sections);
    }

    /// <summary>Every needed version (<c>Elf64_Vernaux</c>) with the file that provides it.</summary>
    internal IEnumerable<VersionNeed> VersionNeeds()
    {
        foreach (Section sec in Sections)
        {
            if (sec.Type != ShtGnuVerneed)
            {
                continue;
            }

            Section strings = Sections[(int)sec.Link];
            int entry = sec.Offset;
            for (uint n = 0; n < sec.Info; n++)
            {
                ushort count = U16(_bytes, entry + 2);
                string file = ReadString(strings, U32(_bytes, entry + 4));
                int aux = entry + (int)U32(_bytes, entry + 8);
                for (int a = 0; a < count; a++)
                {
                    yield return new VersionNeed(
                        File: file,
                        Name: ReadString(strings, U32(_bytes, aux + 8)),
                        Flags: U16(_bytes, aux + 4),
                        VersionIndex: U16(_bytes, aux + 6),
                        FlagsOffset: aux + 4);
                    uint nextAux = U32(_bytes, aux + 12);
                    if (nextAux == 0)
                    {
                        break;
                    }

                    aux += (int)nextAux;
                }

                uint next = U32(_bytes, entry + 12);
                if (next == 0)
                {
                    break;
                }

                entry += (int)next;
            }
        }
    }

    /// <summary>Every version name this file defines (<c>.gnu.version_d</c>), as a shared library such as libstdc++ does.</summary>
    internal IEnumerable<string> VersionDefinitions()
    {
        foreach (Section sec in Sections)
        {
            if (sec.Type != ShtGnuVerdef)
            {
                continue;
            }

            Section strings = Sections[(int)sec.Link];
            int entry = sec.Offset;
            for (uint n = 0; n < sec.Info; n++)
            {
                ushort auxCount = U16(_bytes, entry + 6);
                if (auxCount > 0)
                {
                    int aux = entry + (int)U32(_bytes, entry + 12);
                    yield return ReadString(strings, U32(_bytes, aux));
                }

                uint next = U32(_bytes, entry + 16);
                if (next == 0)
                {
                    break;
                }

                entry += (int)next;
            }
        }
    }

    /// <summary>
    /// The number of dynamic relocations whose symbol is bound to the version index <paramref name="versionIndex"/>
    /// (through <c>.gnu.version</c>), with the first such symbol's name.
    /// </summary>
    internal int CountRelocationsUsingVersion(ushort versionIndex, out string? firstSymbol)
    {
        firstSymbol = null;
        Section? versym = null;
        foreach (Section s in Sections)
        {
            if (s.Type == ShtGnuVersym)
            {
                versym = s;
            }
        }

        if (versym is null)
        {
            return 0;
        }

        Section dynsym = Sections[(int)versym.Value.Link];
        Section dynstr = Sections[(int)dynsym.Link];
        int count = 0;
        foreach (Section rel in Sections)
        {
            if ((rel.Type != ShtRela && rel.Type != ShtRel) || rel.Link != (uint)dynsym.Index)
            {
                continue;
            }

            int size = rel.EntrySize > 0 ? rel.EntrySize : (rel.Type == ShtRela ? 24 : 16);
            for (int off = rel.Offset; off + size <= rel.Offset + rel.Size; off += size)
            {
                uint symbol = (uint)(U64(_bytes, off + 8) >> 32);
                if (symbol == 0 || versym.Value.Offset + ((symbol + 1) * 2) > versym.Value.Offset + versym.Value.Size)
                {
                    continue;
                }

                ushort index = (ushort)(U16(_bytes, versym.Value.Offset + ((int)symbol * 2)) & 0x7fff);
                if (index == versionIndex)
                {
                    count++;
                    firstSymbol ??= ReadString(dynstr, U32(_bytes, dynsym.Offset + ((int)symbol * 24)));
                }
            }
        }

        return count;
    }

    private string ReadString(Section table, uint offset)
    {
        int start = table.Offset + (int)offset;
        int end = start;
        int limit = table.Offset + table.Size;
        while (end < limit && _bytes[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(_bytes, start, end - start);
    }

    internal static ushort U16(byte[] b, int o) => (ushort)(b[o] | (b[o + 1] << 8));

    internal static uint U32(byte[] b, int o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));

    internal static ulong U64(byte[] b, int o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);

    /// <summary>One section header.</summary>
    internal readonly record struct Section(int Index, uint Type, int Offset, int Size, uint Link, uint Info, int EntrySize);

    /// <summary>One <c>Elf64_Vernaux</c> entry; <see cref="FlagsOffset"/> is where its <c>vna_flags</c> lie in the file.</summary>
    internal readonly record struct VersionNeed(string File, string Name, ushort Flags, ushort VersionIndex, int FlagsOffset)
    {
        /// <summary>Whether the requirement is already weak.</summary>
        public bool IsWeak => (Flags & VerFlagWeak) != 0;
    }
}
