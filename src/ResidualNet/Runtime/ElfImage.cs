using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace ResidualNet.Runtime;

/// <summary>
/// A read-only view of a little-endian ELF64 shared library on disk, for finding a few symbols in its
/// <c>.symtab</c> without loading the file: only the headers, the symbol table (streamed in chunks) and the names
/// of the symbols that pass a cheap filter (type, size or value) are read. libtorch_cpu.so is about 460 MB, its
/// <c>.symtab</c> 13 MB and its <c>.strtab</c> 79 MB, so reading the names one by one for a few thousand
/// candidates costs far less than reading the string table.
/// </summary>
/// <remarks>
/// The build task (<c>src/ResidualNet.Build/ElfFile.cs</c>) has its own reader, which holds a whole (small) file in
/// memory to patch it; that project targets netstandard2.0 for MSBuild and is not a run-time dependency, so this
/// reader is separate and needs neither.
/// </remarks>
internal sealed class ElfImage
{
    internal const uint PtLoad = 1;
    internal const uint PtNote = 4;
    internal const uint PfWrite = 2;
    internal const uint ShtSymtab = 2;
    internal const byte SttObject = 1;
    internal const byte SttFunc = 2;
    private const int SymbolEntrySize = 24;

    private ElfImage(string path, IReadOnlyList<ProgramHeader> programHeaders, IReadOnlyList<SectionHeader> sections)
    {
        Path = path;
        ProgramHeaders = programHeaders;
        Sections = sections;
    }

    /// <summary>The file.</summary>
    internal string Path { get; }

    /// <summary>Every program header (segments).</summary>
    internal IReadOnlyList<ProgramHeader> ProgramHeaders { get; }

    /// <summary>Every section header.</summary>
    internal IReadOnlyList<SectionHeader> Sections { get; }

    /// <summary>Reads the headers of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a little-endian ELF64 file or its headers are truncated.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    internal static ElfImage Read(string path)
    {
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(file);
        byte[] header = ReadExactly(file, 0, 64, length, "ELF header");
        if (header[0] != 0x7f || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F')
        {
            throw new InvalidDataException($"{path} is not an ELF file.");
        }

        if (header[4] != 2 || header[5] != 1)
        {
            throw new InvalidDataException($"{path} is not a little-endian 64-bit ELF file.");
        }

        ulong phoff = U64(header, 0x20);
        ulong shoff = U64(header, 0x28);
        int phentsize = U16(header, 0x36);
        int phnum = U16(header, 0x38);
        int shentsize = U16(header, 0x3A);
        int shnum = U16(header, 0x3C);
        if (phentsize < 56 || shentsize < 64)
        {
            throw new InvalidDataException($"{path}: unexpected ELF header entry sizes ({phentsize}, {shentsize}).");
        }

        byte[] ph = ReadExactly(file, phoff, phnum * phentsize, length, "program headers");
        var programHeaders = new List<ProgramHeader>(phnum);
        for (int i = 0; i < phnum; i++)
        {
            int o = i * phentsize;
            programHeaders.Add(new ProgramHeader(
                Type: U32(ph, o), Flags: U32(ph, o + 4), Offset: U64(ph, o + 8), VirtualAddress: U64(ph, o + 16),
                FileSize: U64(ph, o + 32), MemorySize: U64(ph, o + 40), Align: U64(ph, o + 48)));
        }

        byte[] sh = ReadExactly(file, shoff, shnum * shentsize, length, "section headers");
        var sections = new List<SectionHeader>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            int o = i * shentsize;
            sections.Add(new SectionHeader(
                Index: i, Type: U32(sh, o + 4), Address: U64(sh, o + 16), Offset: U64(sh, o + 24), Size: U64(sh, o + 32),
                Link: U32(sh, o + 40), EntrySize: U64(sh, o + 56)));
        }

        return new ElfImage(path, programHeaders, sections);
    }

