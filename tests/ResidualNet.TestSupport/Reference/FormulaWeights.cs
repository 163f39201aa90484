using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.TestSupport.Reference;

/// <summary>
/// The weights of the committed torchvision fixtures, computed without a weights file: a deterministic function
/// of the state_dict key and the element index that <c>make_fixtures.py</c> computes in Python (numpy) and this
/// class in C#, bit for bit. Only integer arithmetic and correctly rounded IEEE operations are used (+, *, /,
/// sqrt; no sine, whose last bit differs between math libraries). The formula is spelled out in
/// <c>make_fixtures.py</c> and in <c>Reference/Fixtures/README.md</c>.
/// </summary>
internal static class FormulaWeights
{
    /// <summary>The formula's name, recorded in every fixture; a fixture made with another formula is refused.</summary>
    public const string Formula = "fnv1a64-splitmix64-v1";

    /// <summary>The key of the input tensor.</summary>
    public const string InputKey = "input";

    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>FNV-1a (64 bit) of the name's UTF-8 bytes.</summary>
    public static ulong Fnv1a64(string name)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(name))
        {
            h ^= b;
            h = unchecked(h * 0x100000001B3UL);
        }

        return h;
    }

    /// <summary>splitmix64 of <c>h + (index + 1) * golden</c> (modulo 2^64).</summary>
    public static ulong Hash(ulong nameHash, long index)
    {
        unchecked
        {
            ulong z = nameHash + ((ulong)(index + 1) * Golden);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>The top 24 bits of the hash as an odd multiple of 2^-24 in (-1, 1): exact in float32.</summary>
    public static double Uniform(ulong hash) => ((2.0 * (hash >> 40)) + 1.0 - 16777216.0) / 16777216.0;

    /// <summary>The float32 values of one float32 entry (C order).</summary>
    /// <exception cref="ArgumentException">The key has no formula (the message names it).</exception>
    public static float[] FloatValues(string name, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        ulong h = Fnv1a64(name);
        Func<double, double> map = KindOf(name, shape);
        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            values[i] = (float)map(Uniform(Hash(h, i)));
        }

        return values;
    }

    /// <summary>The value of a <c>num_batches_tracked</c> entry: 1 to 1024.</summary>
    public static long CountValue(string name) => 1 + (long)(Hash(Fnv1a64(name), 0) >> 54);

    /// <summary>The formula input of the given shape, a new float32 tensor.</summary>
    public static Tensor Input(long[] shape) => tensor(FloatValues(InputKey, shape), shape);

    /// <summary>Fills every state_dict entry of <paramref name="module"/> with its formula value.</summary>
    /// <returns>Each key with the checksum of what was written (see <see cref="Bits(Tensor)"/>), in state_dict order.</returns>
    public static IReadOnlyList<(string Name, string Bits)> Fill(Module module)
    {
        var written = new List<(string, string)>();
        using var noGrad = no_grad();
        foreach (var (name, entry) in module.state_dict())
        {
            using var scope = NewDisposeScope();
            if (entry.dtype == ScalarType.Int64 && name.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            {
                entry.fill_(CountValue(name));
            }
            else if (entry.dtype == ScalarType.Float32)
            {
                entry.copy_(tensor(FloatValues(name, entry.shape), entry.shape));
            }
            else
            {
                throw new ArgumentException($"No formula for '{name}' of dtype {entry.dtype}.", nameof(module));
            }

            written.Add((name, Bits(entry)));
        }

        return written;
    }

    /// <summary>
    /// The fixture checksum of a tensor: the sum of the float32 bit patterns (as unsigned integers) or of the int64
    /// values, as a decimal string. Order-independent and exact, so it matches numpy's.
    /// </summary>
    public static string Bits(Tensor entry)
    {
        using var scope = NewDisposeScope();
        var flat = entry.detach().cpu().contiguous().reshape(-1);
        if (entry.dtype == ScalarType.Float32)
        {
            ulong sum = 0;
            foreach (float value in flat.data<float>().ToArray())
            {
                sum = unchecked(sum + BitConverter.SingleToUInt32Bits(value));
            }

            return sum.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (entry.dtype == ScalarType.Int64)
        {
            long sum = 0;
            foreach (long value in flat.data<long>().ToArray())
            {
                sum = unchecked(sum + value);
            }

            return sum.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        throw new ArgumentException($"No checksum for dtype {entry.dtype}.", nameof(entry));
    }

    private static Func<double, double> KindOf(string name, long[] shape)
    {
        if (name.EndsWith(".running_mean", StringComparison.Ordinal) || name.EndsWith(".bias", StringComparison.Ordinal))
        {
            return v => 0.1 * v;
        }

        if (name.EndsWith(".running_var", StringComparison.Ordinal))
        {
            return v => 1.0 + (0.5 * v);
        }

        if (name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length == 1)
        {
            bool lastNormOfBranch = name.Contains(".bn2.", StringComparison.Ordinal) || name.Contains(".bn3.", StringComparison.Ordinal);
            return lastNormOfBranch ? v => 0.175 + (0.125 * v) : v => 1.0 + (0.5 * v);
        }

        if (name.EndsWith(".weight", StringComparison.Ordinal) && shape.Length >= 2)
        {
            long fanIn = shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            double scale = Math.Sqrt(6.0 / fanIn);
            return shape.Length == 2 ? v => 0.125 * (v * scale) : v => v * scale;
        }

        if (name == InputKey)
        {
            return v => v;
        }

        throw new ArgumentException($"No formula for the key '{name}' of shape [{string.Join(", ", shape)}].", nameof(name));
    }
}
