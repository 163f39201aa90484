using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TorchSharp;

namespace ResidualNet.Weights;

/// <summary>One tensor stored in a weights file (or held by a module): its state_dict key, shape and element type.</summary>
/// <param name="Key">The state_dict key, for example <c>layer1.0.conv1.weight</c>.</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="DType">The tensor's element type.</param>
public sealed record WeightsEntry(string Key, IReadOnlyList<long> Shape, torch.ScalarType DType)
{
    /// <summary>The number of elements (the product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long NumberOfElements => Shape.Aggregate(1L, (product, size) => product * size);

    /// <summary>Returns <c>key [d0, d1, ...] dtype</c>.</summary>
    /// <returns>A one-line description of the entry.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Key} {ShapeText.Format(Shape)} {DType}");
}
