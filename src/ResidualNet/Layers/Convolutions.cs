using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>torchvision's <c>conv3x3</c> and <c>conv1x1</c>: the bias-free convolutions that blocks and stems are made of.</summary>
internal static class Convolutions
{
    /// <summary>A 3x3 convolution whose padding follows the dilation (the spatial size is kept at stride 1).</summary>
    internal static Conv2d Conv3x3(long inChannels, long outChannels, long stride = 1, long groups = 1, long dilation = 1)
        => nn.Conv2d(inChannels, outChannels, 3, stride: stride, padding: dilation, dilation: dilation, groups: groups, bias: false);

    /// <summary>A 1x1 convolution.</summary>
    internal static Conv2d Conv1x1(long inChannels, long outChannels, long stride = 1)
        => nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false);
}
