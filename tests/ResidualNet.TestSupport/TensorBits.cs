using System.Linq;
using static TorchSharp.torch;

namespace ResidualNet.TestSupport;

/// <summary>Bit-level comparison of tensors (weights round trips, files written by Python).</summary>
public static class TensorBits
{
    /// <summary>The tensor's bytes, in contiguous order.</summary>
    /// <param name="tensor">Any tensor.</param>
    /// <returns>A copy of its bytes.</returns>
    public static byte[] Bits(Tensor tensor)
    {
        using var contiguous = tensor.detach().contiguous();
        return contiguous.bytes.ToArray();
    }

    /// <summary>Whether two tensors have the same dtype, shape and bits.</summary>
    /// <param name="a">One tensor.</param>
    /// <param name="b">The other.</param>
    /// <returns>True when they are bit-identical.</returns>
    public static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && Bits(a).SequenceEqual(Bits(b));
}
