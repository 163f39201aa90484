using System.Collections.Generic;

namespace ResidualNet.Analysis;

/// <summary>One row of a <see cref="ModelSummary"/>: a module of the network and the totals of its subtree.</summary>
/// <param name="Name">The module's path in the network (its state_dict prefix), for example <c>layer1</c> or <c>layer1.0</c>.</param>
/// <param name="TypeName">The module's .NET type name, for example <c>Conv2d</c> or <c>Sequential</c>.</param>
/// <param name="Depth">1 for a direct child of the network, 2 for a grandchild, and so on.</param>
/// <param name="OutputShape">The shape of the module's output in the summary's forward pass; null when it was not called through <c>call</c> or does not return a single tensor.</param>
/// <param name="Parameters">The number of parameter elements in the module and its descendants.</param>
/// <param name="TrainableParameters">Those of <paramref name="Parameters"/> that require gradients.</param>
/// <param name="MultiplyAdds">Multiply-adds of the convolutions and linear layers in the module's subtree for the summary's input.</param>
public sealed record ModelSummaryRow(
    string Name,
    string TypeName,
    int Depth,
    IReadOnlyList<long>? OutputShape,
    long Parameters,
    long TrainableParameters,
    long MultiplyAdds);
