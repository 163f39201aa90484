using System.Collections.Generic;
using System.Globalization;

namespace ResidualNet.Weights;

/// <summary>A state_dict key that both the module and the file hold, with different shapes.</summary>
/// <param name="Key">The state_dict key.</param>
/// <param name="ModuleShape">The shape of the module's tensor.</param>
/// <param name="FileShape">The shape of the file's tensor.</param>
public sealed record ShapeMismatch(string Key, IReadOnlyList<long> ModuleShape, IReadOnlyList<long> FileShape)
{
    /// <summary>Returns <c>key: module [..] vs file [..]</c>.</summary>
    /// <returns>A one-line description of the mismatch.</returns>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Key}: module {ShapeText.Format(ModuleShape)} vs file {ShapeText.Format(FileShape)}");
}
