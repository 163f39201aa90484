using System;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>The input check of the library's modules, made before any native call.</summary>
internal static class ModuleInput
{
    /// <summary>Throws unless <paramref name="input"/> is a 4-D batch with <paramref name="channels"/> channels.</summary>
    /// <param name="input">The module's input.</param>
    /// <param name="channels">The channels the module expects.</param>
    /// <param name="owner">The module's name, for the message.</param>
    internal static void CheckBatch(Tensor input, long channels, string owner)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dimensions != 4)
        {
            throw new ArgumentException(
                $"{owner} expects a 4-D input (batch, channels, height, width); got rank {input.Dimensions} with shape {ShapeText.Of(input)}.",
                nameof(input));
        }

        if (input.size(1) != channels)
        {
            throw new ArgumentException(
                $"{owner} expects {channels} input channels; got {input.size(1)} (input shape {ShapeText.Of(input)}).",
                nameof(input));
        }
    }
}
