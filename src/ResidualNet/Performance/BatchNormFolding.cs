using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// Convolution + BatchNorm folding for inference: in evaluation mode <c>bn(conv(x))</c> is an affine function of
/// <c>conv(x)</c> per channel, so it can be merged into the convolution's weight and bias.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Fold"/> merges one pair: the convolution gets the folded weight and bias, and the BatchNorm is
/// turned into an exact identity (running mean 0, running variance <c>1 - eps</c>, weight 1, bias 0), so any
/// forward that still calls it computes the folded result. A module that can skip its BatchNorm altogether
/// implements <see cref="IBatchNormFoldable"/> and saves the BN pass too.
/// </para>
/// <para>
/// <see cref="FoldBatchNorms{TModule}"/> walks a whole network. Pairs are found by the naming convention of
/// torchvision-style code: a child <c>bnK</c> follows the child <c>convK</c> of the same parent (<c>conv1</c>/<c>bn1</c>,
/// ...), and inside a <see cref="Sequential"/> a <see cref="BatchNorm2d"/> directly after a <see cref="Conv2d"/>
/// (as in torchvision's <c>downsample</c>). This is only correct when the convolution's output goes straight
/// into that BatchNorm, which is what the convention means; modules that break it must implement
/// <see cref="IBatchNormFoldable"/>.
/// </para>
/// <para>Folding is one-way and for inference only: a folded model must not be put back into training.</para>
/// </remarks>
public static class BatchNormFolding
{
    /// <summary>
    /// Folds <paramref name="batchNorm"/> (in evaluation mode) into <paramref name="conv"/>, which must feed it
    /// directly. The convolution's weight keeps its Parameter object and memory layout; a bias is created when the
    /// convolution had none. Afterwards <paramref name="batchNorm"/> is an identity in evaluation mode.
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
    /// Folds every convolution/BatchNorm pair of <paramref name="model"/> (see the class remarks for how pairs are
    /// found), delegating to <see cref="IBatchNormFoldable.FoldBatchNorm"/> where a module implements it.
    /// </summary>
    /// <typeparam name="TModule">The model's type, returned for chaining.</typeparam>
    /// <param name="model">A model in evaluation mode.</param>
    /// <returns><paramref name="model"/> itself.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> (or one of its modules) is in training mode.</exception>
    public static TModule FoldBatchNorms<TModule>(this TModule model) where TModule : nn.Module
    {
        OneDnnGuard.EnsureApplied();
        CountFoldedPairs(model);
        return model;
    }

    /// <summary>
    /// Like <see cref="FoldBatchNorms{TModule}"/>, but returns the number of pairs folded (useful to check that a
    /// network's naming convention was understood: torchvision's resnet18 has 20 pairs).
    /// </summary>
    /// <param name="model">A model in evaluation mode.</param>
    /// <returns>The number of (convolution, BatchNorm) pairs folded.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> (or one of its modules) is in training mode.</exception>
    public static int CountFoldedPairs(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var training = model.modules().FirstOrDefault(m => m.training);
        if (training is not null)
        {
            throw new ArgumentException(
                $"model is in training mode (module '{training.GetName()}' has training = true); folding is for inference: call eval() first.",
                nameof(model));
        }

        return FoldRecursive(model);
    }

    private static int FoldRecursive(nn.Module module)
    {
        if (module is IBatchNormFoldable foldable)
        {
            return foldable.FoldBatchNorm();
        }

        var children = module.named_children().ToList();
        int folded = 0;
        if (module is Sequential)
        {
            for (int i = 0; i + 1 < children.Count; i++)
            {
                if (children[i].Item2 is Conv2d conv && children[i + 1].Item2 is BatchNorm2d bn)
                {
                    Fold(conv, bn);
                    folded++;
                }
            }
        }
        else
        {
            var byName = children.ToDictionary(c => c.Item1, c => c.Item2, StringComparer.Ordinal);
            foreach (var (name, child) in children)
            {
                if (child is BatchNorm2d bn && name.StartsWith("bn", StringComparison.Ordinal)
                    && byName.TryGetValue(string.Concat("conv", name.AsSpan(2)), out var convModule) && convModule is Conv2d conv)
                {
                    Fold(conv, bn);
                    folded++;
                }
            }
        }

        foreach (var (_, child) in children)
        {
            folded += FoldRecursive(child);
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
