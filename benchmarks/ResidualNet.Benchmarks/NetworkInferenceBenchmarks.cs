using BenchmarkDotNet.Attributes;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Whole-network inference (batch forward under no_grad) of resnet18/resnet50 at 224x224: TorchVision baseline,
/// the library's default path, channels_last, BatchNorm folding, and the full fast path (folding +
/// channels_last + bf16).
/// </summary>
public class NetworkInferenceBenchmarks : BenchmarkBase
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private Tensor _input = null!;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.Names))]
    public string Network { get; set; } = "resnet50";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    /// <summary>Builds the model and input; <paramref name="options"/> null for the plain fp32 path.</summary>
    protected void Setup(nn.Module<Tensor, Tensor> model, InferenceOptions? options)
    {
        _model = model;
        _model.eval();
        var images = RandomImages(BatchSize, 3, Networks.InputSize(Network));
        if (options is null)
        {
            _input = images;
        }
        else
        {
            _model.OptimizeForInference(options);
            _input = InferenceOptimizer.PrepareInput(images, options).DetachFromDisposeScope();
            images.Dispose();
        }
    }

    /// <summary>Setup of the baseline.</summary>
    [GlobalSetup(Target = nameof(TorchVisionBaseline))]
    public void SetupBaseline() => Setup(Networks.TorchVision(Network, Device), null);

    /// <summary>Setup of the library's default path.</summary>
    [GlobalSetup(Target = nameof(LibraryDefault))]
    public void SetupDefault() => Setup(Networks.Library(Network, Device), null);

    /// <summary>Setup of channels_last (fp32, no folding).</summary>
    [GlobalSetup(Target = nameof(LibraryChannelsLast))]
    public void SetupChannelsLast() => Setup(
        Networks.Library(Network, Device),
        new InferenceOptions { FoldBatchNorm = false, DType = ScalarType.Float32 });

    /// <summary>Setup of folding alone (fp32, default layout).</summary>
    [GlobalSetup(Target = nameof(LibraryFolded))]
    public void SetupFolded() => Setup(
        Networks.Library(Network, Device),
        new InferenceOptions { ChannelsLast = false, DType = ScalarType.Float32 });

    /// <summary>Setup of the fast path (fold + channels_last + bf16).</summary>
    [GlobalSetup(Target = nameof(LibraryFoldedChannelsLastBFloat16))]
    public void SetupFast() => Setup(Networks.Library(Network, Device), InferenceOptions.Fast);

    /// <summary>TorchVision, fp32, default layout.</summary>
    [Benchmark(Baseline = true)]
    public long TorchVisionBaseline() => Run();

    /// <summary>The library's default configuration.</summary>
    [Benchmark]
    public long LibraryDefault() => Run();

    /// <summary>channels_last, fp32.</summary>
    [Benchmark]
    public long LibraryChannelsLast() => Run();

    /// <summary>BatchNorm folded, fp32, default layout.</summary>
    [Benchmark]
    public long LibraryFolded() => Run();

    /// <summary>BatchNorm folded, channels_last, bf16.</summary>
    [Benchmark]
    public long LibraryFoldedChannelsLastBFloat16() => Run();

    /// <summary>One batch forward.</summary>
    protected long Run()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = _model.call(_input);
        Synchronize();
        return output.shape[1];
    }

    /// <summary>Releases the model and input.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _input?.Dispose();
    }
}

/// <summary>
/// CIFAR networks (resnet20/56/110 and their plain twins, 32x32) in inference: the library's default
/// configuration is the baseline of its optimized paths (TorchVision has no CIFAR ResNets).
/// </summary>
public class CifarInferenceBenchmarks : BenchmarkBase
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private Tensor _input = null!;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.CifarNames))]
    public string Network { get; set; } = "resnet56";

    /// <summary>The batch size.</summary>
    [Params(128)]
    public int BatchSize { get; set; } = 128;

    private void Setup(InferenceOptions? options)
    {
        _model = Networks.Library(Network, Device);
        _model.eval();
        var images = RandomImages(BatchSize, 3, Networks.InputSize(Network));
        if (options is null)
        {
            _input = images;
            return;
        }

        _model.OptimizeForInference(options);
        _input = InferenceOptimizer.PrepareInput(images, options).DetachFromDisposeScope();
        images.Dispose();
    }

    /// <summary>Setup of the default path.</summary>
    [GlobalSetup(Target = nameof(LibraryDefault))]
    public void SetupDefault() => Setup(null);

    /// <summary>Setup of folding + channels_last (fp32).</summary>
    [GlobalSetup(Target = nameof(LibraryFoldedChannelsLast))]
    public void SetupFoldedChannelsLast() => Setup(InferenceOptions.Fast with { DType = ScalarType.Float32 });

    /// <summary>Setup of the fast path.</summary>
    [GlobalSetup(Target = nameof(LibraryFoldedChannelsLastBFloat16))]
    public void SetupFast() => Setup(InferenceOptions.Fast);

    /// <summary>The library's default configuration (baseline).</summary>
    [Benchmark(Baseline = true)]
    public long LibraryDefault() => Run();

    /// <summary>BatchNorm folded, channels_last, fp32.</summary>
    [Benchmark]
    public long LibraryFoldedChannelsLast() => Run();

    /// <summary>BatchNorm folded, channels_last, bf16.</summary>
    [Benchmark]
    public long LibraryFoldedChannelsLastBFloat16() => Run();

    private long Run()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = _model.call(_input);
        Synchronize();
        return output.shape[1];
    }

    /// <summary>Releases the model and input.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _model?.Dispose();
        _input?.Dispose();
    }
}
