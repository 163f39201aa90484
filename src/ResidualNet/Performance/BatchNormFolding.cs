using System;
using System.Linq;
using ResidualNet.Layers;
using ResidualNet.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// Convolution + BatchNorm folding of a whole network, for inference: every pair is merged into the convolution
/// by <see cref="ConvBatchNorm.Fold"/> (see there for the arithmetic and what is left of the BatchNorm).
/// </summary>
/// <remarks>
/// <para>
/// A module that implements <see cref="IBatchNormFoldable"/> (the library's blocks and networks) is asked to fold
/// itself and is not looked into; it also skips its folded BatchNorms, saving the BN pass. Elsewhere pairs are
/// found by the naming convention of torchvision-style code: a child <c>bnK</c> follows the child <c>convK</c> of
/// the same parent (<c>conv1</c>/<c>bn1</c>, ...), and inside a <see cref="Sequential"/> a <see cref="BatchNorm2d"/>
/// directly after a <see cref="Conv2d"/> (as in torchvision's <c>downsample</c>). This is only correct when the
/// convolution's output goes straight into that BatchNorm, which is what the convention means; modules that break
/// it must implement <see cref="IBatchNormFoldable"/>.
/// </para>
/// <para>Folding is one-way and for inference only: a folded model must not be put back into training.</para>
/// </remarks>
public static class BatchNormFolding
{
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
        FoldAndCountPairs(model);
        return model;
    }

    /// <summary>
    /// Folds like <see cref="FoldBatchNorms{TModule}"/> (one-way: the model changes) and returns how many pairs it
    /// folded, to check that a network's naming convention was understood: torchvision's resnet18 has 20 pairs.
    /// </summary>
    /// <param name="model">A model in evaluation mode.</param>
    /// <returns>The number of (convolution, BatchNorm) pairs folded.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> (or one of its modules) is in training mode.</exception>
    public static int FoldAndCountPairs(nn.Module model)
    {
        OneDnnGuard.EnsureApplied();
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
        if (module is Sequential sequence)
        {
            folded += ConvBatchNorm.FoldAdjacentPairs(sequence);
        }
        else
        {
            var byName = children.ToDictionary(c => c.Item1, c => c.Item2, StringComparer.Ordinal);
            foreach (var (name, child) in children)
            {
                if (child is BatchNorm2d bn && name.StartsWith("bn", StringComparison.Ordinal)
                    && byName.TryGetValue(string.Concat("conv", name.AsSpan(2)), out var convModule) && convModule is Conv2d conv)
                {
                    ConvBatchNorm.Fold(conv, bn);
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
}
