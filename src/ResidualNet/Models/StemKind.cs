namespace ResidualNet.Models;

/// <summary>The first layers of a network, before the residual stages.</summary>
public enum StemKind
{
    /// <summary>7x7 convolution with stride 2, normalisation, activation, 3x3 max-pool with stride 2 (torchvision; output 1/4 of the input size).</summary>
    ImageNet = 0,

    /// <summary>One 3x3 convolution with stride 1, normalisation, activation (He et al. 2015, section 4.2). Pre-activation
    /// networks keep only the convolution, since their first block normalises and activates.</summary>
    Cifar = 1,

    /// <summary>ResNet-C deep stem (He et al. 2019): three 3x3 convolutions (the first with stride 2; widths
    /// StemWidth/2, StemWidth/2, StemWidth) as <c>conv1.0</c>..<c>conv1.6</c>, then normalisation, activation, max-pool.</summary>
    Deep = 2,
}

/// <summary>The last layers of a network.</summary>
public enum HeadKind
{
    /// <summary>Global average pool, flatten, fully connected layer <c>fc</c> to <c>NumClasses</c> logits (torchvision).</summary>
    AveragePoolLinear = 0,

    /// <summary>No head: the network returns the last stage's feature map (a feature extractor).</summary>
    None = 1,
}
