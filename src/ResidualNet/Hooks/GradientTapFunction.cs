using System;
using System.Collections.Generic;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Hooks;

/// <summary>Receives the gradient that flows through a <see cref="GradientTapFunction"/> node during backward.</summary>
internal interface IGradientTap
{
    /// <summary>Called with the incoming gradient; returns a replacement or null to keep it.</summary>
    Tensor? OnGradient(Tensor gradient);

    /// <summary>Called when <see cref="OnGradient"/> threw or returned an unusable replacement.</summary>
    void OnError(Exception error);
}

/// <summary>
/// Identity autograd function: forward returns its input unchanged (autograd makes it a view), backward hands
/// the incoming gradient to an <see cref="IGradientTap"/>, which may replace it. This is how TorchSharp, which
/// lacks <c>Tensor.register_hook</c>, gets gradient hooks.
/// </summary>
/// <remarks>
/// TorchSharp keeps one instance of the function for all applications, so the per-application tap travels in the
/// autograd context (<c>save_data</c>), never in a field. As in PyTorch's own backward hooks, the output is a view
/// created inside a custom function, so modifying it in place afterwards is an autograd error.
/// </remarks>
internal sealed class GradientTapFunction : autograd.SingleTensorFunction<GradientTapFunction>
{
    private const string TapKey = "residualnet.tap";

    /// <inheritdoc />
    public override string Name => "ResidualNetGradientTap";

    /// <summary>Applies the identity node to <paramref name="input"/>; <paramref name="tap"/> sees its gradient.</summary>
    public static Tensor Apply(Tensor input, IGradientTap tap) => apply(input, tap);

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        // Gradients that never arrive stay undefined: TorchSharp would otherwise build zeros from a cached
        // empty_like whose dispose scope may already be gone.
        ctx.set_materialize_grads(false);
        ctx.save_data(TapKey, vars[1]);
        // Returning the input itself lets autograd make the output a view_as of it: no copy, no orphan wrapper.
        return (Tensor)vars[0];
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var result = grad_output;
        if (grad_output is not null && !grad_output.IsInvalid && ctx.get_data(TapKey) is IGradientTap tap)
        {
            try
            {
                var replacement = tap.OnGradient(grad_output);
                if (replacement is not null && !ReferenceEquals(replacement, grad_output))
                {
                    if (replacement.IsInvalid)
                    {
                        throw new InvalidOperationException("The hook returned a disposed tensor as replacement gradient.");
                    }

                    if (!replacement.shape.AsSpan().SequenceEqual(grad_output.shape) || replacement.dtype != grad_output.dtype)
                    {
                        throw new InvalidOperationException(
                            $"The hook returned a replacement gradient of shape {ShapeText.Of(replacement)} and dtype {replacement.dtype}; " +
                            $"the gradient has shape {ShapeText.Of(grad_output)} and dtype {grad_output.dtype}.");
                    }

                    result = replacement;
                }
            }
#pragma warning disable CA1031 // An exception must not cross the native autograd engine: it is reported on the handle instead.
            catch (Exception error)
#pragma warning restore CA1031
            {
                tap.OnError(error);
            }
        }

        // One entry per forward argument: the tap argument is no tensor, so its gradient is null.
        return new List<Tensor> { result, null! };
    }
}
