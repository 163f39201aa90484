namespace ResidualNet.Blocks;

/// <summary>
/// The shortcut a block uses where its output shape differs from its input shape (stride above 1 or a
/// change of channels). Where the shape does not change, every kind is the identity.
/// </summary>
public enum ShortcutKind
{
    /// <summary>1x1 convolution (with the block's stride) plus normalisation: the paper's option B and
    /// torchvision's <c>downsample.0</c> / <c>downsample.1</c>. The default. Pre-activation blocks use the
    /// convolution alone, as He et al. (2016) do.</summary>
    Projection = 0,

    /// <summary>Strided subsampling plus zero channels, no parameters: the paper's option A (CIFAR ResNets).</summary>
    ZeroPad = 1,

    /// <summary>Average pooling with the stride, then a stride-1 1x1 projection (plus normalisation): ResNet-D
    /// (He et al. 2019, "Bag of Tricks"). Keys <c>downsample.0</c> (pool), <c>downsample.1</c>, <c>downsample.2</c>.</summary>
    AvgPoolProjection = 2,

    /// <summary>Identity only: building a block whose shape changes with this kind throws.</summary>
    Identity = 3,
}
