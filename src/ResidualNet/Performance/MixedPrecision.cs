using System;
using System.Collections.Generic;
using System.Linq;
using ResidualNet.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// Settings of a <see cref="MixedPrecisionTrainer"/>. Immutable: make variants with <c>with</c>. The loss-scaling
/// defaults are PyTorch's <c>GradScaler</c> defaults.
/// </summary>
public sealed record MixedPrecisionOptions
{
    /// <summary>bfloat16 compute without loss scaling: the choice on CPUs (bf16 has fp32's exponent range).</summary>
    public static MixedPrecisionOptions BFloat16 { get; } = new();

    /// <summary>float16 compute with dynamic loss scaling: the choice on GPUs with fast fp16.</summary>
    public static MixedPrecisionOptions Float16 { get; } = new() { ComputeType = ScalarType.Float16, DynamicLossScaling = true };

    /// <summary>The compute type of the model's copy: <see cref="ScalarType.BFloat16"/> (default) or <see cref="ScalarType.Float16"/>.</summary>
    public ScalarType ComputeType { get; init; } = ScalarType.BFloat16;

    /// <summary>
    /// Whether the loss scale adapts: halved (and the step skipped) when a gradient overflows, doubled after
    /// <see cref="GrowthInterval"/> good steps in a row. When false the scale stays <see cref="InitialScale"/>
    /// (steps with non-finite gradients are still skipped). Default: false (right for bf16; set true for fp16).
    /// </summary>
    public bool DynamicLossScaling { get; init; }

    /// <summary>The first loss scale. Default: 65536 (2^16) with dynamic scaling; use 1 for none.</summary>
    public double InitialScale { get; init; } = 65536.0;

    /// <summary>Factor applied to the scale after <see cref="GrowthInterval"/> good steps. Default: 2.</summary>
    public double GrowthFactor { get; init; } = 2.0;

    /// <summary>Factor applied to the scale after an overflow. Default: 0.5.</summary>
    public double BackoffFactor { get; init; } = 0.5;

    /// <summary>Good steps in a row before the scale grows. Default: 2000.</summary>
    public int GrowthInterval { get; init; } = 2000;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (ComputeType is not (ScalarType.BFloat16 or ScalarType.Float16))
        {
            throw new ArgumentOutOfRangeException(nameof(ComputeType), ComputeType, $"ComputeType must be BFloat16 or Float16; got {ComputeType}.");
        }

        if (!(InitialScale > 0) || double.IsInfinity(InitialScale))
        {
            throw new ArgumentOutOfRangeException(nameof(InitialScale), InitialScale, $"InitialScale must be positive and finite; got {InitialScale}.");
        }

        if (!(GrowthFactor > 1))
        {
            throw new ArgumentOutOfRangeException(nameof(GrowthFactor), GrowthFactor, $"GrowthFactor must be greater than 1; got {GrowthFactor}.");
        }

        if (!(BackoffFactor > 0 && BackoffFactor < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(BackoffFactor), BackoffFactor, $"BackoffFactor must be in (0, 1); got {BackoffFactor}.");
        }

        if (GrowthInterval < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(GrowthInterval), GrowthInterval, $"GrowthInterval must be at least 1; got {GrowthInterval}.");
        }
    }
}

/// <summary>What one <see cref="MixedPrecisionTrainer.Step"/> did.</summary>
/// <param name="Loss">The unscaled loss of the batch (computed in fp32 from the low-precision output).</param>
/// <param name="Skipped">True when a gradient was infinite or NaN: the optimizer step was skipped.</param>
/// <param name="LossScale">The loss scale used for this step.</param>
public readonly record struct MixedPrecisionStepResult(double Loss, bool Skipped, double LossScale);

