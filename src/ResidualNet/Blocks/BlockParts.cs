using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ResidualNet.Layers;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>Layers and checks shared by the four block kinds and by the networks.</summary>
internal static class BlockParts
{
    internal const string ShortcutName = "downsample";

    internal static Conv2d Conv3x3(long inChannels, long outChannels, long stride = 1, long groups = 1, long dilation = 1)
        => nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: dilation, dilation: dilation, groups: groups, bias: false);

    internal static Conv2d Conv1x1(long inChannels, long outChannels, long stride = 1)
        => nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false);

    /// <summary>Validates the arguments common to every block constructor.</summary>
    internal static void CheckBlockArguments(long inChannels, long planes, long stride, BlockOptions options)
    {
        if (inChannels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, $"inChannels must be at least 1; got {inChannels}.");
        }

        if (planes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(planes), planes, $"planes must be at least 1; got {planes}.");
        }

        if (stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be at least 1; got {stride}.");
        }

        options.Validate();
    }

    /// <summary>Basic blocks accept neither grouped convolutions nor another base width (as torchvision).</summary>
    internal static void CheckBasicOptions(BlockOptions options, string blockName)
    {
        if (options.Groups != 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Groups,
                $"{blockName} supports only options.Groups = 1; got {options.Groups}. Use a bottleneck block for ResNeXt.");
        }

        if (options.BaseWidth != 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BaseWidth,
                $"{blockName} supports only options.BaseWidth = 64; got {options.BaseWidth}. Use WidthMultiplier for a wide basic block.");
        }
    }

    /// <summary>Inner width of a basic block (first convolution's output).</summary>
    internal static long BasicWidth(long planes, BlockOptions options)
        => CheckWidth((long)(planes * options.WidthMultiplier), planes, options);

    /// <summary>torchvision's bottleneck width: <c>int(planes * (base_width / 64.0)) * groups</c>, times the multiplier.</summary>
    internal static long BottleneckWidth(long planes, BlockOptions options)
        => CheckWidth((long)(planes * (options.BaseWidth / 64.0) * options.WidthMultiplier) * options.Groups, planes, options);

    private static long CheckWidth(long width, long planes, BlockOptions options)
    {
        if (width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BaseWidth, string.Create(CultureInfo.InvariantCulture,
                $"The inner width is 0 for planes = {planes}, options.BaseWidth = {options.BaseWidth}, WidthMultiplier = {options.WidthMultiplier}: raise BaseWidth or WidthMultiplier."));
        }

        return width;
    }

    /// <summary>
    /// The shortcut layers, or null for the identity and for a plain block.
    /// </summary>
    internal static nn.Module<Tensor, Tensor>? CreateShortcut(long inChannels, long outChannels, long stride, BlockOptions options, bool preActivation)
    {
        if (!options.HasShortcut || (stride == 1 && inChannels == outChannels))
        {
            return null;
        }

        switch (options.Shortcut)
        {
            case ShortcutKind.Projection:
                return preActivation
                    ? nn.Sequential(Conv1x1(inChannels, outChannels, stride))
                    : nn.Sequential(Conv1x1(inChannels, outChannels, stride), options.Norm.Create(outChannels));
            case ShortcutKind.ZeroPad:
                if (outChannels < inChannels)
                {
                    throw new ArgumentException(
                        $"A zero-padding shortcut cannot reduce channels from {inChannels} to {outChannels}; use ShortcutKind.Projection.",
                        nameof(options));
                }

                return new ZeroPadShortcut(inChannels, outChannels, stride);
            case ShortcutKind.AvgPoolProjection:
                nn.Module<Tensor, Tensor> pool = stride > 1
                    ? nn.AvgPool2d(stride, stride, ceil_mode: true, count_include_pad: false)
                    : nn.Identity();
                return preActivation
                    ? nn.Sequential(pool, Conv1x1(inChannels, outChannels))
                    : nn.Sequential(pool, Conv1x1(inChannels, outChannels), options.Norm.Create(outChannels));
            default:
                throw new ArgumentException(
                    $"Shortcut = {options.Shortcut} cannot change the shape from {inChannels} channels to {outChannels} with stride {stride}; use Projection, ZeroPad or AvgPoolProjection.",
                    nameof(options));
        }
    }

    /// <summary>Throws unless <paramref name="input"/> is a 4-D batch with <paramref name="channels"/> channels.</summary>
    internal static void CheckInput(Tensor input, long channels, string owner)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dimensions != 4)
        {
            throw new ArgumentException(
                $"{owner} expects a 4-D input (batch, channels, height, width); got rank {input.Dimensions} with shape {ShapeText.Of(input)}.",
                nameof(input));
        }

        if (input.size(1) != channels)
        {
            throw new ArgumentException(
                $"{owner} expects {channels} input channels; got {input.size(1)} (input shape {ShapeText.Of(input)}).",
                nameof(input));
        }
    }

    /// <summary>
    /// torchvision's initialisation: convolutions kaiming-normal (fan_out, ReLU gain) with zero bias,
    /// normalisation weight 1 and bias 0, linear layers PyTorch's default. The residual branches are drawn
    /// first and the shortcut layers last, so that a network and its plain twin built from the same seed
    /// get the same residual-branch weights.
    /// </summary>
    internal static void Initialize(nn.Module root)
    {
        using var noGrad = torch.no_grad();
        var modules = root.named_modules().ToList();
        foreach (var (name, module) in modules.Where(m => !IsInShortcut(m.name)))
        {
            InitializeOne(module);
        }

        foreach (var (name, module) in modules.Where(m => IsInShortcut(m.name)))
        {
            InitializeOne(module);
        }
    }

    private static bool IsInShortcut(string name)
        => name.Split('.').Contains(ShortcutName, StringComparer.Ordinal);

    private static void InitializeOne(nn.Module module)
    {
        switch (module)
        {
            case Conv2d conv:
                nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                if (conv.bias is not null)
                {
                    nn.init.zeros_(conv.bias);
                }

                break;
            case BatchNorm2d bn:
                OnesAndZeros(bn.weight, bn.bias);
                break;
            case GroupNorm gn:
                OnesAndZeros(gn.weight, gn.bias);
                break;
            case Linear linear:
                nn.init.kaiming_uniform_(linear.weight, a: Math.Sqrt(5));
                if (linear.bias is not null)
                {
                    var bound = 1.0 / Math.Sqrt(linear.weight!.size(1));
                    nn.init.uniform_(linear.bias, -bound, bound);
                }

                break;
        }
    }

    private static void OnesAndZeros(Tensor? weight, Tensor? bias)
    {
        if (weight is not null)
        {
            nn.init.ones_(weight);
        }

        if (bias is not null)
        {
            nn.init.zeros_(bias);
        }
    }

    /// <summary>Zeroes the weight (and keeps the zero bias) of a block's last normalisation layer.</summary>
    internal static void ZeroInit(nn.Module<Tensor, Tensor> norm)
    {
        using var noGrad = torch.no_grad();
        switch (norm)
        {
            case BatchNorm2d { weight: not null } bn:
                nn.init.zeros_(bn.weight);
                break;
            case GroupNorm { weight: not null } gn:
                nn.init.zeros_(gn.weight);
                break;
        }
    }
}
