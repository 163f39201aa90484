using System;
using System.Buffers.Binary;

namespace ResidualNet.Weights;

/// <summary>
/// A single pass over a Python pickle's opcodes (protocols 0-5) that checks every declared length (strings, bytes,
/// long integers, frames) against the bytes that remain, without building any object. Unpicklers allocate a declared
/// length before reading it, so a forged length must be refused here first.
/// </summary>
internal static class PickleScan
{
    /// <summary>Walks <paramref name="pickle"/> up to its STOP opcode; a problem becomes the exception that
    /// <paramref name="corrupt"/> makes of its description.</summary>
    public static void CheckLengths(ReadOnlySpan<byte> pickle, Func<string, Exception> corrupt)
    {
        int at = 0;
        while (at < pickle.Length)
        {
            byte op = pickle[at];
            int start = at;
            at++;
            long length;
            switch (op)
            {
                case (byte)'.': // STOP
                    return;

                // No argument.
                case (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or (byte)')' or (byte)']' or (byte)'}'
                    or (byte)'a' or (byte)'e' or (byte)'b' or (byte)'d' or (byte)'l' or (byte)'o' or (byte)'R' or (byte)'s'
                    or (byte)'u' or (byte)'t' or (byte)'Q' or 0x85 or 0x86 or 0x87 or 0x88 or 0x89 or 0x81 or 0x92 or 0x93
                    or 0x8F or 0x90 or 0x91 or 0x94 or 0x97 or 0x98:
                    continue;

                // Fixed-size arguments.
                case 0x80 or (byte)'K' or (byte)'h' or (byte)'q' or 0x82:
                    at = Skip(pickle, at, 1, start, op, corrupt);
                    continue;
                case (byte)'M' or 0x83:
                    at = Skip(pickle, at, 2, start, op, corrupt);
                    continue;
                case (byte)'J' or (byte)'j' or (byte)'r' or 0x84:
                    at = Skip(pickle, at, 4, start, op, corrupt);
                    continue;
                case (byte)'G':
                    at = Skip(pickle, at, 8, start, op, corrupt);
                    continue;

                // One line, or two (GLOBAL, INST), ending in '\n'.
                case (byte)'I' or (byte)'L' or (byte)'F' or (byte)'S' or (byte)'V' or (byte)'P' or (byte)'g' or (byte)'p':
                    at = SkipLine(pickle, at, start, op, corrupt);
                    continue;
                case (byte)'c' or (byte)'i':
                    at = SkipLine(pickle, SkipLine(pickle, at, start, op, corrupt), start, op, corrupt);
                    continue;

                // A 1-byte length, then that many bytes.
                case (byte)'U' or (byte)'C' or 0x8C or 0x8A:
                    at = Skip(pickle, at, 1, start, op, corrupt);
                    length = pickle[at - 1];
                    break;

                // A 4-byte little-endian length (signed for BINSTRING and LONG4, unsigned otherwise).
                case (byte)'T' or 0x8B:
                    at = Skip(pickle, at, 4, start, op, corrupt);
                    length = BinaryPrimitives.ReadInt32LittleEndian(pickle[(at - 4)..]);
                    break;
                case (byte)'X' or (byte)'B':
                    at = Skip(pickle, at, 4, start, op, corrupt);
                    length = BinaryPrimitives.ReadUInt32LittleEndian(pickle[(at - 4)..]);
                    break;

                // An 8-byte length (BINUNICODE8, BINBYTES8, BYTEARRAY8, FRAME).
                case 0x8D or 0x8E or 0x96 or 0x95:
                    at = Skip(pickle, at, 8, start, op, corrupt);
                    ulong wide = BinaryPrimitives.ReadUInt64LittleEndian(pickle[(at - 8)..]);
                    length = wide > long.MaxValue ? -1 : (long)wide;
                    break;

                default:
                    throw corrupt($"has the unknown opcode 0x{op:X2} at offset {start}.");
            }

            long remaining = pickle.Length - at;
            if (length < 0 || length > remaining)
            {
                throw corrupt($"declares {length} bytes for opcode 0x{op:X2} at offset {start}, but only {remaining} follow.");
            }

            // A frame (protocol 4) wraps the opcodes that follow: its length is checked, its content walked.
            if (op != 0x95)
            {
                at += (int)length;
            }
        }

        throw corrupt("ends before its STOP opcode.");
    }

    private static int Skip(ReadOnlySpan<byte> pickle, int at, int count, int start, byte op, Func<string, Exception> corrupt) =>
        pickle.Length - at >= count ? at + count : throw corrupt($"ends inside the argument of opcode 0x{op:X2} at offset {start}.");

    private static int SkipLine(ReadOnlySpan<byte> pickle, int at, int start, byte op, Func<string, Exception> corrupt)
    {
        int newline = pickle[at..].IndexOf((byte)'\n');
        return newline >= 0 ? at + newline + 1 : throw corrupt($"ends inside the text argument of opcode 0x{op:X2} at offset {start}.");
    }
}
