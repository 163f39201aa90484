using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Blocks;
using ResidualNet.Layers;
using ResidualNet.Models;
using TorchSharp.Modules;
using static ResidualNet.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace ResidualNet.Onnx;

/// <summary>ONNX converters for the networks, blocks and layers ResidualNet builds, written from their named parts.</summary>
internal static class ResidualNetConverters
{
    internal static void AddTo(Dictionary<Type, OnnxModuleConverter> converters)
    {
        converters[typeof(ResNet)] = Network;
        converters[typeof(BasicBlock)] = (c, m, p, x) => PostActivation(c, m, p, x, layers: 2, ((BasicBlock)m).HasShortcut);
        converters[typeof(Bottleneck)] = (c, m, p, x) => PostActivation(c, m, p, x, layers: 3, ((Bottleneck)m).HasShortcut);
        converters[typeof(PreActBasicBlock)] = (c, m, p, x) => PreActivation(c, m, p, x, layers: 2, ((PreActBasicBlock)m).HasShortcut);
        converters[typeof(PreActBottleneck)] = (c, m, p, x) => PreActivation(c, m, p, x, layers: 3, ((PreActBottleneck)m).HasShortcut);
        converters[typeof(SqueezeExcitation)] = Squeeze;
        converters[typeof(ZeroPadShortcut)] = (c, m, p, x) => ZeroPad(c, (ZeroPadShortcut)m, p, x);
        converters[typeof(DropPath)] = (c, m, p, x) => x;
    }

    /// <summary>Stem, stages, optional final normalisation, and the head (global average pool, flatten, fc) when present.</summary>
    private static string Network(OnnxExportContext context, nn.Module module, string path, string input)
    {
        var parts = Parts(module);
        string x = input;
        foreach ((string name, nn.Module child) in parts)
        {
            string childPath = OnnxExportContext.Child(path, name);
            if (name == "bn1" && Part(parts, "conv1") is Conv2d)
            {
                continue; // Written with conv1 below.
            }

            if (name == "conv1" && child is Conv2d conv)
            {
                x = context.ConvNorm(conv, childPath, Part(parts, "bn1"), OnnxExportContext.Child(path, "bn1"), x);
                continue;
            }

            if (name == "fc")
            {
                x = context.Graph.AddNode("GlobalAveragePool", path + "/GlobalAveragePool", new[] { x });
                x = context.Graph.AddNode("Flatten", path + "/Flatten", new[] { x }, IntAttribute("axis", 1));
            }

            x = context.Convert(child, childPath, x);
        }

        return x;
    }

    /// <summary>Basic block and bottleneck: (conv, norm, act)* with the last activation after the shortcut addition.</summary>
    private static string PostActivation(OnnxExportContext context, nn.Module module, string path, string input, int layers, bool hasShortcut)
    {
        var parts = Parts(module);
        string y = input;
        for (int i = 1; i <= layers; i++)
        {
            y = ConvNorm(context, parts, path, $"conv{i}", $"bn{i}", y);
            if (i < layers)
            {
                y = Apply(context, parts, path, $"act{i}", y);
            }
        }

        y = Residual(context, parts, path, input, input, y, hasShortcut);
        return Apply(context, parts, path, $"act{layers}", y);
    }

    /// <summary>Pre-activation blocks: (norm, act, conv)*; a projection shortcut sees the first pre-activated input.</summary>
    private static string PreActivation(OnnxExportContext context, nn.Module module, string path, string input, int layers, bool hasShortcut)
    {
        var parts = Parts(module);
        string pre = Apply(context, parts, path, "act1", Apply(context, parts, path, "bn1", input));
        string y = context.Convert(Part(parts, "conv1")!, OnnxExportContext.Child(path, "conv1"), pre);
        for (int i = 2; i <= layers; i++)
        {
            y = Apply(context, parts, path, $"act{i}", Apply(context, parts, path, $"bn{i}", y));
            y = context.Convert(Part(parts, $"conv{i}")!, OnnxExportContext.Child(path, $"conv{i}"), y);
        }

        return Residual(context, parts, path, input, pre, y, hasShortcut);
    }

