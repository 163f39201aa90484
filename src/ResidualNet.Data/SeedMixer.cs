namespace ResidualNet.Data;

/// <summary>Derives independent generator seeds from (seed, epoch, batch) with the SplitMix64 finaliser.</summary>
internal static class SeedMixer
{
    public static ulong Mix(long seed, int epoch, int batch)
    {
        ulong z = unchecked((ulong)seed);
        z = Finalise(z + 0x9E3779B97F4A7C15UL);
        z = Finalise(z ^ unchecked((ulong)(uint)epoch + 0xBF58476D1CE4E5B9UL));
        z = Finalise(z ^ unchecked((ulong)(uint)batch + 0x94D049BB133111EBUL));
        return z;
    }

    private static ulong Finalise(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
