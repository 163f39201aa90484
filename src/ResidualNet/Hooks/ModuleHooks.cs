using System;
using System.Collections.Generic;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.Hooks;

/// <summary>
/// Called during backward with the gradient of the loss with respect to a module's input and output, like the hook
/// of PyTorch's <c>register_full_backward_hook</c>.
/// </summary>
/// <param name="module">The hooked module.</param>
/// <param name="gradInput">
/// dL/d(input), or null when the module's input does not require grad (then the hook is called as soon as
/// <paramref name="gradOutput"/> is known, and its return value is ignored).
/// </param>
/// <param name="gradOutput">dL/d(output).</param>
/// <returns>null to keep <paramref name="gradInput"/>, or a replacement of the same shape and dtype.</returns>
public delegate Tensor? FullBackwardHook(Module<Tensor, Tensor> module, Tensor? gradInput, Tensor gradOutput);

/// <summary>
/// Module hooks that return <see cref="IDisposable"/> handles: full backward hooks (missing from TorchSharp), and
/// forward conveniences over TorchSharp's <c>register_forward_hook</c> / <c>register_forward_pre_hook</c>.
/// </summary>
/// <remarks>Hooks fire only when the module is invoked through <c>call</c>, never through <c>forward</c>.</remarks>
public static class ModuleHooks
{
    /// <summary>
    /// Registers a hook with the semantics of PyTorch's <c>register_full_backward_hook</c>: during backward it receives
    /// dL/d(input) and dL/d(output) of each call of the module, and may replace dL/d(input).
    /// </summary>
    /// <remarks>
    /// Built from a forward pre-hook, which routes the input through an identity autograd node that captures
    /// dL/d(input), and a forward hook, which routes the output through another that captures dL/d(output). As in
    /// PyTorch, the module's input and output become views created by a custom function: modifying them in place
    /// (an in-place ReLU right after the module, say) raises an autograd error. Forward passes under
    /// <c>no_grad()</c> are left untouched.
    /// </remarks>
    /// <param name="module">The module.</param>
    /// <param name="hook">The callback; see <see cref="FullBackwardHook"/>. Exceptions it throws land in <see cref="HookHandle.LastError"/>.</param>
    /// <returns>The handle; disposing it removes both forward hooks and makes pending backward nodes pass-throughs.</returns>
    public static HookHandle RegisterFullBackwardHook(this Module<Tensor, Tensor> module, FullBackwardHook hook)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(hook);
        var state = new BackwardHookState(module, hook);
        var pre = module.register_forward_pre_hook(state.PreHook);
        var post = module.register_forward_hook(state.PostHook);
        state.Handle = new HookHandle(() =>
        {
            pre.remove();
            post.remove();
            state.Pending.Clear();
        });
        return state.Handle;
    }

    /// <summary>
    /// Registers a forward hook: <paramref name="hook"/> receives the module, its input and its output after every
    /// <c>call</c> and returns null (keep the output) or a replacement output.
    /// </summary>
    /// <param name="module">The module.</param>
    /// <param name="hook">The callback. Tensors it wants to keep past the call must be copied (<c>detach().clone()</c>): containers such as Sequential dispose intermediates, and in-place operations overwrite them.</param>
    /// <returns>The handle that removes the hook.</returns>
    public static HookHandle RegisterForwardHook(this Module<Tensor, Tensor> module, Func<Module<Tensor, Tensor>, Tensor, Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(hook);
        var remover = module.register_forward_hook((m, input, output) => hook(m, input, output)!);
        return new HookHandle(remover.remove);
    }

    /// <summary>Registers an observing forward hook (it cannot replace the output).</summary>
    /// <param name="module">The module.</param>
    /// <param name="observer">Receives the module, its input and its output after every <c>call</c>.</param>
    /// <returns>The handle that removes the hook.</returns>
    public static HookHandle RegisterForwardHook(this Module<Tensor, Tensor> module, Action<Module<Tensor, Tensor>, Tensor, Tensor> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        return RegisterForwardHook(module, (m, input, output) =>
        {
            observer(m, input, output);
            return null;
        });
    }

    /// <summary>
    /// Registers a forward pre-hook: <paramref name="hook"/> receives the module and its input before every <c>call</c>
    /// and returns null (keep the input) or a replacement input.
    /// </summary>
    /// <param name="module">The module.</param>
    /// <param name="hook">The callback.</param>
    /// <returns>The handle that removes the hook.</returns>
    public static HookHandle RegisterForwardPreHook(this Module<Tensor, Tensor> module, Func<Module<Tensor, Tensor>, Tensor, Tensor?> hook)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(hook);
        var remover = module.register_forward_pre_hook((m, input) => hook(m, input)!);
        return new HookHandle(remover.remove);
    }

    /// <summary>Whether a tensor can carry a backward hook in the current grad mode.</summary>
    internal static bool CanTap(Tensor? tensor) =>
        tensor is not null && !tensor.IsInvalid && tensor.requires_grad && is_grad_enabled();

    /// <summary>One full backward hook: pairs each call's input node with its output node.</summary>
    private sealed class BackwardHookState(Module<Tensor, Tensor> module, FullBackwardHook hook)
    {
        // Calls whose forward has started but not returned (a stack: a module may call itself recursively).
        public Stack<BackwardCall?> Pending { get; } = new();

        public HookHandle Handle { get; set; } = null!;

        public Tensor PreHook(Module<Tensor, Tensor> m, Tensor input)
        {
            if (!is_grad_enabled())
            {
                Pending.Push(null);
                return null!;
            }

            var call = new BackwardCall(this);
            Pending.Push(call);
            if (!CanTap(input))
            {
                return null!;
            }

            call.InputTapped = true;
            return GradientTapFunction.Apply(input, call.InputTap);
        }

        public Tensor PostHook(Module<Tensor, Tensor> m, Tensor input, Tensor output)
        {
            var call = Pending.Count > 0 ? Pending.Pop() : null;
            if (call is null || !CanTap(output))
            {
                return null!;
            }

            return GradientTapFunction.Apply(output, call.OutputTap);
        }

        public Tensor? Invoke(Tensor? gradInput, Tensor gradOutput) => Handle.IsRemoved ? null : hook(module, gradInput, gradOutput);
    }

    /// <summary>One call of the hooked module: dL/d(output) arrives first, then dL/d(input).</summary>
    private sealed class BackwardCall
    {
        private readonly BackwardHookState _state;
        private Tensor? _gradOutput;

        public BackwardCall(BackwardHookState state)
        {
            _state = state;
            InputTap = new Tap(this, isInput: true);
            OutputTap = new Tap(this, isInput: false);
        }

        public bool InputTapped { get; set; }

        public IGradientTap InputTap { get; }

        public IGradientTap OutputTap { get; }

        private Tensor? OnOutputGradient(Tensor gradOutput)
        {
            if (InputTapped)
            {
                _gradOutput = gradOutput;   // kept (engine-owned, not modified in place while referenced) until dL/d(input) arrives
            }
            else
            {
                _state.Invoke(null, gradOutput);
            }

            return null;
        }

        private Tensor? OnInputGradient(Tensor gradInput)
        {
            var gradOutput = _gradOutput;
            _gradOutput = null;
            // No dL/d(output) arrived for this call (its output never reached the loss): nothing to report.
            return gradOutput is null ? null : _state.Invoke(gradInput, gradOutput);
        }

        private sealed class Tap(BackwardCall call, bool isInput) : IGradientTap
        {
            public Tensor? OnGradient(Tensor gradient) => isInput ? call.OnInputGradient(gradient) : call.OnOutputGradient(gradient);

            public void OnError(Exception error) => call._state.Handle.ReportError(error);
        }
    }
}
