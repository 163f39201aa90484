using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Google.Protobuf;
using Onnx;
using ResidualNet.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Onnx;

/// <summary>
/// Writes a network as an ONNX model (opset <see cref="OnnxExportOptions.Opset"/>) with eval-mode semantics: BatchNorm
/// uses its running statistics (folded into the convolutions by default), dropout and drop path are the identity.
/// The batch dimension is dynamic. TorchSharp itself cannot export ONNX; the exporter knows the structure of every
/// module ResidualNet builds and of TorchSharp's common layers, and takes converters for a user's own modules.
/// </summary>
public static class OnnxExporter
{
    private const string BatchDimension = "batch";

    /// <summary>Exports <paramref name="model"/> to the file at <paramref name="path"/>.</summary>
    /// <exception cref="OnnxExportException">A module of the network has no converter; the message names it and its path.</exception>
    public static void Export(nn.Module<Tensor, Tensor> model, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ModelProto proto = ToModelProto(model, options);
        using FileStream file = File.Create(path);
        proto.WriteTo(file);
    }

    /// <summary>Exports <paramref name="model"/> to an in-memory ONNX model (serialize it with <c>ToByteArray()</c>).</summary>
    /// <exception cref="OnnxExportException">A module of the network has no converter; the message names it and its path.</exception>
    public static ModelProto ToModelProto(nn.Module<Tensor, Tensor> model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        options.Validate();

        var graph = new GraphProto { Name = model.GetType().Name };
        var builder = new OnnxGraphBuilder(graph, options.Float16Weights);
        builder.Reserve(new[] { options.InputName, options.OutputName });

        Dictionary<Type, OnnxModuleConverter> converters = BuiltInConverters.All();
        ResidualNetConverters.AddTo(converters);
        foreach (KeyValuePair<Type, OnnxModuleConverter> user in options.Converters)
        {
            converters[user.Key] = user.Value;
        }

        var context = new OnnxExportContext(builder, options, converters);
        string output = context.Convert(model, string.Empty, options.InputName);
        graph.Node.Add(new NodeProto { OpType = "Identity", Name = options.OutputName + "/Identity", Input = { output }, Output = { options.OutputName } });

        graph.Input.Add(InputInfo(model, options));
        graph.Output.Add(new ValueInfoProto
        {
            Name = options.OutputName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });

        var proto = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "ResidualNet.Onnx",
            ProducerVersion = ProducerVersion(),
            Graph = graph,
            DocString = $"{model.GetType().Name} exported by ResidualNet.Onnx",
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = OnnxExportOptions.Opset });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "residualnet.model_type", Value = model.GetType().FullName ?? model.GetType().Name });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "residualnet.batchnorm", Value = options.FoldBatchNorm ? "folded" : "kept" });
        if (model is ResNet resnet)
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = "residualnet.architecture", Value = ResidualNetConverters.Describe(resnet.Options) });
        }

        foreach (KeyValuePair<string, string> entry in options.Metadata)
        {
            proto.MetadataProps.Add(new StringStringEntryProto { Key = entry.Key, Value = entry.Value });
        }

        return proto;
    }

    private static ValueInfoProto InputInfo(nn.Module model, OnnxExportOptions options)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDimension });
        if (options.InputSize is { } size)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size.Channels });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size.Height });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size.Width });
        }
        else
        {
            Conv2d? first = model.modules().OfType<Conv2d>().FirstOrDefault();
            shape.Dim.Add(first is null
                ? new TensorShapeProto.Types.Dimension { DimParam = "channels" }
                : new TensorShapeProto.Types.Dimension { DimValue = first.in_channels });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "height" });
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "width" });
        }

        return new ValueInfoProto
        {
            Name = options.InputName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private static string ProducerVersion() =>
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(OnnxExporter).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";
}
