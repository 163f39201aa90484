using ResidualNet.Layers;
using static TorchSharp.torch;

namespace ResidualNet.Blocks;

/// <summary>
/// Pre-activation bottleneck (He et al. 2016): <c>x + conv3(act(bn3(conv2(act(bn2(conv1(act(bn1(x)))))))))</c>,
/// 1x1, 3x3 (grouped, dilated, strided unless <see cref="BlockOptions.StrideOnFirstConv"/>), 1x1 expanding
/// by 4. The shortcut layers take the pre-activated input; a projection is a 1x1 convolution without
/// normalisation. Keys <c>bn1</c>, <c>conv1</c>, <c>bn2</c>, <c>conv2</c>, <c>bn3</c>, <c>conv3</c>, <c>downsample.0</c>.
/// </summary>
public sealed class PreActBottleneck : ResidualBlockBase
{
    /// <summary>Output channels per <c>planes</c>.</summary>
    public const int Expansion = 4;

    private readonly nn.Module<Tensor, Tensor> _bn1, _act1, _conv1, _bn2, _act2, _conv2, _bn3, _act3, _conv3;

    /// <inheritdoc cref="ResidualBlocks.Create(BlockKind, long, long, long, BlockOptions?)"/>
    public PreActBottleneck(long inChannels, long planes, long stride = 1, BlockOptions? options = null)
        : base(nameof(PreActBottleneck), inChannels, planes, Expansion, stride, options, preActivation: true)
    {
        (_conv1, _conv2, _conv3) = BottleneckConvolutions(planes);
        (_bn1, _act1, _bn2, _act2, _bn3, _act3) = (Norm(inChannels), Activation(), Norm(Width), Activation(), Norm(Width), Activation());
        RegisterLayers(null, ("bn1", _bn1), ("act1", _act1), ("conv1", _conv1), ("bn2", _bn2), ("act2", _act2), ("conv2", _conv2),
            ("bn3", _bn3), ("act3", _act3), ("conv3", _conv3));
    }

    private protected override Tensor Branch(Tensor input, out Tensor shortcutInput)
    {
        shortcutInput = _act1.call(_bn1.call(input));
        var y = _conv1.call(shortcutInput);
        y = _conv2.call(_act2.call(_bn2.call(y)));
        return _conv3.call(_act3.call(_bn3.call(y)));
    }
}
