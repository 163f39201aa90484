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
/// The bottleneck residual block of ResNet-50 and deeper, ResNeXt and Wide ResNet: 1x1 (reduce), 3x3
/// (grouped, dilated), 1x1 (expand by 4). The stride sits on the 3x3 convolution (torchvision's "v1.5")
/// unless <see cref="BlockOptions.StrideOnFirstConv"/> puts it on the first 1x1 (the paper's original).
/// State-dict keys as torchvision: <c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>, <c>conv3</c>, <c>bn3</c>,
/// <c>downsample.0</c>, <c>downsample.1</c>.
/// </summary>
public sealed class Bottleneck : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn1")]
    private readonly nn.Module<Tensor, Tensor> _bn1;

    [ComponentName(Name = "act1")]
    private readonly nn.Module<Tensor, Tensor> _act1;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "bn2")]
    private readonly nn.Module<Tensor, Tensor> _bn2;

    [ComponentName(Name = "act2")]
    private readonly nn.Module<Tensor, Tensor> _act2;

    [ComponentName(Name = "conv3")]
    private readonly Conv2d _conv3;

    [ComponentName(Name = "bn3")]
    private readonly nn.Module<Tensor, Tensor> _bn3;

    [ComponentName(Name = "se")]
    private readonly SqueezeExcitation? _se;

    [ComponentName(Name = "drop_path")]
    private readonly DropPath? _dropPath;

    [ComponentName(Name = BlockParts.ShortcutName)]
    private readonly nn.Module<Tensor, Tensor>? _downsample;

    [ComponentName(Name = "act3")]
    private readonly nn.Module<Tensor, Tensor> _act3;

    /// <summary>Creates the block, initialised as torchvision does.</summary>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="planes">Output channels divided by <see cref="Expansion"/>, at least 1.</param>
    /// <param name="stride">Stride of the block and of its shortcut, at least 1.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A size or option is out of range (the message names it and its value).</exception>
    public Bottleneck(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : this(inChannels, planes, stride, options ?? BlockOptions.Default, initialize: true)
    {
    }

    internal Bottleneck(long inChannels, long planes, long stride, BlockOptions options, bool initialize)
        : base(nameof(Bottleneck), inChannels, planes, Expansion, stride, options)
    {
        using var rngState = initialize ? torch.get_rng_state() : null;
        Width = BlockParts.BottleneckWidth(planes, options);
        long firstStride = options.StrideOnFirstConv ? stride : 1;
        long middleStride = options.StrideOnFirstConv ? 1 : stride;

        _conv1 = BlockParts.Conv1x1(inChannels, Width, firstStride);
        _bn1 = options.Norm.Create(Width);
        _act1 = options.Activation.Create();
        _conv2 = BlockParts.Conv3x3(Width, Width, middleStride, options.Groups, options.Dilation);
        _bn2 = options.Norm.Create(Width);
        _act2 = options.Activation.Create();
        _conv3 = BlockParts.Conv1x1(Width, OutChannels);
        _bn3 = options.Norm.Create(OutChannels);
        _se = options.SqueezeExcitation ? new SqueezeExcitation(OutChannels, options.SqueezeExcitationReduction, options.Activation) : null;
        _dropPath = options.DropPathRate > 0 ? new DropPath(options.DropPathRate) : null;
        _downsample = BlockParts.CreateShortcut(inChannels, OutChannels, stride, options, preActivation: false);
        _act3 = options.Activation.Create();
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

    private protected override IReadOnlyList<(Conv2d Conv, nn.Module<Tensor, Tensor> Norm)> FoldablePairs()
        => new[] { (_conv1, _bn1), (_conv2, _bn2), (_conv3, _bn3) };

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        BlockParts.CheckInput(input, InChannels, nameof(Bottleneck));
        CheckNotFoldedInTraining();
        using var scope = torch.NewDisposeScope();
        var y = _act1.call(Normalize(_bn1, _conv1.call(input)));
        y = _act2.call(Normalize(_bn2, _conv2.call(y)));
        y = Normalize(_bn3, _conv3.call(y));
        y = CloseBranch(y, input, input, _se, _dropPath, _downsample);

        return _act3.call(y).MoveToOuterDisposeScope();
    }
}
