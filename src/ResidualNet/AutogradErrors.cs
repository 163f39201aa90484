using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;
using static TorchSharp.torch;

namespace ResidualNet;

/// <summary>
/// Backward passes that report the .NET exception a custom autograd function of the library met during backward
/// (an activation checkpoint's recomputation, for one), instead of aborting the process.
/// </summary>
/// <remarks>
/// <para>
/// libtorch's autograd engine calls the library's custom autograd functions from native code, and a .NET exception
/// that crossed that boundary would abort the process (exit code 134). So every custom function's backward catches
/// what it meets. The checkpoint (<see cref="Layers.Checkpointing"/>) then stops the backward pass: it records the
/// exception here and hands libtorch a gradient it rejects, so <c>backward()</c> and <c>autograd.grad</c> throw an
/// ordinary, catchable <see cref="System.Runtime.InteropServices.ExternalException"/> about an invalid gradient of
/// <c>ResidualNetCheckpoint</c>. <see cref="BackwardChecked"/> and <see cref="GradChecked"/> rethrow the original
/// exception instead (an <see cref="ObjectDisposedException"/> for a disposed network, libtorch's "modified by an
/// inplace operation" error for an input changed in place, or whatever a hook threw), with its own stack trace.
/// </para>
/// <para>
/// Gradient and module hooks (<see cref="Hooks.GradientHooks"/>, <see cref="Hooks.ModuleHooks"/>) keep their own
/// contract: a hook's exception does not stop the backward pass; the gradient passes unchanged and the exception is
/// kept in <see cref="Hooks.HookHandle.LastError"/>.
/// </para>
/// <para>
/// The record is process-wide: when several threads run backward passes at once, an error is reported to the
/// checked call that takes it first.
/// </para>
/// </remarks>
public static class AutogradErrors
{
    private static Exception? _pending;

    /// <summary>
    /// Runs <c>tensor.backward(...)</c>; when a custom autograd function of the library stopped it, throws the
    /// exception that function met (the original one, not libtorch's report).
    /// </summary>
    /// <param name="tensor">The tensor to differentiate, usually a scalar loss.</param>
    /// <param name="gradient">The gradient with respect to <paramref name="tensor"/>; null for a scalar (ones).</param>
    /// <param name="retainGraph">Keep the graph for another backward pass.</param>
    /// <param name="createGraph">Record the backward pass for higher-order derivatives.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is null.</exception>
    /// <exception cref="Exception">The original exception met during the backward pass, or libtorch's own error.</exception>
    public static void BackwardChecked(this Tensor tensor, Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Run(() => tensor.backward(gradient is null ? null : new List<Tensor> { gradient }, retainGraph, createGraph));
    }

    /// <summary>
    /// Runs <c>torch.autograd.grad(...)</c>; when a custom autograd function of the library stopped it, throws the
    /// exception that function met (see <see cref="BackwardChecked"/>).
    /// </summary>
    /// <param name="outputs">The differentiated tensors.</param>
    /// <param name="inputs">The tensors to differentiate with respect to.</param>
    /// <param name="gradOutputs">The gradients with respect to <paramref name="outputs"/>; null for scalars.</param>
    /// <param name="retainGraph">Keep the graph (default: <paramref name="createGraph"/>).</param>
    /// <param name="createGraph">Record the backward pass for higher-order derivatives.</param>
    /// <param name="allowUnused">Return null for inputs that the outputs do not use.</param>
    /// <returns>One gradient per input.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="outputs"/> or <paramref name="inputs"/> is null.</exception>
    /// <exception cref="Exception">The original exception met during the backward pass, or libtorch's own error.</exception>
    public static IList<Tensor> GradChecked(
        IList<Tensor> outputs, IList<Tensor> inputs, IList<Tensor>? gradOutputs = null,
        bool? retainGraph = null, bool createGraph = false, bool allowUnused = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(inputs);
        IList<Tensor>? result = null;
        Run(() => result = autograd.grad(outputs, inputs, gradOutputs, retainGraph ?? createGraph, createGraph, allowUnused));
        return result!;
    }

    /// <summary>Takes (and clears) the exception recorded by the last backward pass a library function stopped,
    /// for callers that used <c>backward()</c> itself and caught libtorch's report; null when there is none.</summary>
    /// <returns>The original exception, or null.</returns>
    public static Exception? TakeLastError() => Interlocked.Exchange(ref _pending, null);

    /// <summary>Records <paramref name="error"/> for the running backward pass; the first one of a pass wins.</summary>
    internal static void Record(Exception error) => Interlocked.CompareExchange(ref _pending, error, null);

    private static void Run(Action backward)
    {
        Interlocked.Exchange(ref _pending, null);
        try
        {
            backward();
        }
        catch (Exception) when (Volatile.Read(ref _pending) is not null)
        {
            ExceptionDispatchInfo.Capture(TakeLastError()!).Throw();
        }

        if (TakeLastError() is { } late)
        {
            ExceptionDispatchInfo.Capture(late).Throw();
        }
    }
}
