using ResidualNet.Layers;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// The basic residual block of ResNet-18/34 and of the CIFAR ResNets (He et al. 2015):
/// <c>act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))</c>, two 3x3 convolutions, expansion 1.
/// State-dict keys as torchvision: <c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>, then <c>downsample.0</c>
/// and <c>downsample.1</c> for a projection shortcut.
/// </summary>
public sealed class BasicBlock : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 1;

    private readonly nn.Module<Tensor, Tensor> _conv1, _bn1, _act1, _conv2, _bn2;

    /// <inheritdoc cref="ResidualBlocks.Create(BlockKind, long, long, long, BlockOptions?)"/>
    public BasicBlock(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : base(nameof(BasicBlock), inChannels, planes, Expansion, stride, options, preActivation: false)
    {
        (_conv1, _conv2) = BasicConvolutions(planes);
        (_bn1, _act1, _bn2) = (Norm(Width), Activation(), Norm(OutChannels));
        RegisterLayers("act2", ("conv1", _conv1), ("bn1", _bn1), ("act1", _act1), ("conv2", _conv2), ("bn2", _bn2));
    }

    private protected override Tensor Branch(Tensor input, out Tensor shortcutInput)
    {
        shortcutInput = input;
        var y = _act1.call(Normalize(_bn1, _conv1.call(input)));
        return Normalize(_bn2, _conv2.call(y));
    }
}
