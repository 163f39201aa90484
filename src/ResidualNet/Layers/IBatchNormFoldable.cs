namespace ResidualNet.Layers;

/// <summary>
/// Implemented by a module that knows which of its convolutions feed which of its BatchNorm layers and can fold
/// them for inference. <see cref="Performance.BatchNormFolding.FoldBatchNorms{TModule}"/> calls
/// <see cref="FoldBatchNorm"/> on such a module instead of guessing the pairs from child names, and does not look
/// inside it.
/// </summary>
/// <remarks>
/// The library's residual blocks and networks implement it (folding each conv/BN pair with
/// <see cref="ConvBatchNorm.Fold"/> and then skipping the BN in their forward, which saves the BN pass
/// entirely). A user's own block can implement it too.
/// </remarks>
public interface IBatchNormFoldable
{
    /// <summary>
    /// Folds every (convolution, BatchNorm) pair of the module into the convolution, so that the module computes
    /// in evaluation mode what it computed before, without the BatchNorm arithmetic. Called only on a module in
    /// evaluation mode; the change is one-way (the module must not be trained afterwards).
    /// </summary>
    /// <returns>The number of pairs folded.</returns>
    int FoldBatchNorm();
}
