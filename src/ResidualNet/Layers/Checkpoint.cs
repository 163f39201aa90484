using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace ResidualNet.Layers;

/// <summary>
/// Activation checkpointing: runs a module's forward without keeping its intermediate activations and recomputes
/// them during backward, trading one extra forward of that module for memory.
/// </summary>
/// <remarks>
/// <para>
/// TorchSharp has no <c>torch.utils.checkpoint</c>. This one is a custom autograd function: its forward runs the
/// module with autograd disabled and saves only the module's input; its backward runs the module again with
/// autograd enabled and asks <c>torch.autograd.grad</c> for the gradients of the input and of every parameter that
/// requires one. The parameters are inputs of the function's graph node, so autograd accumulates their gradients
/// into <c>.grad</c> exactly as without checkpointing.
/// </para>
/// <para>Caveats, all handled or stated:</para>
/// <list type="bullet">
/// <item>BatchNorm in training mode would update its running statistics twice (forward and recomputation). Every
/// buffer of the module is saved before the recomputation and restored after it, so the statistics are updated
/// once.</item>
/// <item>Dropout draws its masks from the random generator. The CPU generator's state is saved in the forward and
/// restored for the recomputation, so the masks match on CPU. TorchSharp exposes no CUDA generator state: on CUDA,
/// do not checkpoint modules that contain dropout.</item>
/// <item>The module must compute the same function when called twice with the same input (no state changed by its
/// forward other than buffers).</item>
/// <item>When autograd is disabled, or neither the input nor any parameter requires a gradient, the module simply
/// runs: nothing would be recomputed anyway.</item>
/// </list>
/// </remarks>
public static class Checkpointing
{
    /// <summary>
    /// Runs <paramref name="module"/> on <paramref name="input"/> with activation checkpointing (see the class
    /// remarks). Call it from a forward in place of <c>module.call(input)</c>.
    /// </summary>
    /// <param name="module">The segment to checkpoint (for example one residual block, or a stage of blocks).</param>
    /// <param name="input">Its input.</param>
    /// <returns>The module's output, connected to the autograd graph through the checkpoint.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static Tensor Run(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        var parameters = module.parameters().Where(p => p.requires_grad).ToList();
        if (!is_grad_enabled() || (!input.requires_grad && parameters.Count == 0))
        {
            return module.call(input);
        }

        var arguments = new object[parameters.Count + 2];
        arguments[0] = module;
        arguments[1] = input;
        for (int i = 0; i < parameters.Count; i++)
        {
            arguments[i + 2] = parameters[i];
        }

        return CheckpointFunction.apply(arguments)[0];
    }
}

/// <summary>
/// A module that runs its inner module with activation checkpointing (<see cref="Checkpointing.Run"/>) in
/// training and calls it plainly otherwise. Its state_dict keys are the inner module's keys prefixed with
/// <c>module.</c>; load weights into the inner module when the prefix is unwanted.
/// </summary>
public sealed class Checkpoint : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "module")]
    private readonly nn.Module<Tensor, Tensor> _module;

    /// <summary>Wraps <paramref name="module"/>.</summary>
    /// <param name="module">The segment to checkpoint.</param>
    /// <exception cref="ArgumentNullException"><paramref name="module"/> is null.</exception>
    public Checkpoint(nn.Module<Tensor, Tensor> module) : base(nameof(Checkpoint))
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(module);
        _module = module;
        RegisterComponents();
    }

    /// <summary>The wrapped module.</summary>
    public nn.Module<Tensor, Tensor> Module => _module;

    /// <summary>Runs the wrapped module, checkpointed while training.</summary>
    /// <param name="input">The wrapped module's input.</param>
    /// <returns>The wrapped module's output.</returns>
    public override Tensor forward(Tensor input)
    {
        OneDnnGuard.EnsureApplied();
        using var scope = NewDisposeScope();
        var result = training ? Checkpointing.Run(_module, input) : _module.call(input);
        return result.MoveToOuterDisposeScope();
    }
}

/// <summary>The autograd function behind <see cref="Checkpointing.Run"/>. Arguments: module, input, parameters.</summary>
internal sealed class CheckpointFunction : autograd.MultiTensorFunction<CheckpointFunction>
{
    private const string ModuleKey = "module";

    // The gradients a backward returns are handed to libtorch as handles; their managed wrappers can only be
    // released once libtorch has taken its own references, that is after backward has returned. They wait here
    // until the next backward (or forward) of any checkpoint, so at most one segment's gradients linger instead
    // of all of them living until the caller's dispose scope ends or the GC runs.
    private readonly List<Tensor> _returnedLastTime = new();
    private readonly object _lock = new();

    private void ReleaseReturnedGradients()
    {
        lock (_lock)
        {
            foreach (var tensor in _returnedLastTime)
            {
                tensor.Dispose();
            }

            _returnedLastTime.Clear();
        }
    }

    public override string Name => "ResidualNetCheckpoint";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ReleaseReturnedGradients();
        var module = (nn.Module<Tensor, Tensor>)vars[0];
        var input = (Tensor)vars[1];
        ctx.save_data(ModuleKey, module);
        var rngState = get_rng_state();
        ctx.save_for_backward(new List<Tensor> { input, rngState });
        // Autograd is already disabled here (Function.apply runs forward under AutoGradMode(false)).
        return new List<Tensor> { module.call(input) };
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
    {
        ReleaseReturnedGradients();
        var module = (nn.Module<Tensor, Tensor>)ctx.get_data(ModuleKey);
        var parameters = module.parameters().Where(p => p.requires_grad).ToList();
        List<Tensor> gradients;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var input = saved[0];
            var rngState = saved[1];
            var buffers = module.training ? module.buffers().Select(b => b.detach().clone()).ToList() : new List<Tensor>();
            var currentRng = get_rng_state();
            Tensor output;
            var detachedInput = input.detach().requires_grad_(input.requires_grad);
            using (enable_grad())
            {
                set_rng_state(rngState);
                output = module.call(detachedInput);
            }

            set_rng_state(currentRng);
            var targets = new List<Tensor>();
            if (input.requires_grad)
            {
                targets.Add(detachedInput);
            }

            targets.AddRange(parameters);
            var grads = autograd.grad(new List<Tensor> { output }, targets, new List<Tensor> { grad_outputs[0] }, allow_unused: true);

            // Restored only now: BatchNorm's backward reads the running statistics it saved, and an in-place copy
            // before autograd.grad would bump their version and fail the saved-variable check.
            using (no_grad())
            {
                foreach (var (buffer, before) in module.buffers().Zip(buffers))
                {
                    buffer.copy_(before);
                }
            }

            gradients = new List<Tensor>(parameters.Count + 2) { null!, input.requires_grad ? grads[0] : null! };
            gradients.AddRange(grads.Skip(input.requires_grad ? 1 : 0));
            lock (_lock)
            {
                foreach (var g in gradients.Where(g => g is not null && !g.IsInvalid))
                {
                    g.DetachFromDisposeScope();
                    _returnedLastTime.Add(g);
                }
            }
        }

        // The incoming gradient's wrapper was made for this call; libtorch keeps its own reference.
        grad_outputs[0].Dispose();

        return gradients;
    }
}
