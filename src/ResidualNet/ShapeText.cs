using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using static TorchSharp.torch;

namespace ResidualNet;

/// <summary>Formats shapes the way every message and table of the library shows them: <c>[d0, d1, ...]</c>.</summary>
internal static class ShapeText
{
    /// <summary>Returns <c>[d0, d1, ...]</c> (invariant culture).</summary>
    public static string Format(IEnumerable<long> shape) =>
        "[" + string.Join(", ", shape.Select(size => size.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>Returns the tensor's shape as <c>[d0, d1, ...]</c>.</summary>
    public static string Of(Tensor tensor) => Format(tensor.shape);
}
