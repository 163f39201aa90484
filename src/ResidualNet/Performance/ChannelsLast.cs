using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// The channels_last memory format (NHWC strides for an NCHW tensor) for models and inputs.
/// </summary>
/// <remarks>
/// <para>
/// TorchSharp 0.107 has no method that takes a memory format, so the format is reached through strides:
/// <c>t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)</c> keeps the logical NCHW shape while the
/// data is laid out channel-innermost. libtorch's convolution kernels see the strides and pick their NHWC
/// implementations (oneDNN on CPU), which are faster for most ResNet shapes; the output of such a convolution
/// keeps the format, so converting the input and the 4-D weights is enough.
/// </para>
/// <para>The values never change: a channels_last tensor is equal element by element to its source.</para>
/// </remarks>
public static class ChannelsLast
{
    /// <summary>
    /// Returns <paramref name="tensor"/> with channels_last strides: a new tensor with the same shape and values,
    /// or the tensor itself (a new handle to it) when it already has that layout.
    /// </summary>
    /// <param name="tensor">A 4-D (N, C, H, W) tensor.</param>
    /// <returns>A tensor whose <see cref="IsChannelsLast"/> is true.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> is not 4-D.</exception>
    public static Tensor ToChannelsLast(this Tensor tensor)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dim() != 4)
        {
            throw new ArgumentException(
                $"channels_last needs a 4-D (N, C, H, W) tensor; tensor has {tensor.dim()} dimensions (shape {ShapeText.Of(tensor)}).",
                nameof(tensor));
        }

        if (IsChannelsLast(tensor))
        {
            return tensor.alias();
        }

        using var scope = NewDisposeScope();
        return tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether <paramref name="tensor"/> is a 4-D tensor laid out channels_last, that is with strides
    /// (H·W·C, 1, W·C, C) up to the size-1 dimensions, whose strides do not matter.
    /// </summary>
    /// <param name="tensor">Any tensor.</param>
    /// <returns>True for a dense channels_last 4-D tensor; false otherwise (including every tensor that is not 4-D).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    public static bool IsChannelsLast(this Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dim() != 4)
        {
            return false;
        }

        long[] shape = tensor.shape;
        long[] strides = tensor.stride();
        long c = shape[1], h = shape[2], w = shape[3];
        long[] expected = { h * w * c, 1, w * c, c };
        for (int d = 0; d < 4; d++)
        {
            if (shape[d] != 1 && strides[d] != expected[d])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Converts, in place, every 4-D parameter and buffer of <paramref name="model"/> (convolution weights) to
    /// channels_last. The <see cref="TorchSharp.Modules.Parameter"/> objects are kept (their storage is swapped
    /// with <c>set_</c>), so an optimizer or hook created before the call still refers to the model's
    /// parameters. A gradient that already exists keeps its old layout (it is still correct); new gradients
    /// follow the parameter's layout.
    /// </summary>
    /// <typeparam name="TModule">The module's type, returned for chaining.</typeparam>
    /// <param name="model">Any TorchSharp module.</param>
    /// <returns><paramref name="model"/> itself.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    public static TModule ToChannelsLast<TModule>(this TModule model) where TModule : nn.Module
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        var tensors = new List<Tensor>(model.parameters());
        tensors.AddRange(model.buffers());
        foreach (var tensor in tensors.Where(t => t.dim() == 4 && !IsChannelsLast(t)))
        {
            using var converted = tensor.detach().permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
            tensor.set_(converted);
        }

        return model;
    }
}
