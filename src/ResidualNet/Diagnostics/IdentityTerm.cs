using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.Diagnostics;

/// <summary>Options of <see cref="IdentityTerm.Measure"/>. Immutable; use <c>with</c> for variants.</summary>
public sealed record IdentityTermOptions
{
    /// <summary>Number of random probe vectors v per measurement. Default 8. Must be at least 1.</summary>
    public int Samples { get; init; } = 8;

    /// <summary>Seed of the generator that draws the probes (standard normal). Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (Samples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Samples), Samples, $"Samples must be at least 1; got {Samples}.");
        }
    }
}

/// <summary>How far dx_L/dx_l is from the identity, for one starting block l.</summary>
/// <param name="FromBlock">l: the index of the block whose input is x_l (0 = the stack's input).</param>
/// <param name="BlocksSpanned">L - l: how many blocks lie between x_l and the output x_L.</param>
/// <param name="MeanRelativeDeviation">Mean over probes of ||Jᵀv - v|| / ||v||, with J = dx_L/dx_l (0 = exact identity).</param>
/// <param name="MeanGain">Mean over probes of ||Jᵀv|| / ||v|| (1 = norm preserved; near 0 = the gradient vanishes).</param>
public sealed record IdentityTermRow(int FromBlock, int BlocksSpanned, double MeanRelativeDeviation, double MeanGain);

/// <summary>The result of <see cref="IdentityTerm.Measure"/>: one row per starting block, first block first.</summary>
/// <param name="Rows">The rows.</param>
public sealed record IdentityTermReport(IReadOnlyList<IdentityTermRow> Rows)
{
    /// <summary>A text table of the rows (invariant culture).</summary>
    /// <returns>The table.</returns>
    public string ToText()
    {
        var text = new StringBuilder("from block  spanned  mean ||J'v - v||/||v||  mean ||J'v||/||v||\n");
        foreach (var r in Rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"{r.FromBlock,10}  {r.BlocksSpanned,7}  {r.MeanRelativeDeviation,23:0.0000E+00}  {r.MeanGain,18:0.0000E+00}\n");
        }

        return text.ToString();
    }
}

/// <summary>The Jacobian of one block, dx_{l+1}/dx_l, probed with random vectors (<see cref="IdentityTerm.MeasureBlocks"/>).</summary>
/// <param name="Name">Qualified name of the block.</param>
/// <param name="Depth">Position among the model's blocks (0 = first), as in <see cref="GradientFlowMonitor.SelectBlocks"/>.</param>
/// <param name="MeanGain">Mean over probes of ||Jᵀv|| / ||v||: for a residual block J = I + dF/dx, so this stays near 1 when the branch's part is small; for a plain block J = dF/dx alone.</param>
/// <param name="MeanRelativeDeviation">Mean over probes of ||Jᵀv - v|| / ||v||: for a residual block the size of the branch's part ||(dF/dx)ᵀv|| / ||v||; about 1 or more for a plain block.</param>
public sealed record BlockIdentityTerm(string Name, int Depth, double MeanGain, double MeanRelativeDeviation);

/// <summary>
/// Measures the founding document's identity term: for a stack x_{l+1} = f_l(x_l), how far the Jacobian
/// dx_L/dx_l is from the identity. With a shortcut, dx_L/dx_l = I + (terms from the residual branches);
/// for a plain stack there is no I.
/// </summary>
/// <remarks>
/// Jacobian-vector products come from autograd: <c>torch.autograd.grad(x_L, x_l, grad_outputs: v)</c> returns vᵀJ
/// (that is Jᵀv) for every l at once, one backward pass per probe v. The blocks run in their current mode
/// (train or eval); use eval mode for BatchNorm running statistics. Every block must keep its input's shape.
/// </remarks>
public static class IdentityTerm
{
    /// <summary>Runs <paramref name="input"/> through <paramref name="blocks"/> and measures dx_L/dx_l for every l.</summary>
    /// <param name="blocks">The stack, applied in order through <c>call</c> (hooks fire).</param>
    /// <param name="input">x_0, a batch; it is not modified and need not require grad.</param>
    /// <param name="options">Probes and seed; null for the defaults.</param>
    /// <returns>One row per block l = 0 .. L-1.</returns>
    /// <exception cref="ArgumentException">The stack is empty, or a block changes the shape (the message names the block and both shapes).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="IdentityTermOptions.Samples"/> is below 1.</exception>
    public static IdentityTermReport Measure(IReadOnlyList<Module<Tensor, Tensor>> blocks, Tensor input, IdentityTermOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(blocks);
        ArgumentNullException.ThrowIfNull(input);
        options ??= new IdentityTermOptions();
        options.Validate();
        if (blocks.Count == 0)
        {
            throw new ArgumentException("The stack holds no block (blocks.Count = 0).", nameof(blocks));
        }

        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var states = new List<Tensor>(blocks.Count);
        var x = input.detach().clone().requires_grad_(true);
        for (int l = 0; l < blocks.Count; l++)
        {
            states.Add(x);
            var next = blocks[l].call(x);
            if (!next.shape.SequenceEqual(x.shape))
            {
                throw new ArgumentException(
                    $"Block {l} changes the shape from {ShapeText.Of(x)} to {ShapeText.Of(next)}; the identity term needs shape-preserving blocks.",
                    nameof(blocks));
            }

            x = next;
        }

        var output = x;
        using var generator = new Generator(options.Seed, output.device);
        var deviations = new List<Tensor>();
        var gains = new List<Tensor>();
        for (int s = 0; s < options.Samples; s++)
        {
            var v = randn(output.shape, dtype: output.dtype, device: output.device, generator: generator);
            var vNorm = linalg.vector_norm(v);
            var products = autograd.grad(new[] { output }, states, new[] { v }, retain_graph: s < options.Samples - 1, allow_unused: true);
            for (int l = 0; l < states.Count; l++)
            {
                var jtv = products[l] is { IsInvalid: false } p ? p : zeros_like(v);
                deviations.Add(linalg.vector_norm(jtv - v) / vNorm);
                gains.Add(linalg.vector_norm(jtv) / vNorm);
            }
        }

        // [samples, blocks] for both quantities; one transfer.
        var table = stack(new[] { stack(deviations), stack(gains) }).to_type(ScalarType.Float64).reshape(2, options.Samples, blocks.Count).mean(new long[] { 1 }).cpu();
        var values = table.data<double>().ToArray();
        var rows = Enumerable.Range(0, blocks.Count)
            .Select(l => new IdentityTermRow(l, blocks.Count - l, values[l], values[blocks.Count + l]))
            .ToList();
        return new IdentityTermReport(rows);
    }

