using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Analysis;

/// <summary>
/// Parameters and multiply-adds of a network for a given input size, per module (by default per direct child:
/// the stages of a ResNet) and in total, as structured <see cref="Rows"/> and as a table (<see cref="Format"/>,
/// <see cref="ToString"/>), like torchinfo.
/// </summary>
/// <remarks>
/// <para>
/// Multiply-adds follow torchvision's "GFLOPS" convention: only convolutions and linear layers count, one per
/// weight use (a convolution: output elements times input channels per group times kernel elements; a
/// transposed convolution: input elements times output channels per group times kernel elements; a linear layer:
/// output elements times input features). Biases, normalisation, activations, pooling and additions are not
/// counted. With this convention torchvision's ResNet-50 has 4.09 G multiply-adds at 224x224.
/// </para>
/// <para>
/// The counts come from forward hooks during one forward pass (in eval mode, without gradients, on a zero input
/// of the module's dtype and device; training modes are restored afterwards). Hooks fire only for modules called
/// through <c>call</c>: a network that calls a child's <c>forward</c> directly hides that child's multiply-adds.
/// </para>
/// </remarks>
public sealed class ModelSummary
{
    private ModelSummary(
        string modelName,
        IReadOnlyList<long> inputShape,
        IReadOnlyList<long>? outputShape,
        IReadOnlyList<ModelSummaryRow> rows,
        long totalParameters,
        long trainableParameters,
        long totalMultiplyAdds,
        int countedLayerCalls)
    {
        ModelName = modelName;
        InputShape = inputShape;
        OutputShape = outputShape;
        Rows = rows;
        TotalParameters = totalParameters;
        TrainableParameters = trainableParameters;
        TotalMultiplyAdds = totalMultiplyAdds;
        CountedLayerCalls = countedLayerCalls;
    }

    /// <summary>The network's .NET type name.</summary>
    public string ModelName { get; }

    /// <summary>The input shape of the summary's forward pass.</summary>
    public IReadOnlyList<long> InputShape { get; }

    /// <summary>The network's output shape; null when the output is not a single tensor.</summary>
    public IReadOnlyList<long>? OutputShape { get; }

    /// <summary>The rows, in module order (depth first), down to <see cref="ModelSummaryOptions.Depth"/>.</summary>
    public IReadOnlyList<ModelSummaryRow> Rows { get; }

    /// <summary>All parameter elements of the network (a parameter shared by several modules counts once).</summary>
    public long TotalParameters { get; }

    /// <summary>Parameter elements that require gradients.</summary>
    public long TrainableParameters { get; }

    /// <summary>Parameter elements that do not require gradients (frozen).</summary>
    public long NonTrainableParameters => TotalParameters - TrainableParameters;

    /// <summary>Multiply-adds of every convolution and linear layer call in one forward pass of the input.</summary>
    public long TotalMultiplyAdds { get; }

    /// <summary><see cref="TotalMultiplyAdds"/> in units of 10^9, as torchvision's "GFLOPS" column.</summary>
    public double GigaMultiplyAdds => TotalMultiplyAdds / 1e9;

    /// <summary>How many convolution and linear layer calls the hooks counted.</summary>
    public int CountedLayerCalls { get; }

    /// <summary>Summarises a network for an input of the given shape (zeros of the network's dtype and device).</summary>
    /// <param name="module">The network; it is left in the training modes it had.</param>
    /// <param name="inputShape">The input shape, batch included, for example <c>[1, 3, 224, 224]</c>; every size at least 1.</param>
    /// <param name="options">Row grouping; null means <see cref="ModelSummaryOptions.Default"/>.</param>
    /// <returns>The summary.</returns>
    /// <exception cref="ArgumentException">The shape is empty or has a size below 1, or the options are invalid.</exception>
    public static ModelSummary Create(nn.Module<Tensor, Tensor> module, IReadOnlyList<long> inputShape, ModelSummaryOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 0 || inputShape.Any(size => size < 1))
        {
            throw new ArgumentOutOfRangeException(
                nameof(inputShape),
                $"The input shape must have at least one dimension and every size must be at least 1; received {ShapeText.Format(inputShape)}.");
        }

