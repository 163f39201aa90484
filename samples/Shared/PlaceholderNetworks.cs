using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Samples;

/// <summary>
/// Stand-in networks used by the samples until they are wired to the ResidualNet library's networks
/// (ResidualNet.Models). Each sample has ONE factory function (see its <c>Models.cs</c>) where that switch happens.
/// </summary>
public static class PlaceholderNetworks
{
    /// <summary>
    /// A plain (no shortcut) CIFAR-style convnet for 1 x 28 x 28 input: a 3x3 stem, three stages of
    /// <paramref name="layersPerStage"/> 3x3 conv-BN-ReLU layers with <paramref name="width"/>, 2x and 4x channels
    /// (stride 2 at the start of stages 2 and 3), global average pooling and a linear classifier.
    /// Depth = 3 * layersPerStage + 2 weighted layers.
    /// </summary>
    /// <param name="layersPerStage">Conv layers per stage, 1 or more.</param>
    /// <param name="width">Channels of the first stage.</param>
    /// <param name="classes">Number of classes.</param>
    /// <returns>The network.</returns>
    public static nn.Module<Tensor, Tensor> PlainConvNet(int layersPerStage = 1, int width = 16, int classes = 10)
    {
        System.ArgumentOutOfRangeException.ThrowIfLessThan(layersPerStage, 1);
        System.ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("stem", nn.Conv2d(1, width, 3, padding: 1, bias: false)),
            ("stem_bn", nn.BatchNorm2d(width)),
            ("stem_relu", nn.ReLU()),
        };
        int channels = width;
        for (int stage = 0; stage < 3; stage++)
        {
            int outChannels = width << stage;
            for (int i = 0; i < layersPerStage; i++)
            {
                int stride = stage > 0 && i == 0 ? 2 : 1;
                layers.Add(($"s{stage}_conv{i}", nn.Conv2d(channels, outChannels, 3, stride: stride, padding: 1, bias: false)));
                layers.Add(($"s{stage}_bn{i}", nn.BatchNorm2d(outChannels)));
                layers.Add(($"s{stage}_relu{i}", nn.ReLU()));
                channels = outChannels;
            }
        }

        layers.Add(("pool", nn.AdaptiveAvgPool2d(1)));
        layers.Add(("flatten", nn.Flatten()));
        layers.Add(("fc", nn.Linear(channels, classes)));
        return nn.Sequential(layers);
    }
}
