using BenchmarkDotNet.Attributes;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Whole-network inference (batch forward under no_grad): TorchVision baseline, the library's default path,
/// channels_last, and the full fast path (BatchNorm folding + channels_last + bf16).
/// </summary>
public class NetworkInferenceBenchmarks : BenchmarkBase
{
    private nn.Module<Tensor, Tensor> _model = null!;
    private Tensor _input = null!;

    /// <summary>The network.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.Names))]
    public string Network { get; set; } = "resnet50";

    /// <summary>The batch size.</summary>
    [Params(1, 8)]
    public int BatchSize { get; set; } = 8;

    private void Setup(nn.Module<Tensor, Tensor> model, InferenceOptions? options)
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
