using System;
using ResidualNet.Layers;

namespace ResidualNet.Blocks;

/// <summary>
/// Immutable options shared by every block kind. The defaults give torchvision's blocks exactly; make
/// variants with <c>with</c>, for example <c>new BlockOptions { Groups = 32, BaseWidth = 4 }</c> for ResNeXt.
/// </summary>
public sealed record BlockOptions
{
    /// <summary>Default options: torchvision's ResNet blocks.</summary>
    public static BlockOptions Default { get; } = new();

    /// <summary>The most groups, 65,536.</summary>
    public const int MaxGroups = 1 << 16;

    /// <summary>The largest <see cref="BaseWidth"/>, 4,096 (64 times torchvision's default).</summary>
    public const int MaxBaseWidth = 4096;

    /// <summary>The largest <see cref="WidthMultiplier"/>, 64.</summary>
    public const double MaxWidthMultiplier = 64;

    /// <summary>The largest <see cref="Dilation"/>, 1,024.</summary>
    public const int MaxDilation = 1024;

    /// <summary>Groups of the 3x3 convolution (ResNeXt cardinality). Default 1. Bottlenecks only; basic blocks need 1.</summary>
    public int Groups { get; init; } = 1;

    /// <summary>Width per group at <c>planes = 64</c> (torchvision's <c>width_per_group</c>). Default 64.
    /// A bottleneck's inner width is <c>floor(planes * BaseWidth / 64 * WidthMultiplier) * Groups</c>;
    /// basic blocks need 64.</summary>
    public int BaseWidth { get; init; } = 64;

    /// <summary>Wide ResNet factor on the inner width (the 3x3 convolution's channels) of every block. Default 1.
    /// <c>WidthMultiplier = 2</c> on a bottleneck equals torchvision's <c>width_per_group = 128</c>.</summary>
    public double WidthMultiplier { get; init; } = 1.0;

    /// <summary>Dilation of the 3x3 convolutions (padding follows it). Default 1.</summary>
    public int Dilation { get; init; } = 1;

    /// <summary>Activation factory. Default <see cref="ActivationFactory.ReLU"/>.</summary>
    public ActivationFactory Activation { get; init; } = ActivationFactory.ReLU;

    /// <summary>Normalisation factory. Default <see cref="NormFactory.BatchNorm"/>. The state-dict names stay
    /// <c>bn1</c>, <c>bn2</c>... whatever the factory (as in torchvision).</summary>
    public NormFactory Norm { get; init; } = NormFactory.BatchNorm;

    /// <summary>Shortcut used where the block changes shape. Default <see cref="ShortcutKind.Projection"/>.</summary>
    public ShortcutKind Shortcut { get; init; } = ShortcutKind.Projection;

    /// <summary>Whether the block adds its shortcut (default true). False builds the <b>plain twin</b>: the same
    /// residual-branch layers with the same initialisation, no <c>x +</c>, and no shortcut layers at all
    /// (a plain block that changes shape has no projection parameters).</summary>
    public bool HasShortcut { get; init; } = true;

    /// <summary>Adds squeeze-and-excitation (key <c>se</c>) after the residual branch's last layer. Default false.</summary>
    public bool SqueezeExcitation { get; init; }

    /// <summary>Reduction ratio of the squeeze-and-excitation layer. Default 16.</summary>
    public int SqueezeExcitationReduction { get; init; } = 16;

    /// <summary>Stochastic-depth rate of the residual branch, in [0, 1). Default 0 (off). Identity in eval mode.
    /// Needs a shortcut. In a <c>ResNet</c> this is the last block's rate; earlier blocks get linearly smaller
    /// rates (Huang et al. 2016's linear decay).</summary>
    public double DropPathRate { get; init; }

    /// <summary>Initialises the weight of the residual branch's last normalisation to zero, so that every
    /// residual block starts as the identity (torchvision's <c>zero_init_residual</c>). Default false.
    /// Has no effect with <see cref="NormFactory.None"/>. In pre-activation blocks the last normalisation precedes the
    /// last convolution; with ReLU (which maps 0 to 0) the branch then also starts at zero.</summary>
    public bool ZeroInitLastNorm { get; init; }

    /// <summary>Bottlenecks only: put the stride on the first 1x1 convolution (the paper's original ResNet v1)
    /// instead of on the 3x3 convolution (torchvision's "v1.5", the default false).</summary>
    public bool StrideOnFirstConv { get; init; }

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the property and the value.</exception>
    public void Validate()
    {
        if (Groups < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Groups), Groups, $"Groups must be at least 1; got {Groups}.");
        }

        if (BaseWidth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, $"BaseWidth must be at least 1; got {BaseWidth}.");
        }

        if (!double.IsFinite(WidthMultiplier) || WidthMultiplier <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(WidthMultiplier), WidthMultiplier, $"WidthMultiplier must be positive and finite; got {WidthMultiplier}.");
        }

        if (Dilation < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Dilation), Dilation, $"Dilation must be at least 1; got {Dilation}.");
        }

        if (SqueezeExcitationReduction < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SqueezeExcitationReduction), SqueezeExcitationReduction,
                $"SqueezeExcitationReduction must be at least 1; got {SqueezeExcitationReduction}.");
        }

        if (!(DropPathRate >= 0 && DropPathRate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(DropPathRate), DropPathRate, $"DropPathRate must be in [0, 1); got {DropPathRate}.");
        }

        if (DropPathRate > 0 && !HasShortcut)
        {
            throw new ArgumentException(
                $"DropPathRate = {DropPathRate} needs a shortcut: dropping the branch of a plain block (HasShortcut = false) would cut the network.",
                nameof(DropPathRate));
        }

        if (Groups > MaxGroups)
        {
            throw new ArgumentOutOfRangeException(nameof(Groups), Groups, $"Groups must be at most {MaxGroups}; got {Groups}.");
        }

        if (BaseWidth > MaxBaseWidth)
        {
            throw new ArgumentOutOfRangeException(nameof(BaseWidth), BaseWidth, $"BaseWidth must be at most {MaxBaseWidth}; got {BaseWidth}.");
        }

        if (WidthMultiplier > MaxWidthMultiplier)
        {
            throw new ArgumentOutOfRangeException(nameof(WidthMultiplier), WidthMultiplier, $"WidthMultiplier must be at most {MaxWidthMultiplier}; got {WidthMultiplier}.");
        }

        if (Dilation > MaxDilation)
        {
            throw new ArgumentOutOfRangeException(nameof(Dilation), Dilation, $"Dilation must be at most {MaxDilation}; got {Dilation}.");
        }

        if (Activation is null)
        {
            throw new ArgumentNullException(nameof(Activation));
        }

        if (Norm is null)
        {
            throw new ArgumentNullException(nameof(Norm));
        }

        if (!Enum.IsDefined(Shortcut))
        {
            throw new ArgumentOutOfRangeException(nameof(Shortcut), Shortcut, $"Unknown shortcut kind {Shortcut}.");
        }
    }
}
