using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Onnx;

/// <summary>
/// Writes one module of a network into the graph: given the module, its path in the network and the name of its
/// input value, returns the name of its output value.
/// </summary>
/// <param name="context">The export in progress: the graph, the options, and <see cref="OnnxExportContext.Convert"/> for children.</param>
/// <param name="module">The module to write.</param>
/// <param name="path">The module's dot-separated path in the network (state_dict prefix), empty for the root.</param>
/// <param name="input">The name of the value that the module receives.</param>
/// <returns>The name of the value that the module produces.</returns>
public delegate string OnnxModuleConverter(OnnxExportContext context, nn.Module module, string path, string input);

/// <summary>The state of one export: the graph being written, the options, and dispatch to each module's converter.</summary>
public sealed class OnnxExportContext
{
    private readonly IReadOnlyDictionary<Type, OnnxModuleConverter> _converters;

    internal OnnxExportContext(OnnxGraphBuilder graph, OnnxExportOptions options, IReadOnlyDictionary<Type, OnnxModuleConverter> converters)
    {
        Graph = graph;
        Options = options;
        _converters = converters;
    }

    /// <summary>The graph being written.</summary>
    public OnnxGraphBuilder Graph { get; }

    /// <summary>The options of this export.</summary>
    public OnnxExportOptions Options { get; }

    /// <summary>
    /// Writes <paramref name="module"/> (found at <paramref name="path"/>) applied to <paramref name="input"/> and returns
    /// its output's name. Throws <see cref="OnnxExportException"/> naming the module and its path when no converter
    /// knows the module's type.
    /// </summary>
    public string Convert(nn.Module module, string path, string input)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (FindConverter(module.GetType()) is { } converter)
        {
            return converter(this, module, path, input);
        }

        throw new OnnxExportException(
            DisplayPath(path),
            module.GetType().FullName ?? module.GetType().Name,
            "no ONNX converter is known for this type; pass one in OnnxExportOptions.Converters");
    }

    /// <summary>
    /// Writes a convolution followed by an optional normalisation (a BatchNorm is folded into the convolution when
    /// <see cref="OnnxExportOptions.FoldBatchNorm"/> is set).
    /// </summary>
    public string ConvNorm(Conv2d conv, string convPath, nn.Module? norm, string normPath, string input)
    {
        ArgumentNullException.ThrowIfNull(conv);
        if (norm is BatchNorm2d bn && Options.FoldBatchNorm)
        {
            return BuiltInConverters.FoldedConv(this, conv, convPath, bn, normPath, input);
        }

        string output = BuiltInConverters.Conv(this, conv, convPath, input);
        return norm is null ? output : Convert(norm, normPath, output);
    }

    /// <summary>Joins a parent path and a child name the way state_dict keys do.</summary>
    public static string Child(string path, string name) => string.IsNullOrEmpty(path) ? name : path + "." + name;

    /// <summary>The named direct children of a module, in registration order.</summary>
    public static IReadOnlyList<(string Name, nn.Module Module)> Children(nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return module.named_children().Select(c => (c.name, c.module)).ToList();
    }

    private OnnxModuleConverter? FindConverter(Type type)
    {
        for (Type? t = type; t is not null; t = t.BaseType)
        {
            if (_converters.TryGetValue(t, out OnnxModuleConverter? converter))
            {
                return converter;
            }
        }

        return null;
    }

    internal static string DisplayPath(string path) => string.IsNullOrEmpty(path) ? "(root)" : path;
}
