using System;
using System.Collections.Generic;
using ResidualNet.Layers;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// Pre-activation bottleneck (He et al. 2016): <c>x + conv3(act(bn3(conv2(act(bn2(conv1(act(bn1(x)))))))))</c>,
/// 1x1, 3x3 (grouped, dilated, strided unless <see cref="BlockOptions.StrideOnFirstConv"/>), 1x1 expanding
/// by 4. The shortcut layers take the pre-activated input; a projection is a 1x1 convolution without
/// normalisation. Keys <c>bn1</c>, <c>conv1</c>, <c>bn2</c>, <c>conv2</c>, <c>bn3</c>, <c>conv3</c>, <c>downsample.0</c>.
/// </summary>
public sealed class PreActBottleneck : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    [ComponentName(Name = "bn1")]
    private readonly nn.Module<Tensor, Tensor> _bn1;

    [ComponentName(Name = "act1")]
    private readonly nn.Module<Tensor, Tensor> _act1;

    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn2")]
    private readonly nn.Module<Tensor, Tensor> _bn2;

    [ComponentName(Name = "act2")]
    private readonly nn.Module<Tensor, Tensor> _act2;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "bn3")]
    private readonly nn.Module<Tensor, Tensor> _bn3;

    [ComponentName(Name = "act3")]
    private readonly nn.Module<Tensor, Tensor> _act3;

    [ComponentName(Name = "conv3")]
    private readonly Conv2d _conv3;

    [ComponentName(Name = "se")]
    private readonly SqueezeExcitation? _se;

    [ComponentName(Name = "drop_path")]
    private readonly DropPath? _dropPath;

    [ComponentName(Name = BlockParts.ShortcutName)]
    private readonly nn.Module<Tensor, Tensor>? _downsample;

    /// <summary>Creates the block, initialised as torchvision initialises its blocks.</summary>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="planes">Output channels divided by <see cref="Expansion"/>, at least 1.</param>
    /// <param name="stride">Stride of the block and of its shortcut, at least 1.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A size or option is out of range (the message names it and its value).</exception>
    public PreActBottleneck(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : this(inChannels, planes, stride, options ?? BlockOptions.Default, initialize: true)
    {
    }

    internal PreActBottleneck(long inChannels, long planes, long stride, BlockOptions options, bool initialize)
        : base(nameof(PreActBottleneck), inChannels, planes, Expansion, stride, options)
    {
        using var rngState = initialize ? torch.get_rng_state() : null;
        Width = BlockParts.BottleneckWidth(planes, options);
        long firstStride = options.StrideOnFirstConv ? stride : 1;
        long middleStride = options.StrideOnFirstConv ? 1 : stride;

        _bn1 = options.Norm.Create(inChannels);
        _act1 = options.Activation.Create();
        _conv1 = BlockParts.Conv1x1(inChannels, Width, firstStride);
        _bn2 = options.Norm.Create(Width);
        _act2 = options.Activation.Create();
        _conv2 = BlockParts.Conv3x3(Width, Width, middleStride, options.Groups, options.Dilation);
        _bn3 = options.Norm.Create(Width);
        _act3 = options.Activation.Create();
        _conv3 = BlockParts.Conv1x1(Width, OutChannels);
        _se = options.SqueezeExcitation ? new SqueezeExcitation(OutChannels, options.SqueezeExcitationReduction, options.Activation) : null;
        _dropPath = options.DropPathRate > 0 ? new DropPath(options.DropPathRate) : null;
        _downsample = BlockParts.CreateShortcut(inChannels, OutChannels, stride, options, preActivation: true);
        RegisterComponents();

        if (initialize)
        {
            InitializeFrom(rngState!);
        }
    }

    /// <inheritdoc />
    public override bool HasShortcutLayers => _downsample is not null;

    /// <inheritdoc />
    private protected override nn.Module<Tensor, Tensor> LastNorm => _bn3;

    private protected override nn.Module<Tensor, Tensor>? Shortcut => _downsample;

    // The norms precede the convolutions (norm, activation, convolution): nothing can be folded.
    private protected override IReadOnlyList<(Conv2d Conv, nn.Module<Tensor, Tensor> Norm)> FoldablePairs()
        => Array.Empty<(Conv2d, nn.Module<Tensor, Tensor>)>();

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        BlockParts.CheckInput(input, InChannels, nameof(PreActBottleneck));
        using var scope = torch.NewDisposeScope();
        var pre = _act1.call(_bn1.call(input));
        var y = _conv1.call(pre);
        y = _conv2.call(_act2.call(_bn2.call(y)));
        y = _conv3.call(_act3.call(_bn3.call(y)));
        y = CloseBranch(y, input, pre, _se, _dropPath, _downsample);

        return y.MoveToOuterDisposeScope();
    }
}
