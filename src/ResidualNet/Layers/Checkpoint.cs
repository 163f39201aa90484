using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
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
/// <remarks>
/// Its backward runs from libtorch's autograd engine: no exception may leave it (one that did would abort the
/// process). Everything it meets is recorded with <see cref="AutogradErrors"/> and the backward pass is stopped with
/// a gradient libtorch rejects, so the caller gets a catchable error (the original one through
/// <see cref="AutogradErrors.BackwardChecked"/>).
/// </remarks>
internal sealed class CheckpointFunction : autograd.MultiTensorFunction<CheckpointFunction>
{
    private const string StateKey = "residualnet.checkpoint";

    // The gradients a backward returns are handed to libtorch as handles; their managed wrappers can only be
    // released once libtorch has taken its own references, that is after backward has returned. They wait here
    // until the next backward (or forward) of any checkpoint, so at most one segment's gradients linger instead
    // of all of them living until the caller's dispose scope ends or the GC runs.
    private readonly List<Tensor> _returnedLastTime = new();
    private readonly object _lock = new();

    /// <summary>What the forward records for the recomputation.</summary>
    private sealed class ForwardState
    {
        public required nn.Module<Tensor, Tensor> Module { get; init; }

        public required IReadOnlyList<Parameter> Parameters { get; init; }

        /// <summary>The module and its descendants in pre-order, with their <c>training</c> flag at forward time.</summary>
        public required IReadOnlyList<(nn.Module Module, bool Training)> TrainingFlags { get; init; }

        public required bool InputRequiresGrad { get; init; }

        /// <summary>Number of forward arguments (module, input, parameters).</summary>
        public required int ArgumentCount { get; init; }

        /// <summary>The argument whose gradient stops a failed backward, and its rank.</summary>
        public required (int Index, int Rank) Stop { get; init; }
    }

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

    private void KeepUntilNextCall(IEnumerable<Tensor> tensors)
    {
        lock (_lock)
        {
            foreach (var g in tensors.Where(g => g is not null && !g.IsInvalid))
            {
                g.DetachFromDisposeScope();
                _returnedLastTime.Add(g);
            }
        }
    }

    public override string Name => "ResidualNetCheckpoint";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ReleaseReturnedGradients();
        var module = (nn.Module<Tensor, Tensor>)vars[0];
        var input = (Tensor)vars[1];
        var parameters = vars.Skip(2).Cast<Parameter>().ToList();
        var candidates = new List<(int Index, int Rank)>();
        if (input.requires_grad)
        {
            candidates.Add((1, (int)input.Dimensions));
        }

        candidates.AddRange(parameters.Select((p, i) => (i + 2, (int)p.Dimensions)));
        ctx.save_data(StateKey, new ForwardState
        {
            Module = module,
            Parameters = parameters,
            TrainingFlags = TrainingFlags(module),
            InputRequiresGrad = input.requires_grad,
            ArgumentCount = vars.Length,
            Stop = candidates.Where(c => c.Rank > 0).DefaultIfEmpty(candidates[0]).First(),
        });
        var rngState = get_rng_state();
        ctx.save_for_backward(new List<Tensor> { input, rngState });
        // Autograd is already disabled here (Function.apply runs forward under AutoGradMode(false)).
        return new List<Tensor> { module.call(input) };
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
    {
        ReleaseReturnedGradients();
        var state = ctx.get_data(StateKey) as ForwardState;
        try
        {
            if (state is null)
            {
                throw new InvalidOperationException("The checkpoint's forward state is missing.");
            }

            return BackwardCore(ctx, state, grad_outputs[0]);
        }
#pragma warning disable CA1031 // An exception must not cross the native autograd engine: it is recorded and the pass stopped.
        catch (Exception error)
#pragma warning restore CA1031
        {
            AutogradErrors.Record(error);
            return StopBackward(state);
        }
        finally
        {
            // The incoming gradient's wrapper was made for this call; libtorch keeps its own reference.
            grad_outputs[0]?.Dispose();
        }
    }

