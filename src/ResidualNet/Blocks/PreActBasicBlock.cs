using ResidualNet.Layers;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// Pre-activation basic block (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
/// <c>x + conv2(act(bn2(conv1(act(bn1(x))))))</c>. Nothing follows the addition, so the identity path is clean.
/// Where the shape changes, the shortcut layers take the pre-activated input <c>act(bn1(x))</c>, as in the
/// authors' code, and a projection is a 1x1 convolution without normalisation. Keys <c>bn1</c>, <c>conv1</c>,
/// <c>bn2</c>, <c>conv2</c>, <c>downsample.0</c>.
/// </summary>
public sealed class PreActBasicBlock : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 1;

    private readonly nn.Module<Tensor, Tensor> _bn1, _act1, _conv1, _bn2, _act2, _conv2;

    /// <inheritdoc cref="ResidualBlocks.Create(BlockKind, long, long, long, BlockOptions?)"/>
    public PreActBasicBlock(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : base(nameof(PreActBasicBlock), inChannels, planes, Expansion, stride, options, preActivation: true)
    {
        (_conv1, _conv2) = BasicConvolutions(planes);
        (_bn1, _act1, _bn2, _act2) = (Norm(inChannels), Activation(), Norm(Width), Activation());
        RegisterLayers(null, ("bn1", _bn1), ("act1", _act1), ("conv1", _conv1), ("bn2", _bn2), ("act2", _act2), ("conv2", _conv2));
    }

    private protected override Tensor Branch(Tensor input, out Tensor shortcutInput)
    {
        shortcutInput = _act1.call(_bn1.call(input));
        var y = _conv1.call(shortcutInput);
        return _conv2.call(_act2.call(_bn2.call(y)));
    }
}
