using System;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.Diagnostics;

/// <summary>
/// Logs gradients to TensorBoard through TorchSharp's own <c>torch.utils.tensorboard.SummaryWriter</c>
/// (<c>add_histogram</c>, <c>add_scalar</c>).
/// </summary>
public static class TensorBoardGradientLogger
{
    /// <summary>
    /// Adds one histogram per parameter gradient, tagged <c>{prefix}{parameter name}</c>. Parameters without a
    /// gradient are skipped. Call it after <c>loss.backward()</c>.
    /// </summary>
    /// <param name="writer">A writer from <c>torch.utils.tensorboard.SummaryWriter(logDir)</c>.</param>
    /// <param name="model">The model whose parameter gradients to log.</param>
    /// <param name="globalStep">The step value TensorBoard shows.</param>
    /// <param name="prefix">Tag prefix. Default "grad/".</param>
    /// <returns>The number of histograms written.</returns>
    public static int LogGradientHistograms(SummaryWriter writer, Module model, int globalStep, string prefix = "grad/")
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prefix);
        int written = 0;
        // add_histogram builds its bin edges as tensors it does not dispose: keep them in this scope.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var gradient = parameter.grad;
            if (gradient is null || gradient.IsInvalid)
            {
                continue;
            }
            // On the host and in float64, the dtype of add_histogram's default (TensorFlow-style) bin edges.
            writer.add_histogram(prefix + name, gradient.detach().cpu().to_type(ScalarType.Float64), globalStep);
            written++;
        }

        return written;
    }

    /// <summary>
    /// Adds the scalars of a recorded step: per block <c>{prefix}block/{name}/input</c> and <c>/output</c>
    /// (gradient norms) and per parameter <c>{prefix}param/{name}</c> (gradient L2 norm), plus
    /// <c>{prefix}first_to_last</c> (the diagnosis ratio) when it is defined.
    /// </summary>
    /// <param name="writer">A writer from <c>torch.utils.tensorboard.SummaryWriter(logDir)</c>.</param>
    /// <param name="step">The recorded step; its <see cref="GradientFlowStep.Step"/> is the global step.</param>
    /// <param name="prefix">Tag prefix. Default "gradflow/".</param>
    /// <returns>The number of scalars written.</returns>
    public static int LogStep(SummaryWriter writer, GradientFlowStep step, string prefix = "gradflow/")
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(step);
        ArgumentNullException.ThrowIfNull(prefix);
        int written = 0;
        void Add(string tag, double? value)
        {
            if (value is { } v && double.IsFinite(v))
            {
                writer.add_scalar(prefix + tag, (float)v, step.Step);
                written++;
            }
        }

        foreach (var b in step.Blocks)
        {
            Add($"block/{b.Name}/input", b.InputGradientNorm);
            Add($"block/{b.Name}/output", b.OutputGradientNorm);
        }

        foreach (var p in step.Parameters)
        {
            Add("param/" + p.Name, p.L2Norm);
        }

        Add("first_to_last", GradientFlowAnalysis.Diagnose(step).FirstToLastRatio);
        return written;
    }

}