    /// <summary>
    /// Finds the symbols that <paramref name="queries"/> ask for in the static symbol table (<c>.symtab</c>, which
    /// also holds the local symbols that the dynamic table lacks). A symbol's name is read only when its type
    /// matches a query and its size or value matches that query's.
    /// </summary>
    /// <returns>The symbols found, by name; a name that is missing was not found.</returns>
    /// <exception cref="InvalidDataException">The file has no <c>.symtab</c> (a stripped build) or it is malformed.</exception>
    internal IReadOnlyDictionary<string, Symbol> FindSymbols(IReadOnlyList<SymbolQuery> queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        SectionHeader? symtab = null;
        foreach (var section in Sections)
        {
            if (section.Type == ShtSymtab)
            {
                symtab = section;
                break;
            }
        }

        if (symtab is null)
        {
            throw new InvalidDataException($"{Path} has no .symtab section (a stripped library).");
        }

        if (symtab.Value.Link >= Sections.Count)
        {
            throw new InvalidDataException($"{Path}: .symtab links to a missing string table.");
        }

        SectionHeader strtab = Sections[(int)symtab.Value.Link];
        var found = new Dictionary<string, Symbol>(StringComparer.Ordinal);
        int longestName = 0;
        var wanted = new byte[queries.Count][];
        for (int q = 0; q < queries.Count; q++)
        {
            wanted[q] = Encoding.ASCII.GetBytes(queries[q].Name);
            longestName = Math.Max(longestName, wanted[q].Length);
        }

        using SafeFileHandle file = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(file);
        ulong end = symtab.Value.Offset + symtab.Value.Size;
        if (end > (ulong)length || strtab.Offset + strtab.Size > (ulong)length)
        {
            throw new InvalidDataException($"{Path}: the symbol or string table lies outside the file.");
        }

        var chunk = new byte[SymbolEntrySize * 43690]; // about 1 MiB
        var name = new byte[longestName + 1];
        for (ulong at = symtab.Value.Offset; at < end && found.Count < queries.Count;)
        {
            int count = (int)Math.Min((ulong)chunk.Length, end - at) / SymbolEntrySize * SymbolEntrySize;
            if (count == 0)
            {
                break;
            }

            int read = RandomAccess.Read(file, chunk.AsSpan(0, count), (long)at);
            if (read < count)
            {
                throw new InvalidDataException($"{Path}: short read in .symtab.");
            }

            for (int o = 0; o < count; o += SymbolEntrySize)
            {
                uint nameOffset = U32(chunk, o);
                byte info = chunk[o + 4];
                byte type = (byte)(info & 0xf);
                ulong value = U64(chunk, o + 8);
                ulong size = U64(chunk, o + 16);
                for (int q = 0; q < queries.Count; q++)
                {
                    var query = queries[q];
                    if (type != query.Type || (query.Size is { } s && s != size) || (query.Value is { } v && v != value)
                        || found.ContainsKey(query.Name) || nameOffset >= strtab.Size)
                    {
                        continue;
                    }

                    int want = wanted[q].Length + 1;
                    int got = RandomAccess.Read(file, name.AsSpan(0, want), (long)(strtab.Offset + nameOffset));
                    if (got == want && name[want - 1] == 0 && name.AsSpan(0, want - 1).SequenceEqual(wanted[q]))
                    {
                        found[query.Name] = new Symbol(query.Name, value, size, type, (byte)(info >> 4), U16(chunk, o + 6));
                    }
                }
            }

            at += (ulong)count;
        }

        return found;
    }

    /// <summary>The GNU build id (the descriptor of the <c>NT_GNU_BUILD_ID</c> note), with the note descriptor's virtual address; null when the file has none.</summary>
    internal (byte[] Id, ulong VirtualAddress)? ReadBuildId()
    {
        using SafeFileHandle file = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(file);
        foreach (var ph in ProgramHeaders)
        {
            if (ph.Type != PtNote || ph.FileSize > 1 << 16 || ph.Offset + ph.FileSize > (ulong)length)
            {
                continue;
            }

            byte[] notes = ReadExactly(file, ph.Offset, (int)ph.FileSize, length, "notes");
            for (int o = 0; o + 12 <= notes.Length;)
            {
                int nameSize = (int)U32(notes, o);
                int descSize = (int)U32(notes, o + 4);
                uint type = U32(notes, o + 8);
                int nameAt = o + 12;
                int descAt = nameAt + Align4(nameSize);
                if (nameSize < 0 || descSize < 0 || descAt + descSize > notes.Length)
                {
                    break;
                }

                if (type == 3 && nameSize == 4 && notes.AsSpan(nameAt, 4).SequenceEqual("GNU\0"u8))
                {
                    return (notes.AsSpan(descAt, descSize).ToArray(), ph.VirtualAddress + (ulong)descAt);
                }

                o = descAt + Align4(descSize);
            }
        }

        return null;
    }

    /// <summary>The writable loadable segment that holds <c>[virtualAddress, virtualAddress + size)</c>, if any.</summary>
    internal ProgramHeader? WritableSegmentHolding(ulong virtualAddress, ulong size)
    {
        foreach (var ph in ProgramHeaders)
        {
            if (ph.Type == PtLoad && (ph.Flags & PfWrite) != 0
                && virtualAddress >= ph.VirtualAddress && virtualAddress + size <= ph.VirtualAddress + ph.MemorySize)
            {
                return ph;
            }
        }

        return null;
    }

    /// <summary>The lowest page-aligned virtual address of the file's first loadable segment (file offset 0 maps there).</summary>
    internal ulong FirstLoadAddress()
    {
        foreach (var ph in ProgramHeaders)
        {
            if (ph.Type == PtLoad)
            {
                ulong align = ph.Align > 1 ? ph.Align : 0x1000;
                return (ph.VirtualAddress - ph.Offset) & ~(align - 1);
            }
        }

        return 0;
    }

    private static int Align4(int n) => (n + 3) & ~3;

    private static byte[] ReadExactly(SafeFileHandle file, ulong offset, int count, long length, string what)
    {
        if (count < 0 || offset + (ulong)count > (ulong)length)
        {
            throw new InvalidDataException($"ELF {what} lie outside the file.");
        }

        var buffer = new byte[count];
        int done = 0;
        while (done < count)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(done), (long)offset + done);
            if (n <= 0)
            {
                throw new InvalidDataException($"ELF {what}: short read.");
            }

            done += n;
        }

        return buffer;
    }

    private static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));

    private static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));

    private static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));

    /// <summary>One program header.</summary>
    internal readonly record struct ProgramHeader(uint Type, uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize, ulong MemorySize, ulong Align);

    /// <summary>One section header.</summary>
    internal readonly record struct SectionHeader(int Index, uint Type, ulong Address, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    /// <summary>One symbol table entry.</summary>
    internal readonly record struct Symbol(string Name, ulong Value, ulong Size, byte Type, byte Binding, ushort SectionIndex);

    /// <summary>A symbol to find: its exact name and type, and optionally its exact size or value (filters that spare reading names).</summary>
    internal readonly record struct SymbolQuery(string Name, byte Type, ulong? Size = null, ulong? Value = null);
}
