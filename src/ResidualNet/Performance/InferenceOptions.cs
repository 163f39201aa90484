using System;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Performance;

/// <summary>
/// What <see cref="InferenceOptimizer.OptimizeForInference{TModule}"/> applies to a model. Immutable: make
/// variants with <c>with</c>.
/// </summary>
public sealed record InferenceOptions
{
    /// <summary>The fast path: folding, channels_last and bfloat16 (all on).</summary>
    public static InferenceOptions Fast { get; } = new();

    /// <summary>Fold every convolution/BatchNorm pair (<see cref="BatchNormFolding"/>). Default: true.</summary>
    public bool FoldBatchNorm { get; init; } = true;

    /// <summary>Lay 4-D weights out channels_last (<see cref="ChannelsLast"/>). Default: true.</summary>
    public bool ChannelsLast { get; init; } = true;

    /// <summary>
    /// The floating-point type of weights and inputs. Default: <see cref="ScalarType.BFloat16"/> (see
    /// <see cref="LowPrecision"/> for CPUs without bf16 instructions); <see cref="ScalarType.Float32"/> keeps
    /// full precision.
    /// </summary>
    public ScalarType DType { get; init; } = ScalarType.BFloat16;

    /// <summary>Checks every value; every method that takes these options calls it first.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the exception names the property and the message gives the value.</exception>
    public void Validate()
    {
        if (DType is not (ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float32 or ScalarType.Float64))
        {
            throw new ArgumentOutOfRangeException(nameof(DType), DType, $"DType must be a floating-point type; got {DType}.");
        }
    }
}

/// <summary>
/// One call to turn a trained model into its fastest inference form, and the matching input conversion.
/// </summary>
public static class InferenceOptimizer
{
    /// <summary>
    /// Puts <paramref name="model"/> in evaluation mode and applies <paramref name="options"/> in the right order:
    /// fold first (in fp32, for accuracy), then channels_last, then the dtype. One-way: the model is for inference
    /// only afterwards.
    /// </summary>
    /// <typeparam name="TModule">The model's type, returned for chaining.</typeparam>
    /// <param name="model">A trained model.</param>
    /// <param name="options">What to apply; <see cref="InferenceOptions.Fast"/> when null.</param>
    /// <returns><paramref name="model"/> itself.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The dtype in <paramref name="options"/> is not a floating-point type.</exception>
    public static TModule OptimizeForInference<TModule>(this TModule model, InferenceOptions? options = null)
        where TModule : nn.Module
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= InferenceOptions.Fast;
        options.Validate();

        model.eval();
        if (options.FoldBatchNorm)
        {
            model.FoldBatchNorms();
        }

        if (options.DType != ScalarType.Float32)
        {
            model.to(options.DType);
        }

        if (options.ChannelsLast)
        {
            model.ToChannelsLast();
        }

        return model;
    }

    /// <summary>
    /// Converts an input batch to what a model prepared with the same <paramref name="options"/> expects: its dtype,
    /// and channels_last when the options ask for it and the input is 4-D.
    /// </summary>
    /// <param name="input">The input batch (N, C, H, W).</param>
    /// <param name="options">The options the model was prepared with; <see cref="InferenceOptions.Fast"/> when null.</param>
    /// <returns>A new tensor (the caller disposes it).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="input"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The dtype in <paramref name="options"/> is not a floating-point type.</exception>
    public static Tensor PrepareInput(Tensor input, InferenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        options ??= InferenceOptions.Fast;
        options.Validate();
        using var scope = NewDisposeScope();
        var result = input.dtype == options.DType ? input.alias() : input.to(options.DType);
        if (options.ChannelsLast && result.dim() == 4)
        {
            result = result.ToChannelsLast();
        }

        return result.MoveToOuterDisposeScope();
    }
}
