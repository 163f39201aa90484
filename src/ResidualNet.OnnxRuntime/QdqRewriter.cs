using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace ResidualNet.OnnxRuntime;

/// <summary>Which tensors of a float32 graph are quantized, and which of them need their own calibrated range.</summary>
internal sealed class QdqPlan
{
    private readonly Dictionary<string, string> _sources = new(StringComparer.Ordinal);

    /// <summary>Every quantized activation tensor, in graph order, with the tensor whose range (scale, zero point) it uses.</summary>
    internal List<(string Tensor, string Source)> Quantized { get; } = new();

    /// <summary>The tensors with their own calibrated range, in graph order.</summary>
    internal IReadOnlyList<string> Calibrated => Quantized.Where(q => q.Tensor == q.Source).Select(q => q.Tensor).ToList();

    /// <summary>Positions (in the graph's node list) of the Conv and Gemm nodes whose weight and bias become int8 and int32.</summary>
    internal HashSet<int> WeightNodes { get; } = new();

    /// <summary>The operators the quantizer leaves in float32 (type and name), for the caller's information.</summary>
    internal List<string> FloatNodes { get; } = new();

    internal bool TryGetSource(string tensor, out string source) => _sources.TryGetValue(tensor, out source!);

    internal string SourceOf(string tensor) => _sources[tensor];

    internal void Add(string tensor, string source)
    {
        if (_sources.TryAdd(tensor, source))
        {
            Quantized.Add((tensor, source));
        }
    }
}

/// <summary>
/// Rewrites a float32 ONNX graph into ONNX's QDQ form: each quantized activation passes through a QuantizeLinear and a
/// DequantizeLinear, and each Conv and Gemm reads int8 weights (symmetric, per output channel) and int32 biases through
/// a DequantizeLinear. The arithmetic stays the float operators'; ONNX Runtime fuses the patterns
/// (DQ, DQ, DQ) -> Conv -> Q into QLinearConv, (DQ, DQ) -> Add -> Q into QLinearAdd, DQ -> GlobalAveragePool -> Q into
/// QLinearGlobalAveragePool, (DQ, DQ, DQ) -> Gemm into QGemm, and drops the pairs around MaxPool, Flatten and Reshape.
/// </summary>
internal static class QdqRewriter
{
    /// <summary>Operators whose quantized output keeps its input's scale and zero point (ONNX Runtime drops their Q/DQ).</summary>
    private static readonly HashSet<string> PassThrough = new(StringComparer.Ordinal) { "MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice" };

    /// <summary>Operators with a quantized kernel for one input and one output.</summary>
    private static readonly HashSet<string> Unary = new(StringComparer.Ordinal) { "GlobalAveragePool", "AveragePool" };

    internal static QdqPlan Plan(GraphProto graph, ActivationQuantization activations)
    {
        var plan = new QdqPlan();
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var consumers = Consumers(graph);

        void Quantize(string tensor, string source)
        {
            if (!string.IsNullOrEmpty(tensor) && !initializers.ContainsKey(tensor))
            {
                plan.Add(tensor, source);
            }
        }

        void Own(string tensor) => Quantize(tensor, tensor);

        // A quantized operator's output: not when the graph returns it (logits stay float32, and QGemm writes them in
        // float); with uint8 activations, a lone ReLU after it is absorbed by the QuantizeLinear of the ReLU's output.
        void OwnOutput(string tensor)
        {
            if (IsGraphResult(graph, consumers, tensor))
            {
                return;
            }

            if (activations == ActivationQuantization.UInt8
                && consumers.TryGetValue(tensor, out List<NodeProto>? users) && users.Count == 1
                && users[0].OpType == "Relu" && !IsGraphResult(graph, consumers, users[0].Output[0]))
            {
                Own(users[0].Output[0]);
                return;
            }

            Own(tensor);
        }

        for (int index = 0; index < graph.Node.Count; index++)
        {
            NodeProto node = graph.Node[index];
            if (!string.IsNullOrEmpty(node.Domain) && node.Domain != "ai.onnx")
            {
                plan.FloatNodes.Add(Describe(node));
                continue;
            }

            switch (node.OpType)
            {
                case "QuantizeLinear" or "DequantizeLinear" or "QLinearConv" or "ConvInteger" or "MatMulInteger" or "QLinearMatMul":
                    throw new ArgumentException($"The model is already quantized: it holds a {node.OpType} node ('{node.Name}'). Quantize its float32 original.");
                case "Conv" or "Gemm" when IsPlainMatrixOperator(node) && !initializers.ContainsKey(node.Input[0]):
                    CheckWeights(node, initializers);
                    Own(node.Input[0]);
                    plan.WeightNodes.Add(index);
                    OwnOutput(node.Output[0]);
                    break;
                case "Add" when node.Input.Count == 2 && node.Input.All(i => !initializers.ContainsKey(i)):
                    Own(node.Input[0]);
                    Own(node.Input[1]);
                    OwnOutput(node.Output[0]);
                    break;
                case var op when Unary.Contains(op):
                    Own(node.Input[0]);
                    OwnOutput(node.Output[0]);
                    break;
                case var op when PassThrough.Contains(op) && plan.TryGetSource(node.Input[0], out string source):
                    Quantize(node.Output[0], source);
                    break;
                case "Relu" when plan.TryGetSource(node.Output[0], out _):
                    break; // absorbed by the QuantizeLinear of its output (uint8)
                default:
                    if (!PassThrough.Contains(node.OpType) && node.OpType != "Identity")
                    {
                        plan.FloatNodes.Add(Describe(node));
                    }

                    break;
            }
        }

        return plan;
    }

