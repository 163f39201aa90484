using System;
using System.Collections.Generic;
using System.Linq;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static ResidualNet.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace ResidualNet.Onnx;

/// <summary>ONNX converters for TorchSharp's own layers, in eval-mode semantics.</summary>
internal static class BuiltInConverters
{
    internal static Dictionary<Type, OnnxModuleConverter> All() => new()
    {
        [typeof(Sequential)] = SequentialConverter,
        [typeof(Conv2d)] = (c, m, p, x) => Conv(c, (Conv2d)m, p, x),
        [typeof(BatchNorm2d)] = (c, m, p, x) => BatchNorm(c, (BatchNorm2d)m, p, x),
        [typeof(GroupNorm)] = (c, m, p, x) => GroupNormalization(c, (GroupNorm)m, p, x),
        [typeof(Linear)] = (c, m, p, x) => Gemm(c, (Linear)m, p, x),
        [typeof(ReLU)] = (c, m, p, x) => c.Graph.AddNode("Relu", p + "/Relu", new[] { x }),
        [typeof(Sigmoid)] = (c, m, p, x) => c.Graph.AddNode("Sigmoid", p + "/Sigmoid", new[] { x }),
        [typeof(Tanh)] = (c, m, p, x) => c.Graph.AddNode("Tanh", p + "/Tanh", new[] { x }),
        [typeof(LeakyReLU)] = (c, m, p, x) => c.Graph.AddNode("LeakyRelu", p + "/LeakyRelu", new[] { x }, FloatAttribute("alpha", (float)((LeakyReLU)m).negative_slope)),
        [typeof(SiLU)] = (c, m, p, x) => c.Graph.AddNode("Mul", p + "/SiLU", new[] { x, c.Graph.AddNode("Sigmoid", p + "/Sigmoid", new[] { x }) }),
        [typeof(GELU)] = (c, m, p, x) => Gelu(c, (GELU)m, p, x),
        [typeof(MaxPool2d)] = (c, m, p, x) => MaxPool(c, (MaxPool2d)m, p, x),
        [typeof(AvgPool2d)] = (c, m, p, x) => AvgPool(c, (AvgPool2d)m, p, x),
        [typeof(AdaptiveAvgPool2d)] = (c, m, p, x) => AdaptiveAvgPool(c, (AdaptiveAvgPool2d)m, p, x),
        [typeof(Flatten)] = (c, m, p, x) => FlattenNode(c, (Flatten)m, p, x),
        [typeof(Identity)] = (c, m, p, x) => x,
        [typeof(Dropout)] = (c, m, p, x) => x,
    };

    /// <summary>Children in order; a convolution directly followed by a BatchNorm2d is written as one (folded) node.</summary>
    private static string SequentialConverter(OnnxExportContext context, nn.Module module, string path, string input)
    {
        IReadOnlyList<(string Name, nn.Module Module)> children = OnnxExportContext.Children(module);
        string x = input;
        for (int i = 0; i < children.Count; i++)
        {
            (string name, nn.Module child) = children[i];
            string childPath = OnnxExportContext.Child(path, name);
            if (child is Conv2d conv && i + 1 < children.Count && children[i + 1].Module is BatchNorm2d)
            {
                x = context.ConvNorm(conv, childPath, children[i + 1].Module, OnnxExportContext.Child(path, children[i + 1].Name), x);
                i++;
                continue;
            }

            x = context.Convert(child, childPath, x);
        }

        return x;
    }

    internal static string Conv(OnnxExportContext context, Conv2d conv, string path, string input)
    {
        AttributeProto[] attributes = ConvAttributes(conv, path);
        var inputs = new List<string> { input, context.Graph.AddWeight(OnnxExportContext.Child(path, "weight"), conv.weight!) };
        if (conv.bias is not null)
        {
            inputs.Add(context.Graph.AddWeight(OnnxExportContext.Child(path, "bias"), conv.bias));
        }

        return context.Graph.AddNode("Conv", path + "/Conv", inputs, attributes);
    }

    /// <summary>A convolution whose weight and bias absorb the following eval-mode BatchNorm (computed in float64).</summary>
    internal static string FoldedConv(OnnxExportContext context, Conv2d conv, string convPath, BatchNorm2d bn, string bnPath, string input)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor mean = RunningStat(bn.running_mean, bnPath, "running_mean").to(ScalarType.Float64);
        Tensor variance = RunningStat(bn.running_var, bnPath, "running_var").to(ScalarType.Float64);
        long channels = mean.shape[0];
        Tensor gamma = bn.weight is null ? torch.ones(channels, ScalarType.Float64) : bn.weight.detach().cpu().to(ScalarType.Float64);
        Tensor beta = bn.bias is null ? torch.zeros(channels, ScalarType.Float64) : bn.bias.detach().cpu().to(ScalarType.Float64);
        Tensor scale = gamma / (variance + bn.eps).sqrt();
        Tensor weight = conv.weight!.detach().cpu().to(ScalarType.Float64) * scale.reshape(-1, 1, 1, 1);
        Tensor convBias = conv.bias is null ? torch.zeros(channels, ScalarType.Float64) : conv.bias.detach().cpu().to(ScalarType.Float64);
        Tensor bias = ((convBias - mean) * scale) + beta;