    private List<Tensor> BackwardCore(autograd.AutogradContext ctx, ForwardState state, Tensor gradOutput)
    {
        var module = state.Module;
        var parameters = state.Parameters;
        // The engine runs backward with grad mode on exactly when the caller asked for create_graph: then the
        // recomputation is recorded too and the returned gradients carry their own graph (double backward).
        bool createGraph = is_grad_enabled();
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var input = saved[0];
        var rngState = saved[1];
        var flagsNow = TrainingFlags(module);
        bool anyTraining = state.TrainingFlags.Any(f => f.Training);
        var buffers = anyTraining ? module.buffers().Select(b => b.detach().clone()).ToList() : new List<Tensor>();
        var currentRng = get_rng_state();
        List<Tensor> gradients;
        try
        {
            SetTrainingFlags(state.TrainingFlags);
            Tensor output;
            var recomputeInput = createGraph ? input : input.detach().requires_grad_(input.requires_grad);
            using (enable_grad())
            {
                set_rng_state(rngState);
                output = module.call(recomputeInput);
            }

            var targets = new List<Tensor>();
            if (state.InputRequiresGrad)
            {
                targets.Add(recomputeInput);
            }

            targets.AddRange(parameters);
            var grads = autograd.grad(
                new List<Tensor> { output }, targets, new List<Tensor> { gradOutput },
                retain_graph: createGraph, create_graph: createGraph, allow_unused: true);
            gradients = new List<Tensor>(state.ArgumentCount) { null!, state.InputRequiresGrad ? grads[0] : null! };
            gradients.AddRange(grads.Skip(state.InputRequiresGrad ? 1 : 0));
        }
        finally
        {
            set_rng_state(currentRng);
            SetTrainingFlags(flagsNow);
            // Restored only now: BatchNorm's backward reads the running statistics it saved, and an in-place copy
            // before autograd.grad would bump their version and fail the saved-variable check. Under create_graph
            // the recomputed graph lives on, so the values are written without an in-place operation.
            RestoreBuffers(module, buffers, createGraph);
        }

        KeepUntilNextCall(gradients);
        return gradients;
    }

    /// <summary>Gradients that make libtorch stop the backward pass with a catchable error: one of a shape the
    /// argument cannot take. Never throws.</summary>
    private List<Tensor> StopBackward(ForwardState? state)
    {
        int count = state?.ArgumentCount ?? 2;
        var gradients = Enumerable.Repeat<Tensor>(null!, count).ToList();
        try
        {
            if (state is not null)
            {
                var (index, rank) = state.Stop;
                // A rank-0 gradient cannot be reduced to a tensor of rank >= 1; a scalar argument gets one on the
                // meta device, which libtorch cannot copy back.
                gradients[index] = rank > 0 ? zeros(Array.Empty<long>()) : empty(new long[] { 2 }, device: new Device(DeviceType.META));
                KeepUntilNextCall(new[] { gradients[index] });
            }
        }
#pragma warning disable CA1031 // Nothing may leave a backward; the error is already recorded.
        catch (Exception error)
#pragma warning restore CA1031
        {
            AutogradErrors.Record(error);
        }

        return gradients;
    }

    private static List<(nn.Module Module, bool Training)> TrainingFlags(nn.Module<Tensor, Tensor> module)
    {
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance) { module };
        var flags = new List<(nn.Module, bool)> { (module, module.training) };
        foreach (var child in module.modules())
        {
            if (seen.Add(child))
            {
                flags.Add((child, child.training));
            }
        }

        return flags;
    }

    /// <summary>Sets each module's own flag, parents first (<c>train(bool)</c> also sets the descendants).</summary>
    private static void SetTrainingFlags(IReadOnlyList<(nn.Module Module, bool Training)> flags)
    {
        if (flags.All(f => f.Module.training == f.Training))
        {
            return;
        }

        foreach (var (module, training) in flags)
        {
            module.train(training);
        }
    }

    private static void RestoreBuffers(nn.Module<Tensor, Tensor> module, List<Tensor> before, bool withoutVersionBump)
    {
        if (before.Count == 0)
        {
            return;
        }

        using (no_grad())
        {
            foreach (var (buffer, saved) in module.buffers().Zip(before))
            {
                if (withoutVersionBump && buffer.device_type == DeviceType.CPU && buffer.is_contiguous())
                {
                    buffer.bytes = saved.bytes;
                }
                else
                {
                    buffer.copy_(saved);
                }
            }
        }
    }
}
