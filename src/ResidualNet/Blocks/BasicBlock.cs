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
/// The basic residual block of ResNet-18/34 and of the CIFAR ResNets (He et al. 2015):
/// <c>act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))</c>, two 3x3 convolutions, expansion 1.
/// State-dict keys as torchvision: <c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>, then <c>downsample.0</c>
/// and <c>downsample.1</c> for a projection shortcut.
/// </summary>
public sealed class BasicBlock : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 1;

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

    [ComponentName(Name = "se")]
    private readonly SqueezeExcitation? _se;

    [ComponentName(Name = "drop_path")]
    private readonly DropPath? _dropPath;

    [ComponentName(Name = BlockParts.ShortcutName)]
    private readonly nn.Module<Tensor, Tensor>? _downsample;

    [ComponentName(Name = "act2")]
    private readonly nn.Module<Tensor, Tensor> _act2;

    /// <summary>Creates the block, initialised as torchvision does.</summary>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="planes">Output channels (times <see cref="Expansion"/>), at least 1.</param>
    /// <param name="stride">Stride of the first convolution and of the shortcut, at least 1.</param>
    /// <param name="options">Block options; <see cref="BlockOptions.Default"/> when null.</param>
    /// <exception cref="ArgumentException">A size or option is out of range (the message names it and its value).</exception>
    public BasicBlock(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : this(inChannels, planes, stride, options ?? BlockOptions.Default, initialize: true)
    {
    }

    internal BasicBlock(long inChannels, long planes, long stride, BlockOptions options, bool initialize)
        : base(nameof(BasicBlock), inChannels, planes, Expansion, stride, options)
    {
        using var rngState = initialize ? torch.get_rng_state() : null;
        BlockParts.CheckBasicOptions(options, nameof(BasicBlock));
        Width = BlockParts.BasicWidth(planes, options);

        _conv1 = BlockParts.Conv3x3(inChannels, Width, stride, dilation: options.Dilation);
        _bn1 = options.Norm.Create(Width);
        _act1 = options.Activation.Create();
        _conv2 = BlockParts.Conv3x3(Width, OutChannels, dilation: options.Dilation);
        _bn2 = options.Norm.Create(OutChannels);
        _se = options.SqueezeExcitation ? new SqueezeExcitation(OutChannels, options.SqueezeExcitationReduction, options.Activation) : null;
        _dropPath = options.DropPathRate > 0 ? new DropPath(options.DropPathRate) : null;
        _downsample = BlockParts.CreateShortcut(inChannels, OutChannels, stride, options, preActivation: false);
        _act2 = options.Activation.Create();
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

    private protected override IReadOnlyList<(Conv2d Conv, nn.Module<Tensor, Tensor> Norm)> FoldablePairs()
        => new[] { (_conv1, _bn1), (_conv2, _bn2) };

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        BlockParts.CheckInput(input, InChannels, nameof(BasicBlock));
        CheckNotFoldedInTraining();
        using var scope = torch.NewDisposeScope();
        var y = _act1.call(Normalize(_bn1, _conv1.call(input)));
        y = Normalize(_bn2, _conv2.call(y));
        y = CloseBranch(y, input, input, _se, _dropPath, _downsample);

        return _act2.call(y).MoveToOuterDisposeScope();
    }
}
