using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Onnx;

/// <summary>
/// Appends nodes and initializers to the ONNX graph being written. Converters of user modules receive one through
/// <see cref="OnnxExportContext.Graph"/>; every method returns the name of the value it produces.
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph;
    private readonly bool _float16Weights;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    internal OnnxGraphBuilder(GraphProto graph, bool float16Weights)
    {
        _graph = graph;
        _float16Weights = float16Weights;
    }

    /// <summary>
    /// Adds a node of <paramref name="opType"/> (an ONNX operator of the default domain) with one output, named after
    /// <paramref name="name"/>, and returns that output's name.
    /// </summary>
    public string AddNode(string opType, string name, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(attributes);
        string nodeName = Unique(name);
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        node.Output.Add(nodeName);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return nodeName;
    }

    /// <summary>
    /// Adds a float weight as an initializer named <paramref name="name"/> (state_dict keys make good names) and returns
    /// the name to use as a node input: with <see cref="OnnxExportOptions.Float16Weights"/>, the float16 initializer is
    /// followed by a Cast to float32 and the Cast's output is returned.
    /// </summary>
    public string AddWeight(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string stored = Unique(name);
        using var scope = torch.NewDisposeScope();
        using var plain = value.detach().cpu().contiguous();
        var proto = new TensorProto { Name = stored };
        proto.Dims.AddRange(plain.shape);
        if (_float16Weights)
        {
            using var half = plain.to(ScalarType.Float16).contiguous();
            proto.DataType = (int)TensorProto.Types.DataType.Float16;
            proto.RawData = ByteString.CopyFrom(half.bytes.ToArray());
            _graph.Initializer.Add(proto);
            return AddNode("Cast", stored + "_float32", new[] { stored }, IntAttribute("to", (long)TensorProto.Types.DataType.Float));
        }

        using var single = plain.to(ScalarType.Float32).contiguous();
        proto.DataType = (int)TensorProto.Types.DataType.Float;
        proto.RawData = ByteString.CopyFrom(single.bytes.ToArray());
        _graph.Initializer.Add(proto);
        return stored;
    }

    /// <summary>Adds a constant int64 tensor (a shape, axes) as an initializer and returns its name.</summary>
    public string AddInt64Constant(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        string stored = Unique(name);
        var proto = new TensorProto { Name = stored, DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.Add(values.Length);
        proto.Int64Data.AddRange(values);
        _graph.Initializer.Add(proto);
        return stored;
    }

    /// <summary>Adds a constant float scalar as an initializer and returns its name.</summary>
    public string AddFloatConstant(string name, float value)
    {
        string stored = Unique(name);
        var proto = new TensorProto { Name = stored, DataType = (int)TensorProto.Types.DataType.Float };
        proto.FloatData.Add(value);
        _graph.Initializer.Add(proto);
        return stored;
    }

    /// <summary>An integer attribute.</summary>
    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>An integer-list attribute.</summary>
    public static AttributeProto IntsAttribute(string name, IEnumerable<long> values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A name not used before in this graph, derived from <paramref name="name"/>.</summary>
    private string Unique(string name)
    {
        string candidate = string.IsNullOrEmpty(name) ? "value" : name;
        if (_names.Add(candidate))
        {
            return candidate;
        }

        for (int i = 1; ; i++)
        {
            string numbered = $"{candidate}_{i}";
            if (_names.Add(numbered))
            {
                return numbered;
            }
        }
    }

    internal void Reserve(IEnumerable<string> names)
    {
        foreach (string name in names.Where(n => !string.IsNullOrEmpty(n)))
        {
            _names.Add(name);
        }
    }
}
