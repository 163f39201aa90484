using System;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Stochastic depth (Huang et al. 2016) applied per sample: in training, each sample's residual branch is
/// zeroed with probability <see cref="Rate"/> and the kept ones are scaled by <c>1 / (1 - rate)</c>;
/// in evaluation mode it is the identity. It has no parameters.
/// </summary>
public sealed class DropPath : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    /// <param name="rate">Drop probability in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rate"/> is outside [0, 1).</exception>
    public DropPath(double rate) : base(nameof(DropPath))
    {
        OneDnnGuard.EnsureApplied();
        if (!(rate >= 0 && rate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, $"The drop-path rate must be in [0, 1); got {rate}.");
        }

        Rate = rate;
    }

    /// <summary>The probability of dropping a sample's residual branch in training.</summary>
    public double Rate { get; }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(input);
        if (!training || Rate == 0)
        {
            return input.alias();
        }

        using var scope = torch.NewDisposeScope();
        var keep = 1.0 - Rate;
        var shape = new long[input.Dimensions];
        shape[0] = input.size(0);
        for (int i = 1; i < shape.Length; i++)
        {
            shape[i] = 1;
        }

        var mask = torch.empty(shape, input.dtype, input.device).bernoulli_(keep).div_(keep);
        return (input * mask).MoveToOuterDisposeScope();
    }
}
