using System;
using static TorchSharp.torch;

namespace ResidualNet.Hooks;

/// <summary>A tensor with a gradient hook, and the handle that removes the hook.</summary>
/// <param name="Tensor">
/// The hooked tensor: equal to the original in value (a view of it). Use it downstream in place of the original;
/// only gradients that flow back through it reach the hook.
/// </param>
/// <param name="Handle">Disposing it turns the hook into a pass-through. Idempotent.</param>
public readonly record struct HookedTensor(Tensor Tensor, HookHandle Handle);

/// <summary>
/// Tensor gradient hooks for TorchSharp: the equivalent of PyTorch's <c>Tensor.register_hook</c>, built on an
/// identity autograd function whose backward calls the hook.
/// </summary>
public static class GradientHooks
{
    /// <summary>
    /// Returns a view of <paramref name="tensor"/> whose incoming gradient is handed to <paramref name="hook"/> during
    /// backward. The hook may return null (keep the gradient) or a replacement tensor of the same shape and dtype
    /// (for instance <c>g =&gt; g * 2</c>), which then flows on to everything upstream.
    /// </summary>
    /// <param name="tensor">A tensor that requires grad (a parameter or the result of differentiable operations).</param>
    /// <param name="hook">
    /// The callback. It runs inside the backward pass, on the thread that runs it; the gradient it receives belongs
    /// to the autograd engine (do not dispose it; keep <c>detach().clone()</c> copies). A replacement it returns
    /// must stay alive until backward has consumed it: create it in the ambient dispose scope, not in one of its own.
    /// </param>
    /// <returns>The hooked tensor (to use downstream) and the hook's handle.</returns>
    /// <exception cref="ArgumentException"><paramref name="tensor"/> does not require grad, or is disposed.</exception>
    /// <exception cref="InvalidOperationException">Grad mode is off (inside <c>no_grad()</c>).</exception>
    /// <example>
    /// <code>
    /// var (hidden, handle) = layer1.call(x).RegisterGradientHook(g =&gt; g * 0.5);
    /// var loss = layer2.call(hidden).sum();
    /// loss.backward();   // layer1's parameters receive half their gradient
    /// handle.Dispose();
    /// </code>
    /// </example>
    public static HookedTensor RegisterGradientHook(this Tensor tensor, Func<Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(hook);
        if (tensor.IsInvalid)
        {
            throw new ArgumentException("The tensor has been disposed.", nameof(tensor));
        }

        if (!tensor.requires_grad)
        {
            throw new ArgumentException(
                $"Cannot hook the gradient of a tensor that does not require grad (shape {ShapeText.Of(tensor)}, requires_grad = false).",
                nameof(tensor));
        }

        if (!is_grad_enabled())
        {
            throw new InvalidOperationException("Gradient hooks need grad mode: the tensor was hooked inside no_grad() or inference_mode().");
        }

        var handle = new HookHandle(null);
        var hooked = GradientTapFunction.Apply(tensor, new CallbackTap(hook, handle));
        return new HookedTensor(hooked, handle);
    }

    private sealed class CallbackTap(Func<Tensor, Tensor?> hook, HookHandle handle) : IGradientTap
    {
        public Tensor? OnGradient(Tensor gradient) => handle.IsRemoved ? null : hook(gradient);

        public void OnError(Exception error) => handle.ReportError(error);
    }
}
