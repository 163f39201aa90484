using BenchmarkDotNet.Attributes;
using ResidualNet.Performance;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Single residual blocks (basic and bottleneck, identity shortcut) at typical ResNet shapes: inference
/// (forward under no_grad) and training step (forward, backward, SGD), TorchVision's block against the
/// library's, plus the library's block with channels_last and (inference) with its BatchNorms folded.
/// </summary>
public class BlockBenchmarks : BenchmarkBase
{
    private nn.Module<Tensor, Tensor> _block = null!;
    private optim.Optimizer _optimizer = null!;
    private Tensor _input = null!;

    /// <summary>Block kind, input channels and spatial size.</summary>
    [ParamsSource(typeof(Networks), nameof(Networks.BlockNames))]
    public string Block { get; set; } = "basic-64x56";

    /// <summary>The batch size.</summary>
    [Params(8)]
    public int BatchSize { get; set; } = 8;

    private void Setup(nn.Module<Tensor, Tensor> block, bool channelsLast)
    {
        _block = block;
        var (channels, size) = Networks.BlockInput(Block);
        _input = RandomImages(BatchSize, channels, size);
        if (channelsLast)
        {
            _block.ToChannelsLast();
            var converted = _input.ToChannelsLast().DetachFromDisposeScope();
            _input.Dispose();
            _input = converted;
        }

        _optimizer = optim.SGD(_block.parameters(), 0.01, momentum: 0.9);
    }

    /// <summary>Setup of the TorchVision block.</summary>
    [GlobalSetup(Targets = new[] { nameof(TorchVisionInference), nameof(TorchVisionTrainingStep) })]
    public void SetupTorchVision() => Setup(Networks.TorchVisionBlock(Block, Device), channelsLast: false);

    /// <summary>Setup of the library's block.</summary>
    [GlobalSetup(Targets = new[] { nameof(LibraryInference), nameof(LibraryTrainingStep) })]
    public void SetupLibrary() => Setup(Networks.LibraryBlock(Block, Device), channelsLast: false);

    /// <summary>Setup of the library's block with channels_last.</summary>
    [GlobalSetup(Targets = new[] { nameof(LibraryChannelsLastInference), nameof(LibraryChannelsLastTrainingStep) })]
    public void SetupLibraryChannelsLast() => Setup(Networks.LibraryBlock(Block, Device), channelsLast: true);

    /// <summary>Setup of the library's block with its BatchNorms folded (inference only).</summary>
    [GlobalSetup(Target = nameof(LibraryFoldedInference))]
    public void SetupLibraryFolded()
    {
        var block = Networks.LibraryBlock(Block, Device);
        block.eval();
        block.FoldBatchNorm();
        Setup(block, channelsLast: false);
    }

    /// <summary>TorchVision block, inference.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Inference")]
    public long TorchVisionInference() => Inference();

    /// <summary>Library block, inference.</summary>
    [Benchmark]
    [BenchmarkCategory("Inference")]
    public long LibraryInference() => Inference();

    /// <summary>Library block, channels_last, inference.</summary>
    [Benchmark]
    [BenchmarkCategory("Inference")]
    public long LibraryChannelsLastInference() => Inference();

    /// <summary>Library block, BatchNorms folded into the convolutions, inference.</summary>
    [Benchmark]
    [BenchmarkCategory("Inference")]
    public long LibraryFoldedInference() => Inference();

    /// <summary>TorchVision block, training step.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Training")]
    public float TorchVisionTrainingStep() => Training();

    /// <summary>Library block, training step.</summary>
    [Benchmark]
    [BenchmarkCategory("Training")]
    public float LibraryTrainingStep() => Training();

    /// <summary>Library block, channels_last, training step.</summary>
    [Benchmark]
    [BenchmarkCategory("Training")]
    public float LibraryChannelsLastTrainingStep() => Training();

    private long Inference()
    {
        _block.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = _block.call(_input);
        Synchronize();
        return output.shape[1];
    }

    private float Training()
    {
        _block.train();
        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        var loss = _block.call(_input).square().mean();
        loss.backward();
        _optimizer.step();
        Synchronize();
        return loss.item<float>();
    }

    /// <summary>Releases the block, optimizer and input.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer?.Dispose();
        _block?.Dispose();
        _input?.Dispose();
    }
}
