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
    /// <summary>bfloat16 compute without loss scaling (a static scale of 1): the choice on CPUs (bf16 has fp32's
    /// exponent range). No host synchronisation per step.</summary>
    public static MixedPrecisionOptions BFloat16 { get; } = new() { InitialScale = 1.0 };

    /// <summary>float16 compute with dynamic loss scaling: the choice on GPUs with fast fp16.</summary>
    public static MixedPrecisionOptions Float16 { get; } = new() { ComputeType = ScalarType.Float16, DynamicLossScaling = true };

    /// <summary>The compute type of the model's copy: <see cref="ScalarType.BFloat16"/> (default) or <see cref="ScalarType.Float16"/>.</summary>
    public ScalarType ComputeType { get; init; } = ScalarType.BFloat16;

    /// <summary>
    /// Whether the loss scale adapts: halved (and the step skipped) when a gradient overflows, doubled after
    /// <see cref="GrowthInterval"/> good steps in a row. This needs one read of an overflow flag from the device per
    /// step. When false the scale is static: it stays <see cref="InitialScale"/>, the gradients are not checked
    /// and no step is skipped (no host synchronisation at all, as PyTorch without a <c>GradScaler</c>); a
    /// non-finite gradient then reaches the optimizer. Default: false (right for bf16; set true for fp16, or use a
    /// static <see cref="InitialScale"/> known to be safe for the model).
    /// </summary>
    public bool DynamicLossScaling { get; init; }

    /// <summary>The first loss scale, and the scale of every step when <see cref="DynamicLossScaling"/> is false.
    /// Default: 65536 (2^16, PyTorch's <c>GradScaler</c> default); 1 means no scaling (the <see cref="BFloat16"/>
    /// preset).</summary>
    public double InitialScale { get; init; } = 65536.0;

    /// <summary>Factor applied to the scale after <see cref="GrowthInterval"/> good steps. Default: 2.</summary>
    public double GrowthFactor { get; init; } = 2.0;

    /// <summary>Factor applied to the scale after an overflow. Default: 0.5.</summary>
    public double BackoffFactor { get; init; } = 0.5;

    /// <summary>Good steps in a row before the scale grows. Default: 2000.</summary>
    public int GrowthInterval { get; init; } = 2000;

    /// <summary>
    /// True (default): master weights, master gradients and the compute model's parameters and gradients each live in
    /// one flat buffer with per-parameter views, so a step moves them with one copy kernel each way and checks all
    /// gradients at once. False: the earlier per-parameter copies (kept to compare against: tests, benchmarks).
    /// </summary>
    internal bool FlatBuffers { get; init; } = true;

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
/// converts the model itself to <see cref="MixedPrecisionOptions.ComputeType"/>. Master weights, master gradients,
/// the model's low-precision weights and its gradients each live in one flat buffer, every parameter being a view of
/// its slice (with the parameter's own strides: convert the model to channels_last <em>before</em> creating the
/// trainer; a later conversion is detected and the buffers are laid out again). Each step: one copy of all masters
/// into the compute model, one zeroing of all its gradients, forward and backward in low precision (the loss is
/// computed in fp32 from the output, multiplied by the loss scale; autograd accumulates the gradients straight into
/// the flat buffer), one copy of all gradients into the fp32 master gradients and one division by the scale; with
/// dynamic scaling one finiteness check of all gradients and one read of its flag (the step's only host
/// synchronisation), skipping the step on overflow; then the optimizer on the masters.
/// </para>
/// <para>
/// Buffers (BatchNorm running statistics) live in the compute model, in low precision. After training,
/// <see cref="ToFullPrecision"/> turns the model back into fp32 with the master weights. The model's Parameter
/// objects are replaced by the dtype conversion: optimizers and hooks must be created from
/// <see cref="MasterParameters"/> (the optimizer factory receives them) or after construction. A parameter that gets
/// no gradient in a step gets a zero gradient (the optimizer still steps it, e.g. momentum and weight decay apply).
/// </para>
/// </remarks>
public sealed class MixedPrecisionTrainer : IDisposable
{
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly List<Parameter> _masters;
    private readonly List<Parameter> _computeParameters;
    private readonly optim.Optimizer _optimizer;
    private MixedPrecisionBuffers? _buffers;
    private int _goodSteps;
    private bool _disposed;

