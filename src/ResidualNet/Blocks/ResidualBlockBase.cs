using System;
using System.Collections.Generic;
using ResidualNet.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// What the library's four blocks (<see cref="BasicBlock"/>, <see cref="Bottleneck"/>, <see cref="PreActBasicBlock"/>,
/// <see cref="PreActBottleneck"/>) have in common. Only the library derives from it; a user's own block implements
/// <see cref="IResidualBlock"/> instead.
/// </summary>
public abstract class ResidualBlockBase : nn.Module<Tensor, Tensor>, IResidualBlock
{
    private protected ResidualBlockBase(string name, long inChannels, long planes, int expansion, long stride, BlockOptions options)
        : base(name)
    {
        ArgumentNullException.ThrowIfNull(options);
        BlockParts.CheckBlockArguments(inChannels, planes, stride, options);
        Options = options;
        InChannels = inChannels;
        OutChannels = planes * expansion;
        Stride = stride;
    }

    /// <inheritdoc />
    public bool HasShortcut => Options.HasShortcut;

    /// <summary>The options the block was built with.</summary>
    public BlockOptions Options { get; }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels (<c>planes * expansion</c>).</summary>
    public long OutChannels { get; }

    /// <summary>Channels inside the residual branch: the first convolution's output (see <see cref="BlockOptions.BaseWidth"/>).</summary>
    public long Width { get; private protected set; }

    /// <summary>Stride of the block.</summary>
    public long Stride { get; }

    /// <summary>True when the shortcut has layers (a projection or zero padding) rather than being the identity;
    /// always false for a plain block.</summary>
    public abstract bool HasShortcutLayers { get; }

    /// <summary>The state dict in PyTorch's order (per module: parameters, buffers, then children), so that keys
    /// come in the same order as in Python torchvision.</summary>
    /// <param name="destination">Dictionary to add to; a new one when null.</param>
    /// <param name="prefix">Key prefix (joined with a dot); none when null or empty.</param>
    public override Dictionary<string, Tensor> state_dict(Dictionary<string, Tensor>? destination = null, string? prefix = null)
        => BlockParts.StateDictInPyTorchOrder(this, destination, prefix);

    /// <summary>Applies <see cref="BlockOptions.ZeroInitLastNorm"/> when it is set.</summary>
    internal void ApplyZeroInit()
    {
        if (Options.ZeroInitLastNorm)
        {
            BlockParts.ZeroInit(LastNorm);
        }
    }

    /// <summary>The residual branch's last normalisation layer.</summary>
    private protected abstract nn.Module<Tensor, Tensor> LastNorm { get; }

    /// <summary>Initialises a block built on its own, from the generator state its constructor found.</summary>
    private protected void InitializeFrom(Tensor rngState)
    {
        torch.set_rng_state(rngState);
        BlockParts.Initialize(this);
        ApplyZeroInit();
    }

    /// <summary>The end every block shares: squeeze-excitation, drop path and the shortcut addition (not for a plain block).</summary>
    private protected Tensor CloseBranch(Tensor branch, Tensor input, Tensor shortcutInput,
        SqueezeExcitation? se, DropPath? dropPath, nn.Module<Tensor, Tensor>? downsample)
    {
        if (se is not null)
        {
            branch = se.call(branch);
        }

        if (!Options.HasShortcut)
        {
            return branch;
        }

        if (dropPath is not null)
        {
            branch = dropPath.call(branch);
        }

        return branch + (downsample is null ? input : downsample.call(shortcutInput));
    }
}
