using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Layers;
using ResidualNet.Performance;
using ResidualNet.Runtime;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// What the library's four blocks (<see cref="BasicBlock"/>, <see cref="Bottleneck"/>, <see cref="PreActBasicBlock"/>,
/// <see cref="PreActBottleneck"/>) have in common. Only the library derives from it; a user's own block implements
/// <see cref="IResidualBlock"/> instead.
/// </summary>
public abstract class ResidualBlockBase : nn.Module<Tensor, Tensor>, IResidualBlock, IBatchNormFoldable
{
    private protected ResidualBlockBase(string name, long inChannels, long planes, int expansion, long stride, BlockOptions options)
        : base(name)
    {
        OneDnnGuard.EnsureApplied();
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
    /// <summary>
    /// Whether <see cref="FoldBatchNorm"/> has merged this block's BatchNorms into its convolutions: the forward
    /// then skips the BatchNorm calls. A folded block is for inference only (its forward throws in training mode).
    /// </summary>
    public bool IsBatchNormFolded { get; private set; }

    /// <summary>
    /// Folds each BatchNorm that directly follows a convolution of this block (and of its projection shortcut)
    /// into that convolution, for inference: the convolution gets the folded weight and a bias, the BatchNorm is
    /// set to an exact identity (so the state_dict keeps its keys, with identity values, plus the new
    /// <c>convK.bias</c> keys) and the forward no longer calls it. One-way; the block must be in evaluation mode.
    /// Blocks whose normalisation is not BatchNorm (GroupNorm) and pre-activation blocks (their BatchNorms precede
    /// the convolutions) are left unchanged and report 0.
    /// </summary>
    /// <returns>The number of convolution + BatchNorm pairs folded (0 when already folded).</returns>
    /// <exception cref="InvalidOperationException">The block is in training mode.</exception>
    public int FoldBatchNorm()
    {
        if (IsBatchNormFolded)
        {
            return 0;
        }

        var pairs = FoldablePairs();
        if (pairs.Count == 0 || pairs.Any(p => p.Norm is not BatchNorm2d))
        {
            return 0;
        }

        if (modules().FirstOrDefault(m => m.training) is { } training)
        {
            throw new InvalidOperationException(
                $"{GetName()} is in training mode (module '{training.GetName()}' has training = true); folding is for inference: call eval() first.");
        }

        foreach (var (conv, norm) in pairs)
        {
            BatchNormFolding.Fold(conv, (BatchNorm2d)norm);
        }

        int folded = pairs.Count;
        if (Shortcut is { } shortcut)
        {
            folded += BatchNormFolding.CountFoldedPairs(shortcut);
        }

        IsBatchNormFolded = true;
        return folded;
    }

    /// <summary>The (convolution, norm) pairs whose norm directly follows the convolution; empty when none.</summary>
    private protected abstract IReadOnlyList<(Conv2d Conv, nn.Module<Tensor, Tensor> Norm)> FoldablePairs();

    /// <summary>The shortcut's layers, or null.</summary>
    private protected abstract nn.Module<Tensor, Tensor>? Shortcut { get; }

    /// <summary>Applies <paramref name="norm"/> unless it has been folded into the preceding convolution.</summary>
    private protected Tensor Normalize(nn.Module<Tensor, Tensor> norm, Tensor x) => IsBatchNormFolded ? x : norm.call(x);

    /// <summary>Throws when a folded block is asked to train.</summary>
    private protected void CheckNotFoldedInTraining()
    {
        if (IsBatchNormFolded && training)
        {
            throw new InvalidOperationException(
                $"{GetName()} has its BatchNorms folded into its convolutions (inference only) and cannot run in training mode; rebuild or reload the unfolded model to train.");
        }
    }

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