/// <summary>
/// Mixed-precision training without autocast (which TorchSharp lacks): fp32 master weights, a low-precision
/// (bf16 or fp16) compute model, and loss scaling where fp16 needs it.
/// </summary>
/// <remarks>
/// <para>
/// The constructor copies the model's parameters into fp32 master parameters (the ones the optimizer updates) and
/// converts the model itself to <see cref="MixedPrecisionOptions.ComputeType"/>. Each <see cref="Step"/>: copy the
/// masters into the compute model, forward and backward in low precision (the loss is computed in fp32 from the
/// output, multiplied by the loss scale), copy the gradients into the masters' <c>.grad</c> in fp32 dividing by the
/// scale, skip the step if any is infinite or NaN, otherwise run the optimizer on the masters.
/// </para>
/// <para>
/// Buffers (BatchNorm running statistics) live in the compute model, in low precision. After training,
/// <see cref="ToFullPrecision"/> turns the model back into fp32 with the master weights. The model's Parameter
/// objects are replaced by the dtype conversion: optimizers and hooks must be created from
/// <see cref="MasterParameters"/> (the optimizer factory receives them) or after construction.
/// </para>
/// </remarks>
public sealed class MixedPrecisionTrainer : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly List<Parameter> _masters;
    private readonly List<Parameter> _computeParameters;
    private readonly optim.Optimizer _optimizer;
    private int _goodSteps;
    private bool _disposed;

    /// <summary>Creates the master weights, converts <paramref name="model"/> and creates the optimizer.</summary>
    /// <param name="model">An fp32 model. It is converted in place to the compute type.</param>
    /// <param name="optimizerFactory">Builds the optimizer over the fp32 master parameters, for example
    /// <c>ps =&gt; torch.optim.SGD(ps, 0.1, momentum: 0.9)</c>.</param>
    /// <param name="options">Settings; <see cref="MixedPrecisionOptions.BFloat16"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizerFactory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it and its value).</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> has parameters that are not fp32.</exception>
    public MixedPrecisionTrainer(
        nn.Module<Tensor, Tensor> model,
        Func<IEnumerable<Parameter>, optim.Optimizer> optimizerFactory,
        MixedPrecisionOptions? options = null)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizerFactory);
        Options = options ?? MixedPrecisionOptions.BFloat16;
        Options.Validate();
        var notFloat32 = model.named_parameters().FirstOrDefault(p => p.parameter.dtype != ScalarType.Float32);
        if (notFloat32.parameter is not null)
        {
            throw new ArgumentException(
                $"model must be fp32; parameter '{notFloat32.name}' has dtype {notFloat32.parameter.dtype}.", nameof(model));
        }

        _model = model;
        using (NewDisposeScope())
        {
            // The scope disposes the detach() temporaries; the masters outlive it.
            _masters = model.parameters()
                .Select(p =>
                {
                    var master = new Parameter(p.detach().clone(), p.requires_grad);
                    master.DetachFromDisposeScope();
                    return master;
                })
                .ToList();
        }

        model.to(Options.ComputeType);
        _computeParameters = model.parameters().ToList();
        _optimizer = optimizerFactory(_masters.Where(m => m.requires_grad).ToList());
        LossScale = Options.DynamicLossScaling ? Options.InitialScale : 1.0;
    }

    /// <summary>The settings.</summary>
    public MixedPrecisionOptions Options { get; }

    /// <summary>The loss scale the next step will use.</summary>
    public double LossScale { get; private set; }

    /// <summary>The fp32 master parameters, in the order of the model's <c>parameters()</c>.</summary>
    public IReadOnlyList<Parameter> MasterParameters => _masters;

    /// <summary>The optimizer over the master parameters (for learning-rate schedulers).</summary>
    public optim.Optimizer Optimizer => _optimizer;

    /// <summary>
    /// One training step: forward, backward, gradient unscaling and check, optimizer step (see the class remarks).
    /// </summary>
    /// <param name="input">The input batch, in any floating-point type (it is converted to the compute type).</param>
    /// <param name="lossFunction">Computes the loss from the model's output, which it receives in fp32.</param>
    /// <returns>The loss, whether the step was skipped, and the scale used.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException">The trainer was disposed.</exception>
    public MixedPrecisionStepResult Step(Tensor input, Func<Tensor, Tensor> lossFunction)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(lossFunction);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        CopyMastersToModel();
        _model.zero_grad();

        var output = _model.call(input.to(Options.ComputeType)).to(ScalarType.Float32);
        var loss = lossFunction(output);
        double scale = LossScale;
        (scale == 1.0 ? loss : loss * scale).backward();

        bool finite = CopyGradientsToMasters(scale);
        if (finite)
        {
            _optimizer.step();
        }

        UpdateScale(finite);
        return new MixedPrecisionStepResult(loss.to(ScalarType.Float64).item<double>(), !finite, scale);
    }

    /// <summary>
    /// Converts the model back to fp32 and loads the master weights into it, for evaluation or saving after
    /// training. The trainer must not be used afterwards (it is disposed).
    /// </summary>
    /// <returns>The fp32 model.</returns>
    public nn.Module<Tensor, Tensor> ToFullPrecision()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _model.to(ScalarType.Float32);
        using (no_grad())
        {
            foreach (var (parameter, master) in _model.parameters().Zip(_masters))
            {
                parameter.copy_(master);
            }
        }

        Dispose();
        return _model;
    }

    /// <summary>Disposes the optimizer and the master parameters (not the model).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _optimizer.Dispose();
        foreach (var master in _masters)
        {
            master.Dispose();
        }
    }

    private void CopyMastersToModel()
    {
        using var noGrad = no_grad();
        for (int i = 0; i < _masters.Count; i++)
        {
            _computeParameters[i].copy_(_masters[i]);
        }
    }

    private bool CopyGradientsToMasters(double scale)
    {
        using var noGrad = no_grad();
        _optimizer.zero_grad();
        Tensor? allFinite = null;
        for (int i = 0; i < _masters.Count; i++)
        {
            var grad = _computeParameters[i].grad;
            if (grad is null || grad.IsInvalid)
            {
                continue;
            }

            var masterGrad = grad.to(ScalarType.Float32);
            if (scale != 1.0)
            {
                masterGrad = masterGrad.div_(scale);
            }

            var finite = masterGrad.isfinite().all();
            allFinite = allFinite is null ? finite : allFinite.logical_and_(finite);
            // The master holds its own reference to the gradient; this wrapper dies with Step's dispose scope
            // (detached, one wrapper per parameter and step was left for the finalizer).
            _masters[i].grad = masterGrad;
        }

        return allFinite is null || allFinite.item<bool>();
    }

    private void UpdateScale(bool finite)
    {
        if (!Options.DynamicLossScaling)
        {
            return;
        }

        if (!finite)
        {
            LossScale *= Options.BackoffFactor;
            _goodSteps = 0;
        }
        else if (++_goodSteps >= Options.GrowthInterval)
        {
            LossScale *= Options.GrowthFactor;
            _goodSteps = 0;
        }
    }
}
