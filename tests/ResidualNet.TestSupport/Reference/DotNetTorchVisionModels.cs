using System;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using TorchVisionResNet = TorchSharp.Modules.ResNet;

namespace ResidualNet.TestSupport.Reference;

/// <summary>
/// Builds torchvision's ResNet family with TorchSharp's TorchVision (.NET) package 0.107, by Python name. Used to
/// prove the reference harness before ResidualNet's own presets exist.
/// </summary>
/// <remarks>
/// TorchVision 0.107's <c>resnext101_32x8d</c> and <c>resnext101_64x4d</c> builders build ResNeXt-50 depths
/// (6 blocks in layer3 instead of 23); this factory builds the right networks through
/// <see cref="TorchVisionResNet.ResNet101"/> with groups and width per group instead. The faulty builder is
/// available as <see cref="BuggyResNext101_32x8d"/>, to show that the harness catches it.
/// </remarks>
internal static class DotNetTorchVisionModels
{
    public static Module<Tensor, Tensor> Create(string name) => Create(name, numClasses: 1000);

    public static Module<Tensor, Tensor> Create(string name, int numClasses) => name switch
    {
        "resnet18" => TorchVisionResNet.ResNet18(numClasses),
        "resnet34" => TorchVisionResNet.ResNet34(numClasses),
        "resnet50" => TorchVisionResNet.ResNet50(numClasses),
        "resnet101" => TorchVisionResNet.ResNet101(numClasses),
        "resnet152" => TorchVisionResNet.ResNet152(numClasses),
        "resnext50_32x4d" => TorchVisionResNet.ResNet50(numClasses, groups: 32, width_per_group: 4),
        "resnext101_32x8d" => TorchVisionResNet.ResNet101(numClasses, groups: 32, width_per_group: 8),
        "resnext101_64x4d" => TorchVisionResNet.ResNet101(numClasses, groups: 64, width_per_group: 4),
        "wide_resnet50_2" => TorchVisionResNet.ResNet50(numClasses, width_per_group: 128),
        "wide_resnet101_2" => TorchVisionResNet.ResNet101(numClasses, width_per_group: 128),
        _ => throw new ArgumentException($"No TorchVision (.NET) builder for '{name}'.", nameof(name)),
    };

    /// <summary>TorchVision 0.107's own <c>resnext101_32x8d</c> builder, which builds ResNeXt-50 depths.</summary>
    public static Module<Tensor, Tensor> BuggyResNext101_32x8d(string name) => torchvision.models.resnext101_32x8d();
}
