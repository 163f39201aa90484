using System;
using ResidualNet.Models;
using ResidualNet.Runtime;

namespace ResidualNet.Performance;

/// <summary>Activation checkpointing for the library's networks.</summary>
public static class ResNetCheckpointing
{
    /// <summary>
    /// Turns on activation checkpointing of <paramref name="model"/>'s stages during training (sets
    /// <see cref="ResNet.Checkpointing"/>); weights and state_dict keys are unchanged.
    /// </summary>
    /// <param name="model">The network.</param>
    /// <param name="granularity">Which segments to checkpoint; <see cref="CheckpointGranularity.Block"/> by default.</param>
    /// <returns><paramref name="model"/>, for chaining.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="granularity"/> is not a defined value.</exception>
    public static ResNet WithCheckpointing(this ResNet model, CheckpointGranularity granularity = CheckpointGranularity.Block)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(model);
        if (!Enum.IsDefined(granularity))
        {
            throw new ArgumentOutOfRangeException(nameof(granularity), granularity, $"granularity must be a defined CheckpointGranularity; got {granularity}.");
        }

        model.Checkpointing = granularity;
        return model;
    }
}
