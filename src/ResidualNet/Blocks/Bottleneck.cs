using ResidualNet.Layers;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// The bottleneck residual block of ResNet-50 and deeper, ResNeXt and Wide ResNet: 1x1 (reduce), 3x3
/// (grouped, dilated), 1x1 (expand by 4). The stride sits on the 3x3 convolution (torchvision's "v1.5")
/// unless <see cref="BlockOptions.StrideOnFirstConv"/> puts it on the first 1x1 (the paper's original).
/// State-dict keys as torchvision: <c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>, <c>conv3</c>, <c>bn3</c>,
/// <c>downsample.0</c>, <c>downsample.1</c>.
/// </summary>
public sealed class Bottleneck : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    private readonly nn.Module<Tensor, Tensor> _conv1, _bn1, _act1, _conv2, _bn2, _act2, _conv3, _bn3;

    /// <inheritdoc cref="ResidualBlocks.Create(BlockKind, long, long, long, BlockOptions?)"/>
    public Bottleneck(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : base(nameof(Bottleneck), inChannels, planes, Expansion, stride, options, preActivation: false)
    {
        (_conv1, _conv2, _conv3) = BottleneckConvolutions(planes);
        (_bn1, _act1, _bn2, _act2, _bn3) = (Norm(Width), Activation(), Norm(Width), Activation(), Norm(OutChannels));
        RegisterLayers("act3", ("conv1", _conv1), ("bn1", _bn1), ("act1", _act1), ("conv2", _conv2), ("bn2", _bn2), ("act2", _act2),
            ("conv3", _conv3), ("bn3", _bn3));
    }

    private protected override Tensor Branch(Tensor input, out Tensor shortcutInput)
    {
        shortcutInput = input;
        var y = _act1.call(Normalize(_bn1, _conv1.call(input)));
        y = _act2.call(Normalize(_bn2, _conv2.call(y)));
        return Normalize(_bn3, _conv3.call(y));
    }
}
