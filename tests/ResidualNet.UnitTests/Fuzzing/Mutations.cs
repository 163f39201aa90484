using System;

namespace ResidualNet.UnitTests.Fuzzing;

/// <summary>Seeded mutations of a file's bytes: truncation, bit flips, header edits.</summary>
internal static class Mutations
{
    /// <summary>A deterministic generator for case <paramref name="index"/> of <paramref name="seed"/>.</summary>
    public static Random For(int seed, int index) => new(unchecked((seed * 1_000_003) + index));

    /// <summary>Mutates a copy of <paramref name="original"/>; <paramref name="headerLength"/> bytes at the start
    /// (and, for zip files, <paramref name="trailerLength"/> at the end) are the header edits' targets.</summary>
    public static (byte[] Bytes, string Kind) Mutate(Random r, byte[] original, int headerLength, int trailerLength = 0)
    {
        var bytes = (byte[])original.Clone();
        switch (r.Next(3))
        {
            case 0:
                return (bytes.AsSpan(0, r.Next(bytes.Length)).ToArray(), "truncation");
            case 1:
                int flips = 1 + r.Next(8);
                for (int i = 0; i < flips; i++)
                {
                    bytes[r.Next(bytes.Length)] ^= (byte)(1 << r.Next(8));
                }

                return (bytes, $"{flips} bit flips");
            default:
                int edits = 1 + r.Next(4);
                for (int i = 0; i < edits; i++)
                {
                    bool atEnd = trailerLength > 0 && r.Next(2) == 0;
                    int span = Math.Min(atEnd ? trailerLength : headerLength, bytes.Length);
                    int at = atEnd ? bytes.Length - 1 - r.Next(span) : r.Next(span);
                    byte[] patterns = [0x00, 0xFF, 0x7F, 0x80, (byte)r.Next(256)];
                    int run = 1 + r.Next(4);
                    for (int k = 0; k < run && at + k < bytes.Length; k++)
                    {
                        bytes[at + k] = patterns[r.Next(patterns.Length)];
                    }
                }

                return (bytes, $"{edits} header edits");
        }
    }
}
