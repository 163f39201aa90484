using System;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// The paper's option A shortcut (He et al. 2015, section 3.3): subsample by taking every
/// <see cref="Stride"/>-th pixel, then append zero channels up to <see cref="OutChannels"/>.
/// It has no parameters.
/// </summary>
public sealed class ZeroPadShortcut : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the shortcut.</summary>
    /// <param name="inChannels">Input channels, at least 1.</param>
    /// <param name="outChannels">Output channels, at least <paramref name="inChannels"/>.</param>
    /// <param name="stride">Spatial subsampling step, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public ZeroPadShortcut(long inChannels, long outChannels, long stride) : base(nameof(ZeroPadShortcut))
    {
        OneDnnGuard.EnsureApplied();
        if (inChannels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(inChannels), inChannels, $"inChannels must be at least 1; got {inChannels}.");
        }

        if (outChannels < inChannels)
        {
            throw new ArgumentOutOfRangeException(nameof(outChannels), outChannels,
                $"A zero-padding shortcut cannot reduce channels: outChannels = {outChannels} is below inChannels = {inChannels}.");
        }

        if (stride < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be at least 1; got {stride}.");
        }

        InChannels = inChannels;
        OutChannels = outChannels;
        Stride = stride;
    }

    /// <summary>Input channels.</summary>
    public long InChannels { get; }

    /// <summary>Output channels (the extra ones are zero).</summary>
    public long OutChannels { get; }

    /// <summary>Spatial subsampling step.</summary>
    public long Stride { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(input);
        using var scope = torch.NewDisposeScope();
        var x = input;
        if (Stride > 1)
        {
            x = x.slice(2, 0, x.size(2), Stride).slice(3, 0, x.size(3), Stride);
        }

        x = OutChannels > InChannels
            ? nn.functional.pad(x, [0, 0, 0, 0, 0, OutChannels - InChannels])
            : x.alias();
        return x.MoveToOuterDisposeScope();
    }
}