    /// <summary>Creates the master weights, converts <paramref name="model"/> and creates the optimizer.</summary>
    /// <param name="model">An fp32 model, its parameters on one device. It is converted in place to the compute type.</param>
    /// <param name="optimizerFactory">Builds the optimizer over the fp32 master parameters, for example
    /// <c>ps =&gt; torch.optim.SGD(ps, 0.1, momentum: 0.9)</c>.</param>
    /// <param name="options">Settings; <see cref="MixedPrecisionOptions.BFloat16"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="optimizerFactory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it and its value).</exception>
    /// <exception cref="ArgumentException"><paramref name="model"/> has parameters that are not fp32, or parameters on
    /// more than one device.</exception>
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
        var named = model.named_parameters().ToList();
        var notFloat32 = named.FirstOrDefault(p => p.parameter.dtype != ScalarType.Float32);
        if (notFloat32.parameter is not null)
        {
            throw new ArgumentException(
                $"model must be fp32; parameter '{notFloat32.name}' has dtype {notFloat32.parameter.dtype}.", nameof(model));
        }

        var otherDevice = named.FirstOrDefault(p => p.parameter.device.ToString() != named[0].parameter.device.ToString());
        if (otherDevice.parameter is not null)
        {
            throw new ArgumentException(
                $"model's parameters must be on one device; '{named[0].name}' is on {named[0].parameter.device}, '{otherDevice.name}' on {otherDevice.parameter.device}.", nameof(model));
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
        if (Options.FlatBuffers)
        {
            _buffers = MixedPrecisionBuffers.Create(_masters, _masters, _computeParameters);
        }

        _optimizer = optimizerFactory(_masters.Where(m => m.requires_grad).ToList());
        LossScale = Options.InitialScale;
    }

    /// <summary>The settings.</summary>
    public MixedPrecisionOptions Options { get; }

    /// <summary>The loss scale the next step will use: <see cref="MixedPrecisionOptions.InitialScale"/> throughout
    /// with a static scale.</summary>
    public double LossScale { get; private set; }

    /// <summary>Steps skipped so far because a gradient was infinite or NaN (only counted with dynamic scaling).</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>The fp32 master parameters, in the order of the model's <c>parameters()</c>.</summary>
    public IReadOnlyList<Parameter> MasterParameters => _masters;

    /// <summary>The optimizer over the master parameters (for learning-rate schedulers).</summary>
    public optim.Optimizer Optimizer => _optimizer;

    /// <summary>Native tensor operations the trainer itself issued (copies, zeroing, unscaling, checks: not the
    /// forward, backward or optimizer), counted at each call site; for tests and benchmarks.</summary>
    internal long BookkeepingOperations { get; private set; }

    /// <summary>How many times the flat buffers were laid out again because a parameter or gradient was replaced.</summary>
    internal int Relayouts { get; private set; }

    /// <summary>Host reads of device values the trainer itself made (overflow flags, the loss of <see cref="Step"/>).</summary>
    internal long HostReads { get; private set; }

    /// <summary>
    /// One training step: forward, backward, gradient unscaling and check, optimizer step (see the class remarks),
    /// then one read of the loss to the host.
    /// </summary>
    /// <param name="input">The input batch, in any floating-point type (it is converted to the compute type).</param>
    /// <param name="lossFunction">Computes the loss from the model's output, which it receives in fp32.</param>
    /// <returns>The loss, whether the step was skipped, and the scale used.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException">The trainer was disposed.</exception>
    public MixedPrecisionStepResult Step(Tensor input, Func<Tensor, Tensor> lossFunction)
    {
        using var scope = NewDisposeScope();
        double scale = LossScale;
        long skippedBefore = SkippedSteps;
        var loss = StepDeferred(input, lossFunction);
        HostReads++;
        return new MixedPrecisionStepResult(loss.to(ScalarType.Float64).item<double>(), SkippedSteps != skippedBefore, scale);
    }