    /// <summary>Squeeze-and-excitation, drop path (identity at inference) and the shortcut addition.</summary>
    private static string Residual(OnnxExportContext context, IReadOnlyList<(string Name, nn.Module Module)> parts, string path, string input, string shortcutInput, string y, bool hasShortcut)
    {
        if (Part(parts, "se") is { } se)
        {
            y = context.Convert(se, OnnxExportContext.Child(path, "se"), y);
        }

        if (!hasShortcut)
        {
            return y;
        }

        string shortcut = Part(parts, "downsample") is { } downsample
            ? context.Convert(downsample, OnnxExportContext.Child(path, "downsample"), shortcutInput)
            : input;
        return context.Graph.AddNode("Add", path + "/Add", new[] { y, shortcut });
    }

    private static string Squeeze(OnnxExportContext context, nn.Module module, string path, string input)
    {
        var parts = Parts(module);
        string s = context.Graph.AddNode("GlobalAveragePool", path + "/GlobalAveragePool", new[] { input });
        s = context.Convert(Part(parts, "fc1")!, OnnxExportContext.Child(path, "fc1"), s);
        s = context.Convert(Part(parts, "activation")!, OnnxExportContext.Child(path, "activation"), s);
        s = context.Convert(Part(parts, "fc2")!, OnnxExportContext.Child(path, "fc2"), s);
        s = context.Graph.AddNode("Sigmoid", path + "/Sigmoid", new[] { s });
        return context.Graph.AddNode("Mul", path + "/Mul", new[] { input, s });
    }

    /// <summary>Option A: strided subsampling (Slice with steps) and zero channels appended (Pad).</summary>
    private static string ZeroPad(OnnxExportContext context, ZeroPadShortcut shortcut, string path, string input)
    {
        OnnxGraphBuilder g = context.Graph;
        string x = input;
        if (shortcut.Stride > 1)
        {
            x = g.AddNode(
                "Slice",
                path + "/Slice",
                new[]
                {
                    x,
                    g.AddInt64Constant(path + ".starts", 0, 0),
                    g.AddInt64Constant(path + ".ends", long.MaxValue, long.MaxValue),
                    g.AddInt64Constant(path + ".axes", 2, 3),
                    g.AddInt64Constant(path + ".steps", shortcut.Stride, shortcut.Stride),
                });
        }

        long extra = shortcut.OutChannels - shortcut.InChannels;
        return extra == 0
            ? x
            : g.AddNode("Pad", path + "/Pad", new[] { x, g.AddInt64Constant(path + ".pads", 0, 0, 0, 0, 0, extra, 0, 0) });
    }

    /// <summary>A one-line description of the architecture, for the model's metadata.</summary>
    internal static string Describe(ResNetOptions options)
    {
        string stages = string.Join(", ", options.Stages.Select(s => $"{s.Kind} x{s.Blocks} planes {s.Planes} stride {s.Stride}"));
        BlockOptions b = options.Block;
        return $"stem {options.Stem} ({options.StemWidth}), stages [{stages}], input channels {options.InputChannels}, head {options.Head} ({options.NumClasses} classes), "
            + $"activation {b.Activation}, norm {b.Norm}, shortcut {(b.HasShortcut ? b.Shortcut.ToString() : "none (plain twin)")}, groups {b.Groups}, base width {b.BaseWidth}, width x{b.WidthMultiplier}, SE {b.SqueezeExcitation}";
    }

    private static string ConvNorm(OnnxExportContext context, IReadOnlyList<(string Name, nn.Module Module)> parts, string path, string conv, string norm, string input) =>
        context.ConvNorm((Conv2d)Part(parts, conv)!, OnnxExportContext.Child(path, conv), Part(parts, norm), OnnxExportContext.Child(path, norm), input);

    private static string Apply(OnnxExportContext context, IReadOnlyList<(string Name, nn.Module Module)> parts, string path, string name, string input) =>
        Part(parts, name) is { } module ? context.Convert(module, OnnxExportContext.Child(path, name), input) : input;

    private static IReadOnlyList<(string Name, nn.Module Module)> Parts(nn.Module module) => OnnxExportContext.Children(module);

    private static nn.Module? Part(IReadOnlyList<(string Name, nn.Module Module)> parts, string name) =>
        parts.FirstOrDefault(p => p.Name == name).Module;
}