    /// <summary>Writes the QDQ model: <paramref name="model"/> is not changed.</summary>
    internal static ModelProto Write(ModelProto model, QdqPlan plan, IReadOnlyDictionary<string, ActivationRange> ranges, ActivationQuantization activations)
    {
        ModelProto result = model.Clone();
        GraphProto graph = result.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var names = new UniqueNames(graph);
        var dequantized = new Dictionary<string, string>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, (string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var added = new List<TensorProto>();
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        TensorProto.Types.DataType codeType = activations == ActivationQuantization.UInt8 ? TensorProto.Types.DataType.Uint8 : TensorProto.Types.DataType.Int8;

        (string Scale, string ZeroPoint) Parameters(string source)
        {
            if (!parameters.TryGetValue(source, out var pair))
            {
                ActivationRange range = ranges[source];
                pair = (names.Take(source + "_scale"), names.Take(source + "_zero_point"));
                added.Add(FloatTensor(pair.Scale, Array.Empty<long>(), new[] { range.Scale }));
                added.Add(new TensorProto { Name = pair.ZeroPoint, DataType = (int)codeType, RawData = ByteString.CopyFrom(unchecked((byte)range.ZeroPoint)) });
                parameters[source] = pair;
            }

            return pair;
        }

        IEnumerable<NodeProto> QuantizeDequantize(string tensor, string source)
        {
            (string scale, string zeroPoint) = Parameters(source);
            string codes = names.Take(tensor + "_quantized");
            string values = names.Take(tensor + "_dequantized");
            dequantized[tensor] = values;
            yield return Node("QuantizeLinear", names.Take(tensor + "/QuantizeLinear"), new[] { tensor, scale, zeroPoint }, codes);
            yield return Node("DequantizeLinear", names.Take(tensor + "/DequantizeLinear"), new[] { codes, scale, zeroPoint }, values);
        }

        var nodes = new List<NodeProto>();
        foreach (var (tensor, source) in plan.Quantized.Where(q => graph.Input.Any(i => i.Name == q.Tensor)))
        {
            nodes.AddRange(QuantizeDequantize(tensor, source));
        }

        for (int index = 0; index < graph.Node.Count; index++)
        {
            NodeProto node = graph.Node[index];
            string input = node.Input.Count > 0 ? node.Input[0] : string.Empty;
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (dequantized.TryGetValue(node.Input[i], out string? values))
                {
                    node.Input[i] = values;
                }
            }

            if (plan.WeightNodes.Contains(index))
            {
                float inputScale = ranges[plan.SourceOf(input)].Scale;
                nodes.AddRange(QuantizeWeights(node, initializers, inputScale, names, added, replaced));
            }

            nodes.Add(node);
            foreach (string output in node.Output)
            {
                if (plan.TryGetSource(output, out string source))
                {
                    nodes.AddRange(QuantizeDequantize(output, source));
                }
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var stillUsed = new HashSet<string>(nodes.SelectMany(n => n.Input), StringComparer.Ordinal);
        var kept = graph.Initializer.Where(i => !replaced.Contains(i.Name) || stillUsed.Contains(i.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(kept);
        graph.Initializer.AddRange(added);
        return result;
    }

    /// <summary>
    /// The weight (int8, symmetric per output channel) and bias (int32, scale = input scale x weight scale) of a Conv or
    /// Gemm: stored as integer initializers, and the node reads them through DequantizeLinear nodes, which are returned.
    /// </summary>
    private static List<NodeProto> QuantizeWeights(NodeProto node, Dictionary<string, TensorProto> initializers, float inputScale, UniqueNames names, List<TensorProto> added, HashSet<string> replaced)
    {
        TensorProto weight = initializers[node.Input[1]];
        float[] values = FloatValues(weight);
        // Gemm with transB = 0 keeps its output channels in the weight's second dimension.
        int axis = node.OpType == "Gemm" && Attribute(node, "transB") == 0 ? 1 : 0;
        long channels = weight.Dims[axis];
        long inner = weight.Dims.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var maxAbs = new float[channels];
        for (long i = 0; i < values.LongLength; i++)
        {
            long c = (i / inner) % channels;
            maxAbs[c] = Math.Max(maxAbs[c], Math.Abs(values[i]));
        }

        float[] scales = maxAbs.Select(m => m > 0 ? m / 127f : 1f).ToArray();
        var codes = new byte[values.LongLength];
        for (long i = 0; i < values.LongLength; i++)
        {
            long c = (i / inner) % channels;
            codes[i] = unchecked((byte)(sbyte)Math.Clamp(Math.Round(values[i] / scales[c], MidpointRounding.ToEven), -127, 127));
        }

        var nodes = new List<NodeProto> { ReadThroughDequantize(node, 1, weight, TensorProto.Types.DataType.Int8, codes, scales, axis, names, added, replaced) };
        if (node.Input.Count < 3 || string.IsNullOrEmpty(node.Input[2]))
        {
            return nodes;
        }

        TensorProto bias = initializers[node.Input[2]];
        float[] biasValues = FloatValues(bias);
        if (biasValues.LongLength != channels)
        {
            throw new NotSupportedException($"{node.OpType} node '{node.Name}': its bias '{bias.Name}' holds {biasValues.LongLength} values for {channels} output channels; only a per-channel bias can be quantized.");
        }

        float[] biasScales = scales.Select(s => s * inputScale).ToArray();
        var biasCodes = new int[channels];
        for (long c = 0; c < channels; c++)
        {
            biasCodes[c] = (int)Math.Clamp(Math.Round(biasValues[c] / (double)biasScales[c], MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }

        nodes.Add(ReadThroughDequantize(node, 2, bias, TensorProto.Types.DataType.Int32, MemoryMarshal.AsBytes(biasCodes.AsSpan()).ToArray(), biasScales, 0, names, added, replaced));
        return nodes;
    }

    /// <summary>
    /// Stores <paramref name="codes"/> (little-endian values of <paramref name="type"/>, shaped as <paramref name="original"/>)
    /// with one scale per slice along <paramref name="axis"/> and zero points 0, points input <paramref name="slot"/> of
    /// <paramref name="node"/> at their DequantizeLinear, and returns that node; <paramref name="original"/> is marked replaced.
    /// </summary>
    private static NodeProto ReadThroughDequantize(NodeProto node, int slot, TensorProto original, TensorProto.Types.DataType type, byte[] codes, float[] scales, int axis, UniqueNames names, List<TensorProto> added, HashSet<string> replaced)
    {
        string baseName = original.Name;
        var quantized = new TensorProto { Name = names.Take(baseName + "_quantized"), DataType = (int)type, RawData = ByteString.CopyFrom(codes) };
        quantized.Dims.AddRange(original.Dims);
        string scale = names.Take(baseName + "_scale"), zeroPoint = names.Take(baseName + "_zero_point");
        int bytesPerCode = type == TensorProto.Types.DataType.Int32 ? sizeof(int) : sizeof(sbyte);
        added.Add(quantized);
        added.Add(FloatTensor(scale, new[] { (long)scales.Length }, scales));
        added.Add(IntegerTensor(zeroPoint, type, scales.Length, bytesPerCode));
        string values = names.Take(baseName + "_dequantized");
        replaced.Add(original.Name);
        node.Input[slot] = values;
        return Node("DequantizeLinear", names.Take(baseName + "/DequantizeLinear"), new[] { quantized.Name, scale, zeroPoint }, values, axis);
    }

    /// <summary>Conv, or Gemm without transA and with alpha = beta = 1 (what the exporter writes for Linear).</summary>
    private static bool IsPlainMatrixOperator(NodeProto node) =>
        node.OpType == "Conv"
        || (Attribute(node, "transA") == 0 && FloatAttribute(node, "alpha") == 1f && FloatAttribute(node, "beta") == 1f && node.Input.Count >= 2);

    private static void CheckWeights(NodeProto node, Dictionary<string, TensorProto> initializers)
    {
        for (int i = 1; i < Math.Min(node.Input.Count, 3); i++)
        {
            string name = node.Input[i];
            if (string.IsNullOrEmpty(name))
            {
                continue;
            }

            if (!initializers.TryGetValue(name, out TensorProto? tensor) || tensor.DataType != (int)TensorProto.Types.DataType.Float)
            {
                string what = i == 1 ? "weight" : "bias";
                throw new NotSupportedException(
                    $"{node.OpType} node '{node.Name}' takes its {what} from '{name}', which is not a float32 initializer (a float16 weight followed by a Cast, or a computed weight); "
                    + "the quantizer needs float32 weights stored in the model (export with OnnxExportOptions.Float16Weights = false).");
            }
        }
    }

    /// <summary>Whether the graph returns <paramref name="tensor"/>, directly or through Identity nodes.</summary>
    private static bool IsGraphResult(GraphProto graph, Dictionary<string, List<NodeProto>> consumers, string tensor)
    {
        if (graph.Output.Any(o => o.Name == tensor))
        {
            return true;
        }

        return consumers.TryGetValue(tensor, out List<NodeProto>? users)
            && users.Count > 0
            && users.All(u => u.OpType == "Identity" && IsGraphResult(graph, consumers, u.Output[0]));
    }

    private static Dictionary<string, List<NodeProto>> Consumers(GraphProto graph)
    {
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (NodeProto node in graph.Node)
        {
            foreach (string input in node.Input.Where(i => !string.IsNullOrEmpty(i)).Distinct())
            {
                if (!consumers.TryGetValue(input, out List<NodeProto>? list))
                {
                    consumers[input] = list = new List<NodeProto>();
                }

                list.Add(node);
            }
        }

        return consumers;
    }

    private static string Describe(NodeProto node) => $"{node.OpType} '{node.Name}'";

    private static long Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;

    private static float FloatAttribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.F ?? 1f;

    private static float[] FloatValues(TensorProto tensor) =>
        tensor.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray() : tensor.FloatData.ToArray();

    private static TensorProto FloatTensor(string name, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private static TensorProto IntegerTensor(string name, TensorProto.Types.DataType type, long count, int bytesPerValue)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(new byte[count * bytesPerValue]) };
        tensor.Dims.Add(count);
        return tensor;
    }

    private static NodeProto Node(string opType, string name, string[] inputs, string output, long? axis = null)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        if (axis is long a)
        {
            node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        }

        return node;
    }

    /// <summary>Names not yet used in the graph (tensors and nodes).</summary>
    private sealed class UniqueNames
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);

        internal UniqueNames(GraphProto graph)
        {
            _used.UnionWith(graph.Input.Select(i => i.Name));
            _used.UnionWith(graph.Output.Select(o => o.Name));
            _used.UnionWith(graph.Initializer.Select(i => i.Name));
            _used.UnionWith(graph.Node.Select(n => n.Name));
            _used.UnionWith(graph.Node.SelectMany(n => n.Output));
        }

        internal string Take(string name)
        {
            string candidate = name;
            for (int i = 1; !_used.Add(candidate); i++)
            {
                candidate = $"{name}_{i}";
            }

            return candidate;
        }
    }
}
