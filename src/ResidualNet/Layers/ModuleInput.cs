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

    /// <summary>
    /// Throws unless <paramref name="input"/> has the dtype and device of <paramref name="parameter"/> (the module's
    /// first parameter), so a float64, integer, half or complex input to a float32 module, or a float32 input to a
    /// bf16 one, is reported before libtorch's own message.
    /// </summary>
    /// <param name="input">The module's input.</param>
    /// <param name="parameter">A parameter of the module, or null when it has none.</param>
    /// <param name="owner">The module's name, for the message.</param>
    internal static void CheckDtypeAndDevice(Tensor input, Tensor? parameter, string owner)
    {
        if (parameter is null || parameter.IsInvalid)
        {
            return;
        }

        if (input.dtype != parameter.dtype || input.device_type != parameter.device_type || input.device_index != parameter.device_index)
        {
            throw new ArgumentException(
                $"{owner} expects an input of dtype {parameter.dtype} on {parameter.device} (its parameters'); got dtype {input.dtype} on {input.device} " +
                $"(input shape {ShapeText.Of(input)}). Convert the input with .to({parameter.dtype}) / .to(device), or the model with .to(...).",
                nameof(input));
        }
    }
}