    /// <summary>
    /// The same step as <see cref="Step"/> without reading the loss: with a static loss scale
    /// (<see cref="MixedPrecisionOptions.DynamicLossScaling"/> false) nothing is read back from the device, so a GPU
    /// runs ahead of the host; with dynamic scaling the overflow flag is the one value read.
    /// </summary>
    /// <param name="input">The input batch, in any floating-point type (it is converted to the compute type).</param>
    /// <param name="lossFunction">Computes the loss from the model's output, which it receives in fp32.</param>
    /// <returns>The unscaled fp32 loss, a detached scalar on the model's device, in the caller's dispose scope.
    /// Whether the step was skipped: <see cref="SkippedSteps"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException">The trainer was disposed.</exception>
    public Tensor StepDeferred(Tensor input, Func<Tensor, Tensor> lossFunction)
    {
        OneDnnGuard.EnsureApplied();
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(lossFunction);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        double scale = LossScale;
        PrepareModel();

        var output = _model.call(input.to(Options.ComputeType)).to(ScalarType.Float32);
        var loss = lossFunction(output);
        (scale == 1.0 ? loss : loss * scale).backward();

        bool finite = _buffers is null ? CopyGradientsPerParameter(scale) : CopyGradientsFlat(scale);
        if (finite)
        {
            _optimizer.step();
        }
        else
        {
            SkippedSteps++;
        }

        UpdateScale(finite);
        return loss.detach().MoveToOuterDisposeScope();
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

    /// <summary>Disposes the optimizer, the master parameters and the flat buffers (not the model).</summary>
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

        _buffers?.Dispose();
    }

    /// <summary>Masters into the compute model, its gradients cleared.</summary>
    private void PrepareModel()
    {
        using var noGrad = no_grad();
        if (_buffers is null)
        {
            for (int i = 0; i < _masters.Count; i++)
            {
                _computeParameters[i].copy_(_masters[i]);
                BookkeepingOperations++;
            }

            _model.zero_grad();
            return;
        }

        if (!_buffers.IsLinked(_masters, _computeParameters))
        {
            // Something replaced a parameter's storage or gradient (model.zero_grad(), ToChannelsLast, ...): lay out again.
            var stale = _buffers;
            _buffers = MixedPrecisionBuffers.Create(_masters, _masters, _computeParameters);
            stale.Dispose();
            Relayouts++;
        }

        _buffers.Compute.copy_(_buffers.Masters);
        _buffers.ComputeGradients.zero_();
        BookkeepingOperations += 2;
    }

    /// <summary>All gradients at once: one converting copy, one division, with dynamic scaling one check and one read.</summary>
    private bool CopyGradientsFlat(double scale)
    {
        using var noGrad = no_grad();
        var buffers = _buffers!;
        buffers.MasterGradients.copy_(buffers.ComputeGradients);
        BookkeepingOperations++;
        if (scale != 1.0)
        {
            buffers.MasterGradients.div_(scale);
            BookkeepingOperations++;
        }

        if (!Options.DynamicLossScaling)
        {
            return true;
        }

        using var finite = buffers.MasterGradients.isfinite();
        using var all = finite.all();
        BookkeepingOperations += 2;
        HostReads++;
        return all.item<bool>();
    }

    /// <summary>The earlier per-parameter path (<see cref="MixedPrecisionOptions.FlatBuffers"/> false), kept to compare.</summary>
    private bool CopyGradientsPerParameter(double scale)
    {
        using var noGrad = no_grad();
        foreach (var master in _masters)
        {
            using var grad = master.grad;
            BookkeepingOperations += grad is null ? 0 : 1;   // TorchSharp's optimizer zeroes existing gradients in place
        }

        _optimizer.zero_grad();
        Tensor? allFinite = null;
        for (int i = 0; i < _masters.Count; i++)
        {
            using var grad = _computeParameters[i].grad;
            if (grad is null || grad.IsInvalid)
            {
                continue;
            }

            using var masterGrad = grad.to(ScalarType.Float32);
            BookkeepingOperations++;
            if (scale != 1.0)
            {
                masterGrad.div_(scale);
                BookkeepingOperations++;
            }

            var finite = masterGrad.isfinite().all();
            BookkeepingOperations += 2;
            if (allFinite is null)
            {
                allFinite = finite;
            }
            else
            {
                allFinite.logical_and_(finite);
                BookkeepingOperations++;
            }

            _masters[i].grad = masterGrad;
        }

        HostReads++;
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