    /// <summary>
    /// Measures every block of <paramref name="model"/> on its own: runs <paramref name="input"/> through the model
    /// once (without gradients) to capture each block's input x_l, then probes the one-block Jacobian
    /// J = dx_{l+1}/dx_l with <see cref="IdentityTermOptions.Samples"/> random vectors, as <see cref="Measure"/> does
    /// for a stack of one. Blocks that change the shape (downsampling) are left out: I + dF/dx needs a square J.
    /// </summary>
    /// <remarks>
    /// The blocks are those a <see cref="GradientFlowMonitor"/> would hook (<see cref="GradientFlowMonitor.SelectBlocks"/>).
    /// They run in the model's current mode: in training mode BatchNorm uses batch statistics, and every extra block
    /// call updates its running statistics, as any forward pass would. Costs one model forward, then per block one
    /// forward and one backward per probe.
    /// </remarks>
    /// <param name="model">The model; its blocks must be invoked through <c>call</c> (hooks capture their inputs).</param>
    /// <param name="input">A batch for the model; not modified.</param>
    /// <param name="options">Probes and seed; null for the defaults.</param>
    /// <param name="selector">Chooses the blocks by qualified name and module; null for the residual blocks (or the direct children).</param>
    /// <returns>One row per shape-keeping block that the forward pass called, first block first.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="IdentityTermOptions.Samples"/> is below 1.</exception>
    public static IReadOnlyList<BlockIdentityTerm> MeasureBlocks(Module model, Tensor input, IdentityTermOptions? options = null, Func<string, Module, bool>? selector = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(input);
        options ??= new IdentityTermOptions();
        options.Validate();
        if (model is not Module<Tensor, Tensor> runnable)
        {
            throw new ArgumentException($"The model must be a Module<Tensor, Tensor>; got {model.GetType().Name}.", nameof(model));
        }

        var blocks = GradientFlowMonitor.SelectBlocks(model, selector);
        var inputs = new Tensor?[blocks.Count];
        var keepsShape = new bool[blocks.Count];
        var handles = new List<Hooks.HookHandle>();
        try
        {
            for (int i = 0; i < blocks.Count; i++)
            {
                int index = i;
                handles.Add(Hooks.ModuleHooks.RegisterForwardHook(blocks[i].Module, (Module<Tensor, Tensor> _, Tensor x, Tensor y) =>
                {
                    inputs[index]?.Dispose();
                    var copy = x.detach().clone();
                    copy.DetachFromDisposeScope();
                    inputs[index] = copy;
                    keepsShape[index] = x.shape.AsSpan().SequenceEqual(y.shape);
                }));
            }

            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                runnable.call(input);
            }

            foreach (var handle in handles)
            {
                handle.Dispose();
            }

            handles.Clear();

            var rows = new List<BlockIdentityTerm>();
            for (int i = 0; i < blocks.Count; i++)
            {
                if (inputs[i] is not { } x || !keepsShape[i])
                {
                    continue;
                }

                var row = Measure(new[] { blocks[i].Module }, x, options).Rows[0];
                rows.Add(new BlockIdentityTerm(blocks[i].Name, i, row.MeanGain, row.MeanRelativeDeviation));
            }

            return rows;
        }
        finally
        {
            foreach (var handle in handles)
            {
                handle.Dispose();
            }

            foreach (var x in inputs)
            {
                x?.Dispose();
            }
        }
    }
}
