using System;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Squeeze-and-excitation (Hu et al. 2018): global average pool, 1x1 convolution down to
/// <c>channels / reduction</c>, activation, 1x1 convolution back, sigmoid gate, channel-wise scaling.
/// State-dict keys <c>fc1.weight</c>, <c>fc1.bias</c>, <c>fc2.weight</c>, <c>fc2.bias</c> as torchvision's
/// <c>SqueezeExcitation</c>.
/// </summary>
public sealed class SqueezeExcitation : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")]
    private readonly Conv2d _fc1;

    [ComponentName(Name = "activation")]
    private readonly nn.Module<Tensor, Tensor> _activation;

    [ComponentName(Name = "fc2")]
    private readonly Conv2d _fc2;

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">Channels of the input, at least 1.</param>
    /// <param name="reduction">Reduction ratio, at least 1; the squeezed width is <c>max(1, channels / reduction)</c>.</param>
    /// <param name="activation">Activation between the two convolutions; ReLU when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public SqueezeExcitation(long channels, int reduction = 16, ActivationFactory? activation = null) : base(nameof(SqueezeExcitation))
    {
        OneDnnGuard.EnsureApplied();
        if (channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"channels must be at least 1; got {channels}.");
        }

        if (reduction < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, $"reduction must be at least 1; got {reduction}.");
        }

        SqueezeChannels = Math.Max(1, channels / reduction);
        _fc1 = nn.Conv2d(channels, SqueezeChannels, 1);
        _activation = (activation ?? ActivationFactory.ReLU).Create();
        _fc2 = nn.Conv2d(SqueezeChannels, channels, 1);
        RegisterComponents();
    }

    /// <summary>Width of the squeezed representation.</summary>
    public long SqueezeChannels { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(input);
        using var scope = torch.NewDisposeScope();
        var s = nn.functional.adaptive_avg_pool2d(input, 1);
        s = _fc2.call(_activation.call(_fc1.call(s)));
        return (input * torch.sigmoid(s)).MoveToOuterDisposeScope();
    }
}