        var reference = module.parameters().FirstOrDefault();
        var dtype = reference is not null && reference.is_floating_point() ? reference.dtype : ScalarType.Float32;
        var device = reference?.device ?? CPU;
        using var scope = NewDisposeScope();
        var input = zeros(inputShape.ToArray(), dtype, device);
        return CreateForInput(module, input, options);
    }

    /// <summary>Summarises a network for a given input tensor (for inputs that zeros do not suit).</summary>
    /// <param name="module">The network; it is left in the training modes it had.</param>
    /// <param name="input">The input, batch included; it is not modified.</param>
    /// <param name="options">Row grouping; null means <see cref="ModelSummaryOptions.Default"/>.</param>
    /// <returns>The summary.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static ModelSummary CreateForInput(nn.Module<Tensor, Tensor> module, Tensor input, ModelSummaryOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        options ??= ModelSummaryOptions.Default;
        options.Validate();

        // The module tree, depth first, with paths (a module reachable twice keeps its first path).
        var nodes = new List<(string Path, int Depth, nn.Module Module)>();
        var paths = new Dictionary<nn.Module, string>(ReferenceEqualityComparer.Instance);
        Walk(module, string.Empty, 0, nodes, paths);

        var macsByPath = new Dictionary<string, long>(StringComparer.Ordinal);
        var outputShapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var rowNodes = nodes.Where(n => n.Depth >= 1 && n.Depth <= options.Depth).ToList();
        var rowPaths = rowNodes.Select(n => n.Path).ToHashSet(StringComparer.Ordinal);
        int countedCalls = 0;
        var removers = new List<Action>();
        long[]? outputShape = null;

        var modes = nodes.Select(n => (n.Module, n.Module.training)).ToList();
        try
        {
            foreach (var (path, _, node) in nodes)
            {
                if (node is not nn.Module<Tensor, Tensor> hookable)
                {
                    continue;
                }

                bool counts = node is Convolution or Linear;
                bool isRow = rowPaths.Contains(path);
                if (!counts && !isRow)
                {
                    continue;
                }

                var remover = hookable.register_forward_hook((self, hookInput, output) =>
                {
                    if (counts)
                    {
                        macsByPath[path] = macsByPath.GetValueOrDefault(path) + MultiplyAdds(self, hookInput, output);
                        countedCalls++;
                    }

                    if (isRow && output is not null)
                    {
                        outputShapes[path] = output.shape;
                    }

                    return null!;
                });
                removers.Add(remover.remove);
            }

            module.eval();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var output = module.call(input);
            outputShape = output?.shape;
        }
        finally
        {
            foreach (var remove in removers)
            {
                remove();
            }

            foreach (var (node, training) in modes)
            {
                node.train(training);
            }
        }

        var rows = new List<ModelSummaryRow>();
        foreach (var (path, depth, node) in rowNodes)
        {
            var (parameters, trainable) = CountParameters(node.parameters());
            long macs = macsByPath.Where(kv => kv.Key == path || kv.Key.StartsWith(path + ".", StringComparison.Ordinal)).Sum(kv => kv.Value);
            rows.Add(new ModelSummaryRow(path, node.GetType().Name, depth, outputShapes.GetValueOrDefault(path), parameters, trainable, macs));
        }

        var (ownParameters, ownTrainable) = CountParameters(module.parameters(recurse: false));
        if (ownParameters > 0)
        {
            rows.Add(new ModelSummaryRow("(own parameters)", module.GetType().Name, 1, null, ownParameters, ownTrainable, macsByPath.GetValueOrDefault(string.Empty)));
        }
        else if (nodes.Count == 1)
        {
            // A network without children is its own single row.
            rows.Add(new ModelSummaryRow(string.Empty, module.GetType().Name, 0, outputShape, 0, 0, macsByPath.GetValueOrDefault(string.Empty)));
        }

        var (total, totalTrainable) = CountParameters(module.parameters());
        return new ModelSummary(
            module.GetType().Name, input.shape, outputShape, rows, total, totalTrainable, macsByPath.Values.Sum(), countedCalls);
    }

    /// <summary>The summary as a table: one line per row, then the totals.</summary>
    /// <returns>The table, lines separated by <see cref="Environment.NewLine"/>.</returns>
    public string Format()
    {
        var culture = CultureInfo.InvariantCulture;
        var lines = Rows.Select(row => (
            Layer: new string(' ', 2 * Math.Max(0, row.Depth - 1)) + (row.Name.Length == 0 ? "(model)" : row.Name) + " (" + row.TypeName + ")",
            Output: row.OutputShape is null ? "-" : ShapeText.Format(row.OutputShape),
            Parameters: row.Parameters.ToString("N0", culture),
            MultiplyAdds: row.MultiplyAdds.ToString("N0", culture))).ToList();
        const string LayerTitle = "Layer (type)", OutputTitle = "Output shape", ParametersTitle = "Parameters", MacsTitle = "Mult-adds";
        int layerWidth = Math.Max(LayerTitle.Length, lines.Select(l => l.Layer.Length).DefaultIfEmpty(0).Max());
        int outputWidth = Math.Max(OutputTitle.Length, lines.Select(l => l.Output.Length).DefaultIfEmpty(0).Max());
        int parametersWidth = Math.Max(ParametersTitle.Length, lines.Select(l => l.Parameters.Length).DefaultIfEmpty(0).Max());
        int macsWidth = Math.Max(MacsTitle.Length, lines.Select(l => l.MultiplyAdds.Length).DefaultIfEmpty(0).Max());
        string rule = new('-', layerWidth + outputWidth + parametersWidth + macsWidth + 6);

        var text = new StringBuilder();
        text.Append(culture, $"{ModelName}, input {ShapeText.Format(InputShape)}").AppendLine();
        text.AppendLine(rule);
        text.Append(culture, $"{LayerTitle.PadRight(layerWidth)}  {OutputTitle.PadRight(outputWidth)}  {ParametersTitle.PadLeft(parametersWidth)}  {MacsTitle.PadLeft(macsWidth)}").AppendLine();
        text.AppendLine(rule);
        foreach (var line in lines)
        {
            text.Append(culture, $"{line.Layer.PadRight(layerWidth)}  {line.Output.PadRight(outputWidth)}  {line.Parameters.PadLeft(parametersWidth)}  {line.MultiplyAdds.PadLeft(macsWidth)}").AppendLine();
        }

        text.AppendLine(rule);
        text.Append(culture, $"Total parameters: {TotalParameters:N0}").AppendLine();
        text.Append(culture, $"Trainable parameters: {TrainableParameters:N0}").AppendLine();
        text.Append(culture, $"Non-trainable parameters: {NonTrainableParameters:N0}").AppendLine();
        text.Append(culture, $"Total mult-adds: {TotalMultiplyAdds:N0} ({GigaMultiplyAdds:F2} G, convolutions and linear layers)").AppendLine();
        text.Append(culture, $"Output shape: {(OutputShape is null ? "-" : ShapeText.Format(OutputShape))}");
        if (CountedLayerCalls == 0 && TotalParameters > 0)
        {
            text.AppendLine().Append("Note: no convolution or linear layer call was seen; layers called with forward() instead of call() are not counted.");
        }

        return text.ToString();
    }

    /// <summary>Returns <see cref="Format"/>.</summary>
    /// <returns>The table.</returns>
    public override string ToString() => Format();

    private static void Walk(nn.Module module, string path, int depth, List<(string, int, nn.Module)> nodes, Dictionary<nn.Module, string> paths)
    {
        if (!paths.TryAdd(module, path))
        {
            return;
        }

        nodes.Add((path, depth, module));
        foreach (var (name, child) in module.named_children())
        {
            Walk(child, path.Length == 0 ? name : path + "." + name, depth + 1, nodes, paths);
        }
    }

    private static long MultiplyAdds(nn.Module<Tensor, Tensor> layer, Tensor input, Tensor output)
    {
        Tensor weight = layer switch
        {
            Convolution convolution => convolution.weight,
            Linear linear => linear.weight,
            _ => throw new InvalidOperationException($"Unexpected layer type {layer.GetType().Name}."),
        };

        // Weight elements used per output (or, transposed, per input) element: in/groups * kernel, or in_features.
        long perElement = weight.NumberOfElements / weight.shape[0];
        bool transposed = layer is Convolution { transposed: true };
        return (transposed ? input.NumberOfElements : output.NumberOfElements) * perElement;
    }

    private static (long Total, long Trainable) CountParameters(IEnumerable<Parameter> parameters)
    {
        long total = 0, trainable = 0;
        var seen = new HashSet<IntPtr>();
        foreach (var parameter in parameters)
        {
            if (!seen.Add(parameter.Handle))
            {
                continue;
            }

            total += parameter.NumberOfElements;
            if (parameter.requires_grad)
            {
                trainable += parameter.NumberOfElements;
            }
        }

        return (total, trainable);
    }
}
