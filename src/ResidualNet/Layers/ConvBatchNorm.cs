using System;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Folding of one convolution + BatchNorm pair for inference: in evaluation mode <c>bn(conv(x))</c> is an affine
/// function of <c>conv(x)</c> per channel, so it can be merged into the convolution's weight and bias. Whole
/// networks are folded by <see cref="Performance.BatchNormFolding"/>, which uses this.
/// </summary>
public static class ConvBatchNorm
{
    /// <summary>
    /// Folds <paramref name="batchNorm"/> (in evaluation mode) into <paramref name="conv"/>, which must feed it
    /// directly. The convolution's weight keeps its Parameter object and memory layout; a bias is created when the
    /// convolution had none. Afterwards <paramref name="batchNorm"/> is an exact identity in evaluation mode
    /// (running mean 0, running variance <c>1 - eps</c>, weight 1, bias 0), so a forward that still calls it
    /// computes the folded result.
    /// </summary>
    /// <param name="conv">The convolution whose output the BatchNorm normalises.</param>
    /// <param name="batchNorm">The BatchNorm; must have running statistics and <c>num_features</c> equal to the
    /// convolution's output channels.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The channel counts differ, the BatchNorm tracks no running statistics,
    /// or it is in training mode.</exception>
    public static void Fold(Conv2d conv, BatchNorm2d batchNorm)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(batchNorm);
        if (batchNorm.num_features != conv.out_channels)
        {
            throw new ArgumentException(
                $"batchNorm has num_features = {batchNorm.num_features}, but conv has out_channels = {conv.out_channels}.",
                nameof(batchNorm));
        }

        if (batchNorm.training)
        {
            throw new ArgumentException(
                "batchNorm is in training mode (training = true); folding uses the running statistics: call eval() first.",
                nameof(batchNorm));
        }

        if (batchNorm.running_mean is null || batchNorm.running_var is null)
        {
            throw new ArgumentException(
                "batchNorm tracks no running statistics (track_running_stats = false), so it cannot be folded.",
                nameof(batchNorm));
        }

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var weight = conv.weight!;
        var bias = conv.bias is null ? zeros(conv.out_channels, dtype: weight.dtype, device: weight.device) : conv.bias.detach();
        var bnWeight = batchNorm.weight is null ? ones_like(batchNorm.running_mean) : batchNorm.weight.detach();
        var bnBias = batchNorm.bias is null ? zeros_like(batchNorm.running_mean) : batchNorm.bias.detach();
        var (foldedWeight, foldedBias) = nn.utils.fuse_conv_bn_weights(
            weight.detach(), bias, batchNorm.running_mean, batchNorm.running_var, batchNorm.eps, bnWeight, bnBias, false);
        weight.copy_(foldedWeight);
        if (conv.bias is null)
        {
            var newBias = new Parameter(foldedBias.detach().clone(), weight.requires_grad);
            newBias.DetachFromDisposeScope();
            conv.bias = newBias;
        }
        else
        {
            conv.bias.copy_(foldedBias);
        }

        MakeIdentity(batchNorm);
    }

    /// <summary>
    /// Folds every <see cref="BatchNorm2d"/> that directly follows a <see cref="Conv2d"/> among the children of
    /// <paramref name="sequence"/> (torchvision's <c>downsample</c>, a deep stem); does not look deeper.
    /// </summary>
    /// <returns>The number of pairs folded.</returns>
    internal static int FoldAdjacentPairs(Sequential sequence)
    {
        var children = sequence.children().ToList();
        int folded = 0;
        for (int i = 0; i + 1 < children.Count; i++)
        {
            if (children[i] is Conv2d conv && children[i + 1] is BatchNorm2d bn)
            {
                Fold(conv, bn);
                folded++;
            }
        }

        return folded;
    }

    private static void MakeIdentity(BatchNorm2d batchNorm)
    {
        // (x - 0) / sqrt((1 - eps) + eps) * 1 + 0 == x.
        batchNorm.running_mean!.zero_();
        batchNorm.running_var!.fill_(1.0 - batchNorm.eps);
        batchNorm.weight?.fill_(1.0);
        batchNorm.bias?.zero_();
    }
}
