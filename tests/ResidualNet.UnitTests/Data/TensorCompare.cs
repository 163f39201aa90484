using System.Linq;
using static TorchSharp.torch;

namespace ResidualNet.UnitTests.Data;

internal static class TensorCompare
{
    /// <summary>Same shape and every element equal (TorchSharp's <c>torch.equal</c> is element-wise).</summary>
    public static bool Identical(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
        {
            return false;
        }

        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }
}
