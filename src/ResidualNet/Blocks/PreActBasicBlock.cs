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
/// Pre-activation basic block (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
/// <c>x + conv2(act(bn2(conv1(act(bn1(x))))))</c>. Nothing follows the addition, so the identity path is clean.
/// Where the shape changes, the shortcut layers take the pre-activated input <c>act(bn1(x))</c>, as in the
/// authors' code, and a projection is a 1x1 convolution without normalisation. Keys <c>bn1</c>, <c>conv1</c>,
/// <c>bn2</c>, <c>conv2</c>, <c>downsample.0</c>.
/// </summary>
public sealed class PreActBasicBlock : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 1;

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

    [ComponentName(Name = "se")]
    private readonly SqueezeExcitation? _se;

    [ComponentName(Name = "drop_path")]
    private readonly DropPath? _dropPath;

    [ComponentName(Name = BlockParts.ShortcutName)]
    private readonly nn.Module<Tensor, Tensor>? _downsample;

    /// <summary>Creates the block, initialised as torchvision initialises its blocks.</summary>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="planes">Output channels, at least 1.</param>
    /// <param name="stride">Stride of the first convolution and of the shortcut, at least 1.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A size or option is out of range (the message names it and its value).</exception>
    public PreActBasicBlock(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : this(inChannels, planes, stride, options ?? BlockOptions.Default, initialize: true)
    {
    }

    internal PreActBasicBlock(long inChannels, long planes, long stride, BlockOptions options, bool initialize)
        : base(nameof(PreActBasicBlock), inChannels, planes, Expansion, stride, options)
    {
        using var rngState = initialize ? torch.get_rng_state() : null;
        BlockParts.CheckBasicOptions(options, nameof(PreActBasicBlock));
        Width = BlockParts.BasicWidth(planes, options);

        _bn1 = options.Norm.Create(inChannels);
        _act1 = options.Activation.Create();
        _conv1 = BlockParts.Conv3x3(inChannels, Width, stride, dilation: options.Dilation);
        _bn2 = options.Norm.Create(Width);
        _act2 = options.Activation.Create();
        _conv2 = BlockParts.Conv3x3(Width, OutChannels, dilation: options.Dilation);
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
    private protected override nn.Module<Tensor, Tensor> LastNorm => _bn2;

    private protected override nn.Module<Tensor, Tensor>? Shortcut => _downsample;

    // The norms precede the convolutions (norm, activation, convolution): nothing can be folded.
    private protected override IReadOnlyList<(Conv2d Conv, nn.Module<Tensor, Tensor> Norm)> FoldablePairs()
        => Array.Empty<(Conv2d, nn.Module<Tensor, Tensor>)>();

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        BlockParts.CheckInput(input, InChannels, nameof(PreActBasicBlock));
        using var scope = torch.NewDisposeScope();
        var pre = _act1.call(_bn1.call(input));
        var y = _conv1.call(pre);
        y = _conv2.call(_act2.call(_bn2.call(y)));
        y = CloseBranch(y, input, pre, _se, _dropPath, _downsample);

        return y.MoveToOuterDisposeScope();
    }
}
