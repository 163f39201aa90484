using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Creates a fresh activation module each time a layer needs one (blocks never share an activation instance,
/// so a forward hook on one activation sees one call per forward pass). The built-in factories are cached
/// singletons, so options records that use them compare equal.
/// </summary>
public sealed class ActivationFactory
{
    private readonly Func<nn.Module<Tensor, Tensor>> _create;

    private ActivationFactory(string name, Func<nn.Module<Tensor, Tensor>> create)
    {
        Name = name;
        _create = create;
    }

    /// <summary>A short display name, for example <c>"ReLU"</c> or <c>"LeakyReLU(0.01)"</c>.</summary>
    public string Name { get; }

    /// <summary>Rectified linear unit, out of place (the default of every block and network).</summary>
    public static ActivationFactory ReLU { get; } = new("ReLU", () => nn.ReLU());

    /// <summary>Logistic sigmoid (saturates; its derivative is at most 0.25).</summary>
    public static ActivationFactory Sigmoid { get; } = new("Sigmoid", () => nn.Sigmoid());

    /// <summary>Hyperbolic tangent (saturates; its derivative is at most 1).</summary>
    public static ActivationFactory Tanh { get; } = new("Tanh", () => nn.Tanh());

    /// <summary>Gaussian error linear unit (exact, not the tanh approximation).</summary>
    public static ActivationFactory GELU { get; } = new("GELU", () => nn.GELU());

    /// <summary>Sigmoid linear unit, also called swish: <c>x * sigmoid(x)</c>.</summary>
    public static ActivationFactory SiLU { get; } = new("SiLU", () => nn.SiLU());

    /// <summary>Leaky ReLU with PyTorch's default negative slope of 0.01.</summary>
    public static ActivationFactory LeakyReLU { get; } = new("LeakyReLU(0.01)", () => nn.LeakyReLU(0.01));

    /// <summary>Leaky ReLU with the given negative slope.</summary>
    /// <param name="negativeSlope">Slope for negative inputs; finite and at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">The slope is negative, infinite or NaN.</exception>
    public static ActivationFactory LeakyReLUWithSlope(double negativeSlope)
    {
        if (!double.IsFinite(negativeSlope) || negativeSlope < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope,
                $"The negative slope must be finite and at least 0; got {negativeSlope}.");
        }

        return new ActivationFactory(FormattableString.Invariant($"LeakyReLU({negativeSlope})"), () => nn.LeakyReLU(negativeSlope));
    }

    /// <summary>A user-defined activation.</summary>
    /// <param name="name">Display name.</param>
    /// <param name="create">Returns a new module on every call (never a shared instance).</param>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static ActivationFactory Custom(string name, Func<nn.Module<Tensor, Tensor>> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        return new ActivationFactory(name, create);
    }

    /// <summary>Creates a new activation module.</summary>
    public nn.Module<Tensor, Tensor> Create() => _create();

    /// <inheritdoc />
    public override string ToString() => Name;
}