        var inputs = new[]
        {
            input,
            context.Graph.AddWeight(OnnxExportContext.Child(convPath, "weight"), weight),
            context.Graph.AddWeight(OnnxExportContext.Child(bnPath, "folded_bias"), bias),
        };
        return context.Graph.AddNode("Conv", convPath + "/Conv", inputs, ConvAttributes(conv, convPath));
    }

    private static AttributeProto[] ConvAttributes(Conv2d conv, string path)
    {
        if (conv.padding_mode != PaddingModes.Zeros)
        {
            throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(Conv2d), $"padding mode {conv.padding_mode} is not supported (only zeros)");
        }

        long[] kernel = conv.kernel_size;
        long[] dilation = conv.dilation;
        long[] padding = conv.padding_type switch
        {
            null => conv.padding ?? new long[] { 0, 0 },
            Padding.Valid => new long[] { 0, 0 },
            Padding.Same when kernel.Zip(dilation).All(kd => kd.First % 2 == 1) => kernel.Zip(dilation, (k, d) => d * (k - 1) / 2).ToArray(),
            _ => throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(Conv2d), "'same' padding with an even kernel is not supported"),
        };
        return new[]
        {
            IntsAttribute("kernel_shape", kernel),
            IntsAttribute("strides", conv.stride),
            IntsAttribute("pads", new[] { padding[0], padding[1], padding[0], padding[1] }),
            IntsAttribute("dilations", dilation),
            IntAttribute("group", conv.groups),
        };
    }

    private static string BatchNorm(OnnxExportContext context, BatchNorm2d bn, string path, string input)
    {
        using var scope = torch.NewDisposeScope();
        Tensor mean = RunningStat(bn.running_mean, path, "running_mean");
        Tensor variance = RunningStat(bn.running_var, path, "running_var");
        long channels = mean.shape[0];
        var inputs = new[]
        {
            input,
            context.Graph.AddWeight(OnnxExportContext.Child(path, "weight"), bn.weight ?? torch.ones(channels)),
            context.Graph.AddWeight(OnnxExportContext.Child(path, "bias"), bn.bias ?? torch.zeros(channels)),
            context.Graph.AddWeight(OnnxExportContext.Child(path, "running_mean"), mean),
            context.Graph.AddWeight(OnnxExportContext.Child(path, "running_var"), variance),
        };
        return context.Graph.AddNode("BatchNormalization", path + "/BatchNormalization", inputs, FloatAttribute("epsilon", (float)bn.eps));
    }

    private static Tensor RunningStat(Tensor? stat, string path, string name) =>
        stat?.detach().cpu() ?? throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(BatchNorm2d), $"it keeps no {name} (track_running_stats is off), so it has no eval-mode meaning");

    /// <summary>GroupNorm as Reshape to (N, G, -1), InstanceNormalization over each group, Reshape back, then the per-channel affine.</summary>
    private static string GroupNormalization(OnnxExportContext context, GroupNorm norm, string path, string input)
    {
        OnnxGraphBuilder g = context.Graph;
        using var scope = torch.NewDisposeScope();
        long groups = norm.num_groups;
        string grouped = g.AddNode("Reshape", path + "/Reshape", new[] { input, g.AddInt64Constant(path + ".group_shape", 0, groups, -1) });
        string normalized = g.AddNode(
            "InstanceNormalization",
            path + "/InstanceNormalization",
            new[] { grouped, g.AddWeight(path + ".group_scale", torch.ones(groups)), g.AddWeight(path + ".group_bias", torch.zeros(groups)) },
            FloatAttribute("epsilon", (float)norm.eps));
        string shape = g.AddNode("Shape", path + "/Shape", new[] { input });
        string restored = g.AddNode("Reshape", path + "/Reshape", new[] { normalized, shape });
        if (norm.weight is null)
        {
            return restored;
        }

        string scaled = g.AddNode("Mul", path + "/Mul", new[] { restored, g.AddWeight(OnnxExportContext.Child(path, "weight"), norm.weight.detach().reshape(-1, 1, 1)) });
        return norm.bias is null ? scaled : g.AddNode("Add", path + "/Add", new[] { scaled, g.AddWeight(OnnxExportContext.Child(path, "bias"), norm.bias.detach().reshape(-1, 1, 1)) });
    }

    private static string Gemm(OnnxExportContext context, Linear linear, string path, string input)
    {
        var inputs = new List<string> { input, context.Graph.AddWeight(OnnxExportContext.Child(path, "weight"), linear.weight!) };
        if (linear.bias is not null)
        {
            inputs.Add(context.Graph.AddWeight(OnnxExportContext.Child(path, "bias"), linear.bias));
        }

        return context.Graph.AddNode("Gemm", path + "/Gemm", inputs, IntAttribute("transB", 1));
    }

    /// <summary>GELU: exact as 0.5 x (1 + erf(x / sqrt 2)); the tanh approximation as PyTorch computes it.</summary>
    private static string Gelu(OnnxExportContext context, GELU gelu, string path, string input)
    {
        OnnxGraphBuilder g = context.Graph;
        string half = g.AddFloatConstant(path + ".half", 0.5f);
        string one = g.AddFloatConstant(path + ".one", 1f);
        string inner;
        if (gelu.approximate == GELU.Approximate.tanh)
        {
            string cube = g.AddNode("Mul", path + "/Cube", new[] { g.AddNode("Mul", path + "/Square", new[] { input, input }), input });
            string poly = g.AddNode("Add", path + "/Poly", new[] { input, g.AddNode("Mul", path + "/CubeScale", new[] { cube, g.AddFloatConstant(path + ".c", 0.044715f) }) });
            string arg = g.AddNode("Mul", path + "/Arg", new[] { poly, g.AddFloatConstant(path + ".k", (float)Math.Sqrt(2 / Math.PI)) });
            inner = g.AddNode("Tanh", path + "/Tanh", new[] { arg });
        }
        else
        {
            string arg = g.AddNode("Div", path + "/Div", new[] { input, g.AddFloatConstant(path + ".sqrt2", (float)Math.Sqrt(2)) });
            inner = g.AddNode("Erf", path + "/Erf", new[] { arg });
        }

        string onePlus = g.AddNode("Add", path + "/OnePlus", new[] { inner, one });
        return g.AddNode("Mul", path + "/Gelu", new[] { g.AddNode("Mul", path + "/Half", new[] { input, half }), onePlus });
    }

    private static string MaxPool(OnnxExportContext context, MaxPool2d pool, string path, string input)
    {
        long[] kernel = pool.kernel_size;
        long[] stride = pool.stride ?? kernel;
        long[] padding = pool.padding ?? new long[] { 0, 0 };
        long[] dilation = pool.dilation ?? new long[] { 1, 1 };
        return context.Graph.AddNode(
            "MaxPool",
            path + "/MaxPool",
            new[] { input },
            IntsAttribute("kernel_shape", kernel),
            IntsAttribute("strides", stride),
            IntsAttribute("pads", new[] { padding[0], padding[1], padding[0], padding[1] }),
            IntsAttribute("dilations", dilation),
            IntAttribute("ceil_mode", pool.ceil_mode ? 1 : 0));
    }

    private static string AvgPool(OnnxExportContext context, AvgPool2d pool, string path, string input)
    {
        if (pool.divisor_override is not null)
        {
            throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(AvgPool2d), "divisor_override has no ONNX equivalent");
        }

        long[] kernel = pool.kernel_size;
        long[] stride = pool.stride ?? kernel;
        long[] padding = pool.padding ?? new long[] { 0, 0 };
        return context.Graph.AddNode(
            "AveragePool",
            path + "/AveragePool",
            new[] { input },
            IntsAttribute("kernel_shape", kernel),
            IntsAttribute("strides", stride),
            IntsAttribute("pads", new[] { padding[0], padding[1], padding[0], padding[1] }),
            IntAttribute("ceil_mode", pool.ceil_mode ? 1 : 0),
            IntAttribute("count_include_pad", pool.count_include_pad ? 1 : 0));
    }

    private static string AdaptiveAvgPool(OnnxExportContext context, AdaptiveAvgPool2d pool, string path, string input)
    {
        if (pool.output_size.Any(s => s != 1))
        {
            throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(AdaptiveAvgPool2d), $"only output size 1x1 is supported (got {string.Join("x", pool.output_size)})");
        }

        return context.Graph.AddNode("GlobalAveragePool", path + "/GlobalAveragePool", new[] { input });
    }

    private static string FlattenNode(OnnxExportContext context, Flatten flatten, string path, string input)
    {
        if (flatten.end_dim != -1)
        {
            throw new OnnxExportException(OnnxExportContext.DisplayPath(path), nameof(Flatten), $"only end_dim -1 is supported (got {flatten.end_dim})");
        }

        return context.Graph.AddNode("Flatten", path + "/Flatten", new[] { input }, IntAttribute("axis", flatten.start_dim));
    }
}
