using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Creates the normalisation layer that follows (or, in pre-activation blocks, precedes) a convolution.
/// Passed as a factory, as in torchvision, so that one setting decides the normalisation of a whole network.
/// The built-in factories are cached singletons, so options records that use them compare equal.
/// </summary>
public sealed class NormFactory
{
    private readonly Func<long, nn.Module<Tensor, Tensor>> _create;

    private NormFactory(string name, bool isIdentity, Func<long, nn.Module<Tensor, Tensor>> create, int? groupNormGroups = null)
    {
        Name = name;
        IsIdentity = isIdentity;
        _create = create;
        GroupNormGroups = groupNormGroups;
    }

    /// <summary>A short display name, for example <c>"BatchNorm"</c> or <c>"GroupNorm(32)"</c>.</summary>
    public string Name { get; }

    /// <summary>True for <see cref="None"/>: the created layer is an identity with no parameters.</summary>
    public bool IsIdentity { get; }

    /// <summary>The number of groups for a factory made by <see cref="GroupNorm"/>; null for every other factory
    /// (a <see cref="Custom"/> factory is never taken for group normalisation, whatever its name).</summary>
    internal int? GroupNormGroups { get; }

    /// <summary>2-D batch normalisation with PyTorch's defaults (eps 1e-5, momentum 0.1); the default.</summary>
    public static NormFactory BatchNorm { get; } = new("BatchNorm", false, channels => nn.BatchNorm2d(channels));

    /// <summary>No normalisation: an identity layer without parameters (for the "without BN" experiments).</summary>
    public static NormFactory None { get; } = new("None", true, _ => nn.Identity());

    /// <summary>Group normalisation with the given number of groups, which must divide every channel count it meets.</summary>
    /// <param name="groups">Number of groups, at least 1 (32 is the usual choice).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="groups"/> is below 1.</exception>
    public static NormFactory GroupNorm(int groups = 32)
    {
        if (groups < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"GroupNorm needs at least 1 group; got {groups}.");
        }

        return new NormFactory(FormattableString.Invariant($"GroupNorm({groups})"), false, channels =>
        {
            if (channels % groups != 0)
            {
                throw new ArgumentException(
                    FormattableString.Invariant($"GroupNorm groups = {groups} does not divide the channel count {channels}."),
                    nameof(groups));
            }

            return nn.GroupNorm(groups, channels);
        }, groups);
    }

    /// <summary>A user-defined normalisation.</summary>
    /// <param name="name">Display name.</param>
    /// <param name="create">Returns a new module for the given channel count on every call.</param>
    /// <exception cref="ArgumentException">The name is empty.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static NormFactory Custom(string name, Func<long, nn.Module<Tensor, Tensor>> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        return new NormFactory(name, false, create);
    }

    /// <summary>Creates a normalisation layer for <paramref name="channels"/> channels.</summary>
    /// <param name="channels">Number of channels, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is below 1.</exception>
    /// <exception cref="ArgumentException">The factory cannot normalise that many channels (GroupNorm groups do not divide it).</exception>
    public nn.Module<Tensor, Tensor> Create(long channels)
    {
        if (channels < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"A normalisation layer needs at least 1 channel; got {channels}.");
        }

        return _create(channels);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
